import assert from "node:assert/strict";
import {
  byteLevelTokenizerJson,
  bytesToUnicode,
  learnByteMerges,
  tokenizerFromJson,
} from "./tokenizer.ts";

Deno.test("tokenizerFromJson() encodes a byte-level tokenizer.json to UTF-8 bytes and back", () => {
  const t = tokenizerFromJson(byteLevelTokenizerJson());
  const text = "Hello 세계!";
  const ids = t.encode(text);
  assert.deepEqual(ids, [...new TextEncoder().encode(text)]);
  assert.equal(t.decode(ids), text);
  assert.equal(t.vocabSize, 260);
  assert.equal(t.bosId, 256);
  assert.equal(t.eosId, 257);
  assert.equal(new Set(bytesToUnicode()).size, 256);
});

Deno.test("learnByteMerges() merges frequent pairs and the tokenizer uses them", () => {
  const merges = learnByteMerges(["세계 세계 세계 hello hello"], 6);
  assert.ok(merges.length === 6);
  const t = tokenizerFromJson(byteLevelTokenizerJson(merges));
  assert.equal(t.vocabSize, 266);
  const ids = t.encode(" 세계");
  assert.ok(ids.length < 7, `merged: ${ids}`);
  assert.ok(ids.some((i) => i >= 260));
  assert.equal(t.decode(ids), " 세계");
});
