/**
 * GEMM on the GPU: `C = alpha · s · op(A)·op(B) + beta · C` with f32 accumulation, the transposes
 * backward needs (A·B, A·Bᵀ, Aᵀ·B), batching (leading dims; a rank-2 operand is broadcast over the
 * batch), and operands of any storage type: f32, f16, bf16 or FP8 (E4M3/E5M2, with `s` the product
 * of the operands' inverse scales read on the GPU). Output is f32.
 *
 * Kernels: kernels/gemm.wgsl (v2, tiled: the one used), kernels/gemm_v1.wgsl (naive, kept as the
 * GPU reference). Plain reference: {@linkcode matmulRef} in lib/ops/ref/gemm.ts.
 *
 * Shapes (row-major): A `[...batch, M, K]` (`[...batch, K, M]` when `transA`), B `[...batch, K, N]`
 * (`[...batch, N, K]` when `transB`), C `[...batch, M, N]`.
 *
 * @example
 * ```ts ignore
 * const rt = await getRuntime();
 * const y = matmul(rt, x, w, { transB: true }); // x (T, C) · wᵀ with w (OC, C) → (T, OC)
 * ```
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import { type DType, empty, expectTensor, PER_WORD, type Tensor } from "../gpu/tensor.ts";
import { TM, TN4, WGX, WGY } from "../../tools/gen_gemm.ts";
import type { GpuScalar } from "./cast.ts";

/** Options of {@linkcode matmul}. */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Multiplies the product (default 1). */
  alpha?: number;
  /** Adds `beta · out` (default 0; needs `out`). Use 1 to accumulate gradients. */
  beta?: number;
  /** Write here instead of a new tensor (f32, shape `[...batch, M, N]`). */
  out?: Tensor;
  /** Inverse scale of A (FP8 operands): the value of code c is decode(c) · scaleInv. */
  scaleInvA?: GpuScalar;
  scaleInvB?: GpuScalar;
  /** Which kernel: "v2" tiled (default) or "v1" naive. */
  kernel?: "v1" | "v2";
}

const KIND: Partial<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2, e4m3: 3, e5m2: 4 };

const _ones = new WeakMap<GpuRuntime, GPUBuffer>();

function ones(rt: GpuRuntime): GPUBuffer {
  let b = _ones.get(rt);
  if (!b) {
    b = rt.upload(new Float32Array([1, 1, 1, 1]));
    _ones.set(rt, b);
  }
  return b;
}

/** The GEMM dimensions {@linkcode matmul} would use, or a one-line error. */
export function matmulShape(
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions = {},
): { batch: number[]; m: number; n: number; k: number; broadcastA: boolean; broadcastB: boolean } {
  const operands = ["f32", "f16", "bf16", "e4m3", "e5m2"] as DType[];
  expectTensor("matmul A", a, operands);
  expectTensor("matmul B", b, operands);
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new GpuUsageError(`matmul: operands need rank ≥ 2, got A ${a} and B ${b}`);
  }
  const ra = a.shape.length, rb = b.shape.length;
  const [m, ka] = opts.transA
    ? [a.shape[ra - 1], a.shape[ra - 2]]
    : [a.shape[ra - 2], a.shape[ra - 1]];
  const [kb, n] = opts.transB
    ? [b.shape[rb - 1], b.shape[rb - 2]]
    : [b.shape[rb - 2], b.shape[rb - 1]];
  if (ka !== kb) {
    throw new GpuUsageError(
      `matmul: inner dimensions differ (A ${a}${opts.transA ? "ᵀ" : ""} has K=${ka}, B ${b}${
        opts.transB ? "ᵀ" : ""
      } has K=${kb})`,
    );
  }
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  let batch: number[];
  if (ba.length === 0) batch = bb;
  else if (bb.length === 0 || ba.join(",") === bb.join(",")) batch = ba;
  else throw new GpuUsageError(`matmul: batch dims differ: A ${a}, B ${b}`);
  return { batch, m, n, k: ka, broadcastA: ba.length === 0, broadcastB: bb.length === 0 };
}

/**
 * Records `C = alpha · op(A)·op(B) + beta · C` (see the module doc) and returns C. Uses the
 * register-tiled kernel when K and N are multiples of 4 (a transposed operand is first copied by
 * {@linkcode transpose}); otherwise the naive kernel.
 */
export function matmul(rt: GpuRuntime, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { batch, m, n, k, broadcastA, broadcastB } = matmulShape(a, b, opts);
  const nb = batch.reduce((x, y) => x * y, 1);
  const cShape = [...batch, m, n];
  const beta = opts.beta ?? 0;
  if (beta !== 0 && !opts.out) throw new GpuUsageError("matmul: beta ≠ 0 needs `out`");
  if (opts.out) expectTensor("matmul out", opts.out, "f32", cShape);
  const isFp8 = (t: Tensor) => t.dtype === "e4m3" || t.dtype === "e5m2";
  if (isFp8(a) && !opts.scaleInvA) throw new GpuUsageError(`matmul: FP8 A ${a} needs scaleInvA`);
  if (isFp8(b) && !opts.scaleInvB) throw new GpuUsageError(`matmul: FP8 B ${b} needs scaleInvB`);
  if (opts.scaleInvA && opts.scaleInvB && opts.scaleInvA.buffer !== opts.scaleInvB.buffer) {
    throw new GpuUsageError("matmul: scaleInvA and scaleInvB must live in one buffer");
  }
  if (nb > 65535) throw new GpuUsageError(`matmul: batch ${nb} above 65535`);
  const c = opts.out ?? empty(rt, cShape, "f32");
  if (m * n * k === 0 || nb === 0) return c;
  const scalesBuf = opts.scaleInvA?.buffer ?? opts.scaleInvB?.buffer ?? ones(rt);
  const sa = opts.scaleInvA?.index ?? 0;
  const sb = opts.scaleInvB?.index ?? 0;
  const fast = (opts.kernel ?? "v2") === "v2" && k % 4 === 0 && n % 4 === 0;
  const temps: Tensor[] = [];
  let A = a, B = b;
  let transA = !!opts.transA, transB = !!opts.transB;
  if (fast && transA) {
    A = transpose(rt, a);
    temps.push(A);
    transA = false;
  }
  if (fast && transB) {
    B = transpose(rt, b);
    temps.push(B);
    transB = false;
  }
  // strides in elements of op(A) (m, k) and op(B) (k, n)
  const [aRs, aCs] = transA ? [1, m] : [k, 1];
  const [bRs, bCs] = transB ? [1, k] : [n, 1];
  const params = new Uint32Array(20);
  params.set([
    m,
    n,
    k,
    nb,
    0,
    broadcastA ? 0 : m * k,
    aRs,
    aCs,
    0,
    broadcastB ? 0 : k * n,
    bRs,
    bCs,
    0,
    m * n,
    sa,
    sb,
  ]);
  const f = new Float32Array(params.buffer);
  f[16] = opts.alpha ?? 1;
  f[17] = beta;
  const constants = { A_KIND: KIND[a.dtype]!, B_KIND: KIND[b.dtype]! };
  const binds = [A.buffer, B.buffer, c.buffer, rt.uniform(params), scalesBuf];
  if (fast) {
    const grid: [number, number, number] = [
      Math.ceil(n / (4 * TN4 * WGX)),
      Math.ceil(m / (TM * WGY)),
      nb,
    ];
    rt.dispatch(rt.kernel("gemm", "main", constants), binds, grid);
  } else {
    const grid: [number, number, number] = [Math.ceil(n / 8), Math.ceil(m / 8), nb];
    rt.dispatch(rt.kernel("gemm_v1", "main", constants), binds, grid);
  }
  // safe to reuse at once: later dispatches run after this one, and rt.write() flushes first
  for (const t of temps) rt.release(t.buffer);
  return c;
}

/**
 * Transposes the last two dims of a tensor of any storage type: `[...batch, R, C]` →
 * `[...batch, C, R]`, bit for bit (kernels/transpose.wgsl).
 */
export function transpose(rt: GpuRuntime, x: Tensor, out?: Tensor): Tensor {
  if (x.shape.length < 2) throw new GpuUsageError(`transpose: needs rank ≥ 2, got ${x}`);
  const r = x.shape.length;
  const rows = x.shape[r - 2], cols = x.shape[r - 1];
  const shape = [...x.shape.slice(0, -2), cols, rows];
  const per = PER_WORD[x.dtype];
  if (x.shape.length > 2 && (rows * cols) % per !== 0) {
    throw new GpuUsageError(`transpose: batched ${x} needs R·C to be a multiple of ${per}`);
  }
  const y = out ?? empty(rt, shape, x.dtype);
  expectTensor("transpose out", y, x.dtype, shape);
  const kind = x.dtype === "u32" || x.dtype === "i32" ? 0 : KIND[x.dtype]!;
  const p = rt.uniform(new Uint32Array([rows, cols, x.size, 0]));
  rt.dispatch(
    rt.kernel("transpose", "main", { KIND: kind }),
    [x.buffer, y.buffer, p],
    grid1d(Math.ceil(x.size / per), 256),
  );
  return y;
}
