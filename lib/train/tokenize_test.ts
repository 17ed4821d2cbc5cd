import assert from "node:assert/strict";
import { writeDocs } from "../io/jsonl.ts";
import { readShard } from "./shards.ts";
import { byteLevelTokenizerJson } from "./tokenizer.ts";
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
