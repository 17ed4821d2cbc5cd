import assert from "node:assert/strict";
import { writeDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { readShard } from "./shards.ts";
import { tokenizeToShard } from "./tokenize.ts";
import { byteLevelTokenizerJson, bytesToUnicode, tokenizerFromJson } from "./tokenizer.ts";
import { ROOT, runTask, taskStderrLines } from "../../tasks/_testing.ts";

Deno.test("deno task train tokenize --world 3: ranks, a rerun skipping finished ones, the join", async () => {
  await Deno.mkdir(`${ROOT}/data/cache`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}/data/cache`, prefix: "tokenize-test-" });
  const rel = dir.slice(ROOT.length + 1);
  try {
    await Deno.mkdir(`${dir}/in`);
    for (let f = 0; f < 4; f++) {
      await writeDocs(
        `${dir}/in/p${f}.jsonl`,
        [0, 1, 2].map((i) => ({ id: `${f}-${i}`, text: `문서 ${f}-${i} text`, meta: {} })),
      );
    }
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));
    const base = ["train", "tokenize", "--tokenizer", `${rel}/tokenizer.json`, "-q"];
    const one = await runTask([...base, "--output", `${rel}/one.tok`, `${rel}/in`]);
    assert.equal(one.code, 0, one.stderr);
    // rank 1 alone first, then --world 3 runs ranks 0 and 2 and joins
    const r1 = await runTask([...base, "--output", `${rel}/s.tok`, "--shard", "1/3", `${rel}/in`]);
    assert.equal(r1.code, 0, r1.stderr);
    const all = await runTask([...base, "--output", `${rel}/s.tok`, "--world", "3", `${rel}/in`]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(taskStderrLines(all.stderr), []);
    assert.doesNotMatch(all.stdout, /part-00001/); // finished before: not redone
    assert.match(all.stdout, /s\.tok: 12 documents, \d+ tokens from 3 ranks/);
    const a = await readShard(`${dir}/one.tok`), b = await readShard(`${dir}/s.tok`);
    // rank r holds files r, r+3: the same documents, grouped by rank
    const docs = (s: typeof a) =>
      [...Array(s.docStarts.length - 1).keys()].map((d) =>
        [...s.tokens.subarray(s.docStarts[d], s.docStarts[d + 1])].join(",")
      );
    assert.deepEqual(docs(b).sort(), docs(a).sort());
    assert.equal(b.eosId, a.eosId);
    const bad = await runTask([
      "train",
      "tokenize",
      "--merge",
      "--output",
      `${rel}/x.tok`,
      "--world",
      "2",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /x\.tok: tokenize ranks 0, 1 of 2 have not finished/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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
