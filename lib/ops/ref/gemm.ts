/**
 * Plain TypeScript reference for lib/ops/gemm.ts: batched `alpha·op(A)·op(B) + beta·C` in float64
 * accumulation, on already-decoded f32 values.
 *
 * @module
 */

/** Reference GEMM; `a`, `b` hold `batch` matrices (or one, broadcast) in the layouts of matmul(). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: { batch?: number; m: number; n: number; k: number; transA?: boolean; transB?: boolean },
  alpha = 1,
  beta = 0,
  c?: ArrayLike<number>,
): Float32Array {
  const { m, n, k, transA, transB } = dims;
  const batch = dims.batch ?? 1;
  const out = new Float32Array(batch * m * n);
  const aStride = a.length === m * k ? 0 : m * k;
  const bStride = b.length === k * n ? 0 : k * n;
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a[t * aStride + (transA ? p * m + i : i * k + p)];
          const bv = b[t * bStride + (transB ? j * k + p : p * n + j)];
          s += av * bv;
        }
        const o = t * m * n + i * n + j;
        out[o] = alpha * s + (beta !== 0 && c ? beta * c[o] : 0);
      }
    }
  }
  return out;
}
