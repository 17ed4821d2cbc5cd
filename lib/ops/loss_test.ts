import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32, zeros } from "../gpu/tensor.ts";
import { crossEntropy } from "./loss.ts";
import { crossEntropyRef } from "./ref/loss.ts";
import { matmulRef } from "./ref/gemm.ts";
import { assertClose, assertFiniteDiff, randn } from "./testing.ts";

Deno.test("crossEntropyRef() gradient matches finite differences, with z-loss", () => {
  const [n, v, z] = [3, 7, 1e-2];
  const logits = randn(n * v, 1, -3, 3), targets = [2, -1, 6];
  const { dlogits } = crossEntropyRef(logits, targets, v, z);
  const f = (x: Float64Array) => crossEntropyRef(x, targets, v, z).loss.reduce((a, b) => a + b, 0);
  assertFiniteDiff("dlogits", f, logits, dlogits);
});

gpuTest(
  "crossEntropy() matches the reference across row chunks, with z-loss and ignored rows",
  async () => {
    const rt = await getRuntime();
    const [n, c, v, z] = [10, 12, 1030, 1e-3]; // V not a multiple of the workgroup
    const h = randn(n * c, 2), w = randn(v * c, 3, -0.5, 0.5);
    const targets = [5, 1029, -1, 0, 77, 3, 3, -1, 1000, 12];
    const valid = targets.filter((t) => t >= 0).length;
    const logits = matmulRef(h, w, { m: n, n: v, k: c, transB: true });
    const ref = crossEntropyRef(logits, targets, v, z, 1 / valid);
    const dh = matmulRef(ref.dlogits, w, { m: n, n: c, k: v });
    const dw = matmulRef(ref.dlogits, h, { m: v, n: c, k: n, transA: true });
    const dwAccum = zeros(rt, [v, c]);
    const out = crossEntropy(
      rt,
      fromArray(rt, h, [n, c]),
      fromArray(rt, w, [v, c]),
      fromArray(rt, targets, [n], "i32"),
      {
        zLoss: z,
        gradScale: 1 / valid,
        dwAccum,
        chunkRows: 4, // three chunks, the last one short
      },
    );
    // f32 log-sum-exp over 1030 terms: ~1e-6 relative; GEMMs over V=1030 add K·2^-24 per |term|
    assertClose("loss", await toF32(rt, out.loss), ref.loss, { atol: 1e-5, rtol: 1e-5 });
    assertClose("dh", await toF32(rt, out.dh!), dh, { atol: 1e-6, rtol: 1e-4 });
    assertClose("dw", await toF32(rt, dwAccum), dw, { atol: 1e-6, rtol: 1e-4 });
  },
);

for (const [v, c, chunkRows] of [[1030, 12, 4], [1024, 16, undefined]] as const) {
  gpuTest(
    `crossEntropy() with W (${v}, ${c}) above one binding matches unsplit and the reference`,
    async () => {
      const rt = await getRuntime();
      const [n, z] = [10, 1e-3];
      const h = randn(n * c, 20), w = randn(v * c, 21, -0.5, 0.5);
      const targets = [5, v - 1, -1, 0, 77, 3, 3, -1, 1000, 12];
      const valid = targets.filter((t) => t >= 0).length;
      const logits = matmulRef(h, w, { m: n, n: v, k: c, transB: true });
      const ref = crossEntropyRef(logits, targets, v, z, 1 / valid);
      const dh = matmulRef(ref.dlogits, w, { m: n, n: c, k: v });
      const dw = matmulRef(ref.dlogits, h, { m: v, n: c, k: n, transA: true }).map((x) => x + 1);
      const th = fromArray(rt, h, [n, c]), tw = fromArray(rt, w, [v, c]);
      const tt = fromArray(rt, targets, [n], "i32");
      const run = async (bindingLimit?: number) => {
        const dwAccum = fromArray(rt, new Float32Array(v * c).fill(1), [v, c]); // accumulates
        const opts = { zLoss: z, gradScale: 1 / valid, dwAccum, chunkRows, bindingLimit };
        const out = crossEntropy(rt, th, tw, tt, opts);
        const res = [out.loss, out.dh!, dwAccum].map((t) => toF32(rt, t));
        return await Promise.all(res);
      };
      const limit = 32768; // W is 49 KB: the GEMMs split it; logits chunks of 4 or 8 rows fit
      assert.ok(v * c * 4 > limit);
      const [l1, dh1, dw1] = await run();
      const [l2, dh2, dw2] = await run(limit);
      // the same sums in another GEMM shape: f32 rounding, as in the unsplit test
      assertClose("loss split vs unsplit", l2, l1, { atol: 1e-5, rtol: 1e-5 });
      assertClose("dh split vs unsplit", dh2, dh1, { atol: 1e-6, rtol: 1e-4 });
      assertClose("dw split vs unsplit", dw2, dw1, { atol: 1e-6, rtol: 1e-4 });
      assertClose("loss", l2, ref.loss, { atol: 1e-5, rtol: 1e-5 });
      assertClose("dh", dh2, dh, { atol: 1e-6, rtol: 1e-4 });
      assertClose("dw", dw2, dw, { atol: 1e-6, rtol: 1e-4 });
      const noGrad = crossEntropy(rt, th, tw, tt, { zLoss: z, grad: false, bindingLimit: limit });
      assertClose("loss without grad", await toF32(rt, noGrad.loss), ref.loss, {
        atol: 1e-5,
        rtol: 1e-5,
      });
    },
  );
}

gpuTest(
  "crossEntropy() refuses a head above one binding whose C is not a multiple of 4",
  async () => {
    const rt = await getRuntime();
    const [v, c] = [300, 10];
    const h = fromArray(rt, randn(2 * c, 1), [2, c]), w = fromArray(rt, randn(v * c, 2), [v, c]);
    const t = fromArray(rt, [1, 2], [2], "i32");
    assert.throws(
      () => crossEntropy(rt, h, w, t, { grad: false, bindingLimit: 8192 }),
      /needs C a multiple of 4/,
    );
  },
);
