/**
 * A short fuzz pass, so CI keeps the harness honest: every format's example is accepted as it is
 * (a refusal of a mutant then means something), and one mutant per format is refused cleanly —
 * no stack trace, no hang, no OOM. `deno task fuzz all --cases 200` is the long run.
 */

import assert from "node:assert/strict";
import { mulberry32 } from "../quality/classifier/prng.ts";
import { FORMATS } from "./formats.ts";
import { mutate } from "./mutate.ts";
import { buildExample, classify, runCase } from "./run.ts";

Deno.test("mutate() is reproducible from its seed", async () => {
  const src = new TextEncoder().encode('{"a": 1, "b": [1, 2, {"c": "x"}]}');
  for (const shape of ["json", "binary", "yaml", "text", "html"] as const) {
    const a = await mutate(shape, src, mulberry32(5));
    const b = await mutate(shape, src, mulberry32(5));
    assert.deepEqual(a, b);
  }
});

Deno.test("classify() tells a clean refusal from a stack trace, a hang and OOM", () => {
  assert.equal(
    classify(2, 'error: x.yaml: field "a": expected a number\n', false).outcome,
    "clean",
  );
  assert.equal(
    classify(1, "TypeError: x is undefined\n    at f (file:///a.ts:1:2)\n", false).outcome,
    "stack",
  );
  assert.equal(classify(null, "", true).outcome, "hang");
  assert.equal(
    classify(
      null,
      "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
      false,
    )
      .outcome,
    "oom",
  );
  assert.equal(classify(0, "", false).outcome, "accepted");
});

Deno.test("deno task fuzz's formats: each example is accepted and a mutant of it refused cleanly", async () => {
  const base = `runs/test-tmp/fuzz-${crypto.randomUUID().slice(0, 8)}`;
  const o = { cases: 1, seed: 3, timeoutMs: 60_000, jobs: 1, base, heapMb: 1024 };
  try {
    await Promise.all([0, 1].map(async (half) => {
      for (const f of FORMATS.filter((_, i) => i % 2 === half)) {
        const fo = { ...o, base: `${base}/${f.name.replace(/[^\w.-]+/g, "_")}` };
        const example = await buildExample(f, fo.base);
        const valid = await runCase(f, example, 0, fo, false);
        assert.equal(valid.outcome, "accepted", `${f.name}: the example itself: ${valid.line}`);
        const r = await runCase(f, example, 1, fo);
        assert.ok(
          ["clean", "accepted"].includes(r.outcome),
          `${f.name} #1 ${r.outcome}: ${r.what} → ${r.line} (${r.dir})`,
        );
      }
    }));
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
});
