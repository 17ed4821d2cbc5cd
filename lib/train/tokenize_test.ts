import assert from "node:assert/strict";
import { writeDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { tokenizeToShard } from "./tokenize.ts";
import { byteLevelTokenizerJson, bytesToUnicode, tokenizerFromJson } from "./tokenizer.ts";

Deno.test("tokenizeToShard() stops, naming the share lost, when the vocabulary cannot write the text", async () => {
  const dir = await Deno.makeTempDir();
  const docs = Array.from(
    { length: 30 },
    (_, i) => ({ id: `${i}`, text: `한국어 문장 ${i}`, meta: {} }),
  );
  await writeDocs(`${dir}/ko.jsonl`, docs);
  // a byte-level vocabulary without the bytes ≥ 0x80: every Hangul syllable is dropped
  const json = byteLevelTokenizerJson() as { model: { vocab: Record<string, number> } };
  const b2u = bytesToUnicode();
  for (let b = 0x80; b < 256; b++) delete json.model.vocab[b2u[b]];
  const lossy = tokenizerFromJson(json as unknown as Record<string, unknown>, "lossy.json");
  await assert.rejects(
    () => tokenizeToShard(lossy, [`${dir}/ko.jsonl`], `${dir}/ko.tok`, { source: "lossy.json" }),
    (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(
        err.message,
        /^lossy\.json: \d+\.\d% of the characters .* are lost in tokenizing/,
      );
      return true;
    },
  );
  await assert.rejects(() => Deno.stat(`${dir}/ko.tok`), Deno.errors.NotFound);
  // the whole byte-level vocabulary loses nothing
  const full = tokenizerFromJson(byteLevelTokenizerJson(), "full.json");
  const r = await tokenizeToShard(full, [`${dir}/ko.jsonl`], `${dir}/ko.tok`);
  assert.equal(r.docs, 30);
});
