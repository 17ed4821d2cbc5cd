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
