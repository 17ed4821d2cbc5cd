import assert from "node:assert/strict";
import { mergeRuns, RunWriter, sortRecords } from "./sorted_runs.ts";
import { mulberry32 } from "./pii_eval.ts";

Deno.test("sortRecords() orders by all four words", () => {
  const r = sortRecords(new Uint32Array([2, 0, 0, 1, 1, 5, 0, 0, 1, 5, 0, 0xffffffff, 1, 4, 9, 9]));
  assert.deepEqual([...r], [1, 4, 9, 9, 1, 5, 0, 0, 1, 5, 0, 0xffffffff, 2, 0, 0, 1]);
});

Deno.test("mergeRuns() streams many spilled runs in sorted order", async () => {
  const dir = await Deno.makeTempDir();
  const rnd = mulberry32(5);
  const all: number[][] = [];
  const paths: string[] = [];
  for (let shard = 0; shard < 3; shard++) {
    const w = new RunWriter(dir, `s${shard}`, 1000); // small: forces several spills
    for (let seq = 0; seq < 3500; seq++) {
      const rec = [Math.floor(rnd() * 50), (rnd() * 2 ** 32) >>> 0, shard, seq];
      all.push(rec);
      await w.add(rec[0], rec[1], rec[2], rec[3]);
    }
    paths.push(...await w.close());
  }
  assert.ok(paths.length >= 12);
  const got: number[][] = [];
  const n = await mergeRuns(paths, (a, b, c, d) => got.push([a, b, c, d]));
  assert.equal(n, all.length);
  all.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || x[3] - y[3]);
  assert.deepEqual(got, all);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mergeRuns() refuses a truncated run file with its path", async () => {
  const dir = await Deno.makeTempDir();
  const w = new RunWriter(dir, "t");
  for (let i = 0; i < 10; i++) await w.add(i, i, 0, i);
  const [path] = await w.close();
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 5));
  await assert.rejects(() => mergeRuns([path], () => {}), new RegExp("not a complete"));
  await Deno.remove(dir, { recursive: true });
});
