import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32, zeros } from "../gpu/tensor.ts";
import { adamw, clipByGlobalNorm } from "./optim.ts";
import { adamwRef, clipFactorRef } from "./ref/optim.ts";
import { assertClose, randn } from "./testing.ts";

gpuTest("clipByGlobalNorm() and adamw() match the reference over three steps", async () => {
  const rt = await getRuntime();
  const sizes = [5000, 37, 4097 * 4]; // several partial blocks, ragged tails
  const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const ps = sizes.map((n, i) => randn(n, i + 1));
  const refP = ps.map((p) => Float64Array.from(p));
  const refM = sizes.map((n) => new Float64Array(n)), refV = sizes.map((n) => new Float64Array(n));
  const tp = ps.map((p, i) => fromArray(rt, p, [sizes[i]]));
  const tm = sizes.map((n) => zeros(rt, [n])), tv = sizes.map((n) => zeros(rt, [n]));
  for (let step = 1; step <= 3; step++) {
    const gs = sizes.map((n, i) => randn(n, 100 * step + i, -0.1, 0.1));
    const tg = gs.map((g, i) => fromArray(rt, g, [sizes[i]]));
    const maxNorm = step === 2 ? 1e9 : 0.5; // step 2: no clipping
    const clip = clipByGlobalNorm(rt, tg, maxNorm);
    const [norm, factor] = clipFactorRef(gs, maxNorm);
    // f32 sum of squares over ~21k terms in blocks: 1e-5 relative
    assertClose("norm, factor", await rt.readF32(clip, 2), [norm, factor], { rtol: 1e-5 });
    if (step !== 2) assert.ok(factor < 1, "clipping is active");
    for (let i = 0; i < sizes.length; i++) {
      adamw(rt, tp[i], tg[i], tm[i], tv[i], cfg, step, clip);
      adamwRef(refP[i], gs[i], refM[i], refV[i], cfg, step, factor);
    }
  }
  // elementwise f32 arithmetic; the update divides by sqrt(v): 1e-5 relative + 1e-6
  for (let i = 0; i < sizes.length; i++) {
    assertClose(`param ${i}`, await toF32(rt, tp[i]), refP[i], { atol: 1e-6, rtol: 1e-5 });
    assertClose(`m ${i}`, await toF32(rt, tm[i]), refM[i], { atol: 1e-7, rtol: 1e-4 });
  }
  assert.throws(() => adamw(rt, tp[0], tp[1], tm[0], tv[0], cfg, 1), /expected shape/);
});
