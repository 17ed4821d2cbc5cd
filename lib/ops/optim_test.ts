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
  const clipBuf = rt.buffer(8); // reused every step
  for (let step = 1; step <= 3; step++) {
    const gs = sizes.map((n, i) => randn(n, 100 * step + i, -0.1, 0.1));
    const tg = gs.map((g, i) => fromArray(rt, g, [sizes[i]]));
    const maxNorm = step === 2 ? 1e9 : 0.5; // step 2: no clipping
    const clip = clipByGlobalNorm(rt, tg, maxNorm, clipBuf);
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

gpuTest(
  "clipByGlobalNorm() and adamw() split over bindings match unsplit bit for bit",
  async () => {
    const rt = await getRuntime();
    const sizes = [5000, 37, 4 * 4096 * 3 + 5]; // one, none and several partial blocks per chunk
    const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const gs = sizes.map((n, i) => randn(n, 40 + i, -0.1, 0.1));
    const tg = gs.map((g, i) => fromArray(rt, g, [sizes[i]]));
    // chunks of one 4096-element block: the smallest limit the norm can split at
    const c1 = clipByGlobalNorm(rt, tg, 0.5);
    const d0 = rt.dispatchCount;
    const c2 = clipByGlobalNorm(rt, tg, 0.5, undefined, { bindingLimit: 4 * 4096 });
    assert.equal(rt.dispatchCount - d0, 2 + 1 + 13 + 1, "a dispatch per chunk, then finalize");
    const [n1, n2] = [await rt.readF32(c1, 2), await rt.readF32(c2, 2)];
    assert.deepEqual(n2, n1, "one norm across chunks");
    assertClose("norm, factor", n2, clipFactorRef(gs, 0.5), { rtol: 1e-5 });
    assert.throws(
      () => clipByGlobalNorm(rt, tg, 0.5, undefined, { bindingLimit: 8192 }),
      /does not fit a binding/,
    );
    const state = () =>
      sizes.map((n, i) => [randn(n, i + 1), new Float32Array(n), new Float32Array(n)]);
    const [a, b] = [state(), state()].map((st) =>
      st.map((ts, i) => ts.map((t) => fromArray(rt, t, [sizes[i]])))
    );
    for (let step = 1; step <= 2; step++) {
      for (let i = 0; i < sizes.length; i++) {
        adamw(rt, a[i][0], tg[i], a[i][1], a[i][2], cfg, step, c1);
        adamw(rt, b[i][0], tg[i], b[i][1], b[i][2], cfg, step, c2, { bindingLimit: 4096 });
      }
    }
    const factor = clipFactorRef(gs, 0.5)[1];
    for (let i = 0; i < sizes.length; i++) {
      for (let j = 0; j < 3; j++) {
        assert.deepEqual(await toF32(rt, b[i][j]), await toF32(rt, a[i][j]), `tensor ${i}.${j}`);
      }
      const p = Float64Array.from(randn(sizes[i], i + 1));
      const m = new Float64Array(sizes[i]), v = new Float64Array(sizes[i]);
      for (let step = 1; step <= 2; step++) adamwRef(p, gs[i], m, v, cfg, step, factor);
      assertClose(`param ${i}`, await toF32(rt, b[i][0]), p, { atol: 1e-6, rtol: 1e-5 });
    }
    rt.release(c1);
    rt.release(c2);
  },
);
