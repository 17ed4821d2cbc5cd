import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { free, fromArray, toF32 } from "../gpu/tensor.ts";
import { fp8Linear, fp8LinearBackward, Fp8Scaling } from "./fp8.ts";
import { FP8, type Fp8Format, fromFp8, quantizeFp8 as quantizeRef, unpackFp8 } from "./ref/cast.ts";
import { delayedScalingRef } from "./ref/fp8.ts";
import { matmulRef } from "./ref/gemm.ts";
import { assertClose, randn } from "./testing.ts";

function dequantRef(x: Float32Array, scale: number, format: Fp8Format): Float32Array {
  const codes = unpackFp8(quantizeRef(x, scale, format), x.length);
  const inv = Math.fround(1 / Math.fround(scale));
  return Float32Array.from(codes, (c) => Math.fround(fromFp8(c, format) * inv));
}

gpuTest("Fp8Scaling.update() follows delayed scaling with a rolling amax history", async () => {
  const rt = await getRuntime();
  const H = 4;
  const fp8 = new Fp8Scaling(rt, ["x", "dy"], { historyLen: H });
  assert.deepEqual(fp8.slots.map((s) => s.format), ["e4m3", "e5m2"]);
  const hist = [new Float32Array(H), new Float32Array(H)];
  const sc: [number, number][] = [[1, 1], [1, 1]];
  for (let step = 0; step < 7; step++) {
    for (const [i, name] of ["x", "dy"].entries()) {
      const mag = step === 2 ? 100 : 1 + step * 0.25 + i; // one spike that must age out after H
      const data = randn(257, step * 10 + i, -mag, mag);
      const x = fromArray(rt, data, [257]);
      const q = fp8.quantize(x, name);
      const got = await rt.readU32(q.buffer, Math.ceil(257 / 4));
      // step t quantizes with the scale made from steps < t
      assert.deepEqual([...got], [...quantizeRef(data, sc[i][0], fp8.slots[i].format)], `${step}`);
      const amax = data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      sc[i] = delayedScalingRef(hist[i], amax, FP8[fp8.slots[i].format].max, 0, sc[i]);
      free(rt, x, q);
    }
    fp8.update();
    const st = await fp8.read();
    for (let i = 0; i < 2; i++) {
      assert.deepEqual([...st.history[i]], [...hist[i]]);
      assertClose(`scale step ${step}`, [st.scale[i], st.scaleInv[i]], sc[i], { rtol: 1e-6 });
    }
  }
  fp8.destroy();
});

gpuTest(
  "fp8Linear() and its backward match GEMMs of the dequantized reference operands",
  async () => {
    const rt = await getRuntime();
    const [T, C, OC] = [24, 32, 20];
    const fp8 = new Fp8Scaling(rt, ["x", "w", "dy"]);
    const xs = randn(T * C, 1, -3, 3), ws = randn(OC * C, 2, -0.2, 0.2), dys = randn(T * OC, 3);
    // one step to learn scales, then the measured step uses non-trivial scales
    for (let step = 0; step < 2; step++) {
      const x = fromArray(rt, xs, [T, C]), w = fromArray(rt, ws, [OC, C]);
      const dy = fromArray(rt, dys, [T, OC]);
      const st = await fp8.read();
      const { y, xq, wq } = fp8Linear(rt, fp8, x, w, { x: "x", w: "w" });
      const { dx, dw } = fp8LinearBackward(rt, fp8, dy, { xq, wq }, { x: "x", w: "w", dy: "dy" });
      const xd = dequantRef(xs, st.scale[0], "e4m3");
      const wd = dequantRef(ws, st.scale[1], "e4m3");
      const dyd = dequantRef(dys, st.scale[2], "e5m2");
      // operands are exact; only f32 accumulation order differs: 1e-5 relative to the row scale
      const tol = { atol: 1e-5 * C, rtol: 1e-5 };
      assertClose(
        "y",
        await toF32(rt, y),
        matmulRef(xd, wd, { m: T, n: OC, k: C, transB: true }),
        tol,
      );
      assertClose("dx", await toF32(rt, dx), matmulRef(dyd, wd, { m: T, n: C, k: OC }), tol);
      assertClose(
        "dw",
        await toF32(rt, dw),
        matmulRef(dyd, xd, { m: OC, n: C, k: T, transA: true }),
        {
          atol: 1e-4 * T,
          rtol: 1e-5,
        },
      );
      // and FP8 is close to the f32 product (E4M3 has 3 mantissa bits: ~6% per operand)
      const yf = matmulRef(xs, ws, { m: T, n: OC, k: C, transB: true });
      assertClose("y vs f32", await toF32(rt, y), yf, { atol: 0.25 * Math.sqrt(C) * 3 * 0.2 });
      free(rt, x, w, dy, y, xq, wq, dx, dw);
      fp8.update();
    }
    const st = await fp8.read();
    assert.ok(Math.abs(st.scale[0] - 448 / 3) / (448 / 3) < 0.01, `x scale ${st.scale[0]}`);
    fp8.destroy();
  },
);
