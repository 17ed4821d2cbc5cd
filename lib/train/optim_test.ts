import assert from "node:assert/strict";
import { AdamW, clipGradNorm, lrAt, THUNDER_ADAMW } from "./optim.ts";

Deno.test("lrAt() warms up linearly then decays by cosine to 10% of peak", () => {
  assert.equal(lrAt(0, 1, 10, 100), 0.1);
  assert.equal(lrAt(9, 1, 10, 100), 1);
  assert.ok(Math.abs(lrAt(10, 1, 10, 100) - 1) < 1e-12);
  assert.ok(Math.abs(lrAt(55, 1, 10, 100) - 0.55) < 1e-12); // half-way: (1 + 0.1) / 2
  assert.ok(Math.abs(lrAt(100, 1, 10, 100) - 0.1) < 1e-12);
  for (let s = 10; s < 99; s++) assert.ok(lrAt(s + 1, 1, 10, 100) <= lrAt(s, 1, 10, 100));
});

Deno.test("clipGradNorm() rescales to the maximum norm and reports the norm before", () => {
  const g = new Map([["a", new Float32Array([3, 4])]]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(Math.hypot(...g.get("a")!) - 1) < 1e-5);
  const small = new Map([["a", new Float32Array([0.3, 0.4])]]);
  clipGradNorm(small, 1);
  assert.deepEqual([...small.get("a")!], [0.30000001192092896, 0.4000000059604645]);
});

Deno.test("AdamW.step() matches a hand computation with Thunder-LLM's defaults", () => {
  assert.deepEqual(THUNDER_ADAMW, { beta1: 0.9, beta2: 0.95, eps: 1e-5, weightDecay: 0.1 });
  const p = new Map([["w", new Float32Array([1])], ["model.norm.weight", new Float32Array([1])]]);
  const g = new Map([["w", new Float32Array([0.5])], [
    "model.norm.weight",
    new Float32Array([0.5]),
  ]]);
  const opt = new AdamW(THUNDER_ADAMW, p);
  opt.step(p, g, 0.01);
  // first step: m̂ = g, v̂ = g², update = g/(|g| + eps) ≈ 1; decay 0.1·w for matrices only
  const upd = 0.5 / (0.5 + 1e-5);
  assert.ok(Math.abs(p.get("w")![0] - (1 - 0.01 * (upd + 0.1))) < 1e-7);
  assert.ok(Math.abs(p.get("model.norm.weight")![0] - (1 - 0.01 * upd)) < 1e-7);
});
