import assert from "node:assert/strict";
import { getRuntime } from "../gpu/runtime.ts";
import { gpuTest } from "../gpu/testing.ts";
import { free, fromArray, toF32 } from "../gpu/tensor.ts";
import { rowStatsRef } from "./ref/row_stats.ts";
import { rowStats } from "./row_stats.ts";
import { assertClose, randn } from "./testing.ts";

gpuTest("rowStats() sums and maxes rows alike with barriers and with subgroups", async () => {
  const rt = await getRuntime();
  const variants = rt.has("subgroups") ? ["v1", "subgroups"] as const : ["v1"] as const;
  if (variants.length === 1) console.warn("\n!!! subgroups variant SKIPPED: not granted\n");
  const rows = 5, n = 1000; // not a multiple of 256: idle invocations hold 0 and -3e38
  const data = randn(rows * n, 11);
  const ref = rowStatsRef(data, rows, n);
  const x = fromArray(rt, data, [rows, n]);
  for (const v of variants) {
    const out = rowStats(rt, x, v);
    const got = await toF32(rt, out);
    const even = (a: Float32Array) => a.filter((_, i) => i % 2 === 0);
    const odd = (a: Float32Array) => a.filter((_, i) => i % 2 === 1);
    // n values in [-1, 1] summed in f32 in any order: within n · 2^-24 · n of the exact sum
    assertClose(`${v} sums`, even(got), even(ref), { atol: n * n * 2 ** -24 });
    assert.deepEqual(odd(got), odd(ref), `${v} maxima`);
    free(rt, out);
  }
  free(rt, x);
});
