import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { _f16ToF32, _f32ToF16, fromArray, toArray, toF32 } from "../gpu/tensor.ts";
import { matmul, transpose } from "./gemm.ts";
import { matmulRef } from "./ref/gemm.ts";
import { roundBf16 } from "./ref/cast.ts";
import { assertClose, randn } from "./testing.ts";
import { gemmWgsl } from "../../tools/gen_gemm.ts";

/**
 * f32 accumulation error bound for one dot product of length K: |err| ≤ K·u·Σ|a·b| (u = 2^-24
 * rounding per add, doubled for slack) — the standard γ_K bound, so the tolerance scales with the
 * problem instead of being a magic number.
 */
function gemmBound(a: Float32Array, b: Float32Array, dims: Parameters<typeof matmulRef>[2]) {
  const abs = (x: Float32Array) => x.map(Math.abs);
  const s = matmulRef(abs(a), abs(b), dims);
  return s.map((v) => 2 * dims.k * 2 ** -24 * v + 1e-30);
}

const CASES = [
  { batch: 1, m: 37, n: 20, k: 44 }, // fast path, ragged M and N tiles
  { batch: 3, m: 9, n: 68, k: 12 },
  { batch: 2, m: 21, n: 13, k: 7 }, // odd K and N: naive fallback
];

for (const { batch, m, n, k } of CASES) {
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
    gpuTest(
      `matmul() matches the reference for ${batch}x${m}x${n}x${k} transA=${transA} transB=${transB}`,
      async () => {
        const rt = await getRuntime();
        const a = randn(batch * m * k, m * 7 + k);
        const b = randn(batch * k * n, n * 13 + k);
        const dims = { batch, m, n, k, transA, transB };
        const ta = fromArray(rt, a, transA ? [batch, k, m] : [batch, m, k]);
        const tb = fromArray(rt, b, transB ? [batch, n, k] : [batch, k, n]);
        const want = matmulRef(a, b, dims);
        const bound = gemmBound(a, b, dims);
        for (const kernel of ["v1", "v2"] as const) {
          const c = matmul(rt, ta, tb, { transA, transB, kernel });
          assert.deepEqual(c.shape, [batch, m, n]);
          assertClose(`gemm ${kernel}`, await toF32(rt, c), want, { bound });
          rt.release(c.buffer);
        }
      },
    );
  }
}

gpuTest("matmul() broadcasts a rank-2 operand and accumulates with beta", async () => {
  const rt = await getRuntime();
  const [batch, m, n, k] = [2, 10, 8, 16];
  const a = randn(batch * m * k, 1);
  const w = randn(n * k, 2);
  const c0 = randn(batch * m * n, 3);
  const out = fromArray(rt, c0, [batch, m, n]);
  matmul(rt, fromArray(rt, a, [batch, m, k]), fromArray(rt, w, [n, k]), {
    transB: true,
    alpha: 0.5,
    beta: 1,
    out,
  });
  const want = matmulRef(a, w, { batch, m, n, k, transB: true }, 0.5, 1, c0);
  assertClose("gemm beta", await toF32(rt, out), want, { atol: 1e-5 });
});

gpuTest("matmul() takes f16 and bf16 operands and accumulates in f32", async () => {
  const rt = await getRuntime();
  const [m, n, k] = [33, 24, 40];
  const a = randn(m * k, 5), b = randn(k * n, 6);
  const a16 = a.map((v) => _f16ToF32(_f32ToF16(v)));
  const b16 = roundBf16(b);
  const dims = { m, n, k };
  const c = matmul(rt, fromArray(rt, a, [m, k], "f16"), fromArray(rt, b, [k, n], "bf16"));
  assertClose("gemm f16·bf16", await toF32(rt, c), matmulRef(a16, b16, dims), {
    bound: gemmBound(a16, b16, dims),
  });
  const ct = matmul(rt, fromArray(rt, a, [k, m], "f16"), fromArray(rt, b, [n, k], "bf16"), {
    transA: true,
    transB: true,
  });
  const want = matmulRef(a16, b16, { ...dims, transA: true, transB: true });
  assertClose("gemm f16ᵀ·bf16ᵀ", await toF32(rt, ct), want, { atol: 1e-4 });
});

gpuTest("transpose() moves packed elements bit for bit", async () => {
  const rt = await getRuntime();
  const x = randn(2 * 6 * 4, 9);
  const t = transpose(rt, fromArray(rt, x, [2, 6, 4], "bf16"));
  const got = await toArray(rt, t);
  const xb = roundBf16(x);
  for (let b = 0; b < 2; b++) {
    for (let r = 0; r < 6; r++) {
      for (let c = 0; c < 4; c++) assert.equal(got[b * 24 + c * 6 + r], xb[b * 24 + r * 4 + c]);
    }
  }
});

gpuTest("matmul() rejects mismatched shapes and dtypes before dispatching", async () => {
  const rt = await getRuntime();
  const before = rt.dispatchCount;
  const a = fromArray(rt, new Float32Array(6), [2, 3]);
  const b = fromArray(rt, new Float32Array(8), [4, 2]);
  assert.throws(() => matmul(rt, a, b), /inner dimensions differ/);
  assert.throws(() => matmul(rt, a, fromArray(rt, [1, 2, 3], [3], "u32")), GpuUsageError);
  const b2 = fromArray(rt, new Float32Array(6), [3, 2]);
  assert.throws(() => matmul(rt, a, b2, { beta: 1 }), /needs `out`/);
  assert.equal(rt.dispatchCount, before);
});

Deno.test("kernels/gemm.wgsl is what tools/gen_gemm.ts generates", async () => {
  const file = await Deno.readTextFile(new URL("../../kernels/gemm.wgsl", import.meta.url));
  assert.equal(file, gemmWgsl());
});
