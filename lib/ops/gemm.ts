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

import { type Binding, type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import { type DType, empty, expectTensor, PER_WORD, type Tensor } from "../gpu/tensor.ts";
import { TM, TN4, WGX, WGY } from "./gemm_gen.ts";
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
  /**
   * f32 bits (a u32 buffer) of an FP8 operand's amax, as quantizing recorded it: kernel "h2"
   * fits its halves to that operand's largest code (default: the format's largest). Both in one
   * buffer.
   */
  amaxA?: GpuScalar;
  amaxB?: GpuScalar;
  /**
   * Which kernel: "v2" tiled (default), "v1" naive, or "h2": packed-f16 multiply with f32
   * accumulation every 16 k (kernels/gemm_h2.wgsl; operands not stored as A (M, K) and B (N, K)
   * are transposed first) where {@linkcode h2Unsupported} says ""; or "tile": f32 through
   * workgroup memory (kernels/gemm_tile.wgsl, same layouts, K a multiple of 16, one binding).
   */
  kernel?: "v1" | "v2" | "h2" | "tile";
  /** Largest binding in bytes (default: the device's); smaller values force splitting (tests). */
  bindingLimit?: number;
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
 * register-tiled kernels when K and N are multiples of 4 (gemm.wgsl, or gemm_nt.wgsl for a
 * transposed B; a transposed A is first copied by {@linkcode transpose}); otherwise the naive one.
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
  const constants = { A_KIND: KIND[a.dtype]!, B_KIND: KIND[b.dtype]! };
  const limit = Math.min(opts.bindingLimit ?? rt.maxBinding, rt.maxBinding);
  const alpha = opts.alpha ?? 1;
  if (opts.kernel === "h2" || opts.kernel === "tile") {
    // gemm_h2.wgsl and gemm_tile.wgsl read A (M, K) and B (N, K) as stored: other layouts are
    // transposed first
    const A = opts.transA ? transpose(rt, a) : a;
    const B = opts.transB ? b : transpose(rt, b);
    const why = opts.kernel === "h2"
      ? h2Unsupported(rt, A, B, k, c.bytes, limit)
      : _tileUnsupported(A, B, k, c.bytes, limit);
    if (why) throw new GpuUsageError(`matmul kernel ${opts.kernel}: ${why}`);
    const params = _gemmParams({
      m,
      n,
      k,
      batch: nb,
      aOff: 0,
      aBs: broadcastA ? 0 : m * k,
      aRs: k,
      aCs: 1,
      bOff: 0,
      bBs: broadcastB ? 0 : k * n,
      bRs: k,
      bCs: 1,
      cOff: 0,
      cBs: m * n,
      sa,
      sb,
      cRs: n,
      alpha,
      beta,
    });
    const amax = opts.amaxA?.buffer ?? opts.amaxB?.buffer ?? ones(rt);
    if (opts.amaxA && opts.amaxB && opts.amaxA.buffer !== opts.amaxB.buffer) {
      throw new GpuUsageError("matmul: amaxA and amaxB must live in one buffer");
    }
    const hp = new Uint32Array([
      opts.amaxA?.index ?? 0,
      opts.amaxB?.index ?? 0,
      opts.amaxA ? 1 : 0,
      opts.amaxB ? 1 : 0,
    ]);
    if (opts.kernel === "tile") {
      rt.dispatch(
        rt.kernel("gemm_tile"),
        [A.buffer, B.buffer, c.buffer, rt.uniform(params)],
        [Math.ceil(n / 128), Math.ceil(m / 128), nb],
      );
    } else {
      rt.dispatch(
        rt.kernel("gemm_h2", "main", constants),
        [A.buffer, B.buffer, c.buffer, rt.uniform(params), scalesBuf, amax, rt.uniform(hp)],
        [Math.ceil(n / 64), Math.ceil(m / 64), nb],
      );
    }
    for (const t of [A, B]) if (t !== a && t !== b) rt.release(t.buffer);
    return c;
  }
  if (a.bytes > limit || b.bytes > limit || c.bytes > limit) {
    if (!fast || nb !== 1) {
      throw new GpuUsageError(
        `matmul: A ${a}, B ${b} or C exceeds one binding (${limit} bytes); splitting needs batch 1 ` +
          `and K, N multiples of 4`,
      );
    }
    _matmulSplit(rt, a, b, c, { m, n, k, transA: !!opts.transA, transB: !!opts.transB }, {
      alpha,
      beta,
      sa,
      sb,
      scalesBuf,
      constants,
      limit,
    });
    return c;
  }
  const temps: Tensor[] = [];
  let A = a;
  let transA = !!opts.transA;
  const transB = !!opts.transB;
  if (fast && transA) {
    A = transpose(rt, a);
    temps.push(A);
    transA = false;
  }
  // A·Bᵀ runs on gemm_nt.wgsl, which reads B (N, K) as stored (row stride K)
  const nt = fast && transB;
  // strides in elements of op(A) (m, k) and op(B) (k, n); for gemm_nt, bRs is B's stored row stride
  const [aRs, aCs] = transA ? [1, m] : [k, 1];
  const [bRs, bCs] = nt ? [k, 1] : transB ? [1, k] : [n, 1];
  const params = _gemmParams({
    m,
    n,
    k,
    batch: nb,
    aOff: 0,
    aBs: broadcastA ? 0 : m * k,
    aRs,
    aCs,
    bOff: 0,
    bBs: broadcastB ? 0 : k * n,
    bRs,
    bCs,
    cOff: 0,
    cBs: m * n,
    sa,
    sb,
    cRs: n,
    alpha,
    beta,
  });
  const binds = [A.buffer, b.buffer, c.buffer, rt.uniform(params), scalesBuf];
  if (fast) {
    const grid: [number, number, number] = [
      Math.ceil(n / (4 * TN4 * WGX)),
      Math.ceil(m / (TM * WGY)),
      nb,
    ];
    rt.dispatch(rt.kernel(nt ? "gemm_nt" : "gemm", "main", constants), binds, grid);
  } else {
    const grid: [number, number, number] = [Math.ceil(n / 8), Math.ceil(m / 8), nb];
    rt.dispatch(rt.kernel("gemm_v1", "main", constants), binds, grid);
  }
  // safe to reuse at once: later dispatches run after this one, and rt.write() flushes first
  for (const t of temps) rt.release(t.buffer);
  return c;
}

/**
 * Why gemm_h2.wgsl cannot multiply A (M, K) by B (N, K) stored as given with a C of `cBytes`, or
 * "" when it can: f16/E4M3/E5M2 operands (not E5M2 × E5M2), K a multiple of 16, every operand
 * within `limit`, a device with `shader-f16`.
 */
export function h2Unsupported(
  rt: GpuRuntime,
  a: Tensor,
  b: Tensor,
  k: number,
  cBytes: number,
  limit = rt.maxBinding,
): string {
  return !rt.has("shader-f16")
    ? "the device has no shader-f16"
    : ![a, b].every((t) => ["f16", "e4m3", "e5m2"].includes(t.dtype))
    ? `operands must be f16, e4m3 or e5m2, got ${a} and ${b}`
    : a.dtype === "e5m2" && b.dtype === "e5m2"
    ? "E5M2 × E5M2 products can pass f16's range"
    : k % 16 !== 0
    ? `K ${k} is not a multiple of 16`
    : Math.max(a.bytes, b.bytes, cBytes) > limit
    ? `an operand exceeds one binding (${limit} bytes)`
    : "";
}

/** Why gemm_tile.wgsl cannot multiply A (M, K) by B (N, K) as stored, or "" when it can. */
function _tileUnsupported(a: Tensor, b: Tensor, k: number, cBytes: number, limit: number): string {
  return a.dtype !== "f32" || b.dtype !== "f32"
    ? `operands must be f32, got ${a} and ${b}`
    : k % 16 !== 0
    ? `K ${k} is not a multiple of 16`
    : Math.max(a.bytes, b.bytes, cBytes) > limit
    ? `an operand exceeds one binding (${limit} bytes)`
    : "";
}

interface _GemmParams {
  m: number;
  n: number;
  k: number;
  batch: number;
  aOff: number;
  aBs: number;
  aRs: number;
  aCs: number;
  bOff: number;
  bBs: number;
  bRs: number;
  bCs: number;
  cOff: number;
  cBs: number;
  sa: number;
  sb: number;
  cRs: number;
  alpha: number;
  beta: number;
}

function _gemmParams(p: _GemmParams): Uint32Array {
  const u = new Uint32Array(20);
  u.set([
    p.m,
    p.n,
    p.k,
    p.batch,
    p.aOff,
    p.aBs,
    p.aRs,
    p.aCs,
    p.bOff,
    p.bBs,
    p.bRs,
    p.bCs,
    p.cOff,
    p.cBs,
    p.sa,
    p.sb,
  ]);
  new Float32Array(u.buffer).set([p.alpha, p.beta], 16);
  u[18] = p.cRs;
  return u;
}

/** Bytes per element of a storage type. */
function _eb(t: Tensor): number {
  return 4 / PER_WORD[t.dtype];
}

/** A byte-range binding of elements [start, start+count) of `t`, and the element offset in it. */
function _view(
  rt: GpuRuntime,
  t: Tensor,
  start: number,
  count: number,
  limit: number,
): { bind: Binding; off: number } {
  const eb = _eb(t);
  const align = Math.max(256, rt.device.limits.minStorageBufferOffsetAlignment);
  const byteStart = start * eb;
  const offset = Math.floor(byteStart / align) * align;
  const end = Math.min(Math.ceil(((start + count) * eb) / 16) * 16, t.buffer.size);
  const size = end - offset;
  if (size > limit) {
    throw new GpuUsageError(`matmul: a block of ${t} needs ${size} bytes, above ${limit}`);
  }
  return { bind: { buffer: t.buffer, offset, size }, off: (byteStart - offset) / eb };
}

function _floorTo(x: number, q: number): number {
  return Math.floor(x / q) * q;
}

/**
 * The register-tiled GEMM over blocks whose operands each fit one binding: n-blocks of a
 * transposed B (rows of the stored matrix, transposed into a scratch), k-blocks otherwise
 * (accumulating with beta = 1 after the first), m-blocks of A and C.
 */
function _matmulSplit(
  rt: GpuRuntime,
  a: Tensor,
  b: Tensor,
  c: Tensor,
  d: { m: number; n: number; k: number; transA: boolean; transB: boolean },
  e: {
    alpha: number;
    beta: number;
    sa: number;
    sb: number;
    scalesBuf: GPUBuffer;
    constants: Record<string, number>;
    limit: number;
  },
): void {
  const { m, n, k, transA, transB } = d;
  const room = e.limit - 512; // slack for alignment of a view's start
  const ebA = _eb(a), ebB = _eb(b);
  const nB = transB ? Math.min(n, _floorTo(room / (k * ebB), 4)) : n;
  let kB = transB ? k : Math.min(k, _floorTo(room / (n * ebB), 4));
  if (transA) kB = Math.min(kB, _floorTo(room / (m * ebA), 4));
  const aRow = transA ? kB * ebA : k * ebA;
  const mB = Math.min(m, Math.floor(room / Math.max(aRow, n * 4)));
  if (nB < 4 || kB < 4 || mB < 1 || (transB && kB < k)) {
    throw new GpuUsageError(
      `matmul: cannot split A ${a}${transA ? "ᵀ" : ""} · B ${b}${
        transB ? "ᵀ" : ""
      } into blocks of ${e.limit} bytes`,
    );
  }
  const gemm = rt.kernel("gemm", "main", e.constants);
  for (let n0 = 0; n0 < n; n0 += nB) {
    const nb = Math.min(nB, n - n0);
    let bT: Tensor | undefined;
    if (transB) bT = _transposeRows(rt, b, n0, nb, k, e.limit); // (k, nb)
    for (let k0 = 0; k0 < k; k0 += kB) {
      const kb = Math.min(kB, k - k0);
      let aT: Tensor | undefined;
      if (transA) aT = _transposeRows(rt, a, k0, kb, m, e.limit); // (m, kb)
      const bv = bT ? _view(rt, bT, 0, k * nb, e.limit) : _view(rt, b, k0 * n, kb * n, e.limit);
      for (let m0 = 0; m0 < m; m0 += mB) {
        const mb = Math.min(mB, m - m0);
        const av = aT
          ? _view(rt, aT, m0 * kb, mb * kb, e.limit)
          : _view(rt, a, m0 * k + k0, (mb - 1) * k + kb, e.limit);
        const cv = _view(rt, c, m0 * n + n0, (mb - 1) * n + nb, e.limit);
        const params = _gemmParams({
          m: mb,
          n: nb,
          k: kb,
          batch: 1,
          aOff: av.off,
          aBs: 0,
          aRs: aT ? kb : k,
          aCs: 1,
          bOff: bv.off,
          bBs: 0,
          bRs: bT ? nb : n,
          bCs: 1,
          cOff: cv.off,
          cBs: 0,
          sa: e.sa,
          sb: e.sb,
          cRs: n,
          alpha: e.alpha,
          beta: k0 === 0 ? e.beta : 1,
        });
        rt.dispatch(gemm, [av.bind, bv.bind, cv.bind, rt.uniform(params), e.scalesBuf], [
          Math.ceil(nb / (4 * TN4 * WGX)),
          Math.ceil(mb / (TM * WGY)),
          1,
        ]);
      }
      if (aT) rt.release(aT.buffer);
    }
    if (bT) rt.release(bT.buffer);
  }
}

/** Rows [r0, r0+count) of a stored (R, cols) matrix, transposed into a new (cols, count) tensor. */
function _transposeRows(
  rt: GpuRuntime,
  t: Tensor,
  r0: number,
  count: number,
  cols: number,
  limit: number,
): Tensor {
  const src = _view(rt, t, r0 * cols, count * cols, limit);
  const out = empty(rt, [cols, count], t.dtype);
  const kind = KIND[t.dtype]!;
  const p = rt.uniform(new Uint32Array([count, cols, count * cols, src.off]));
  rt.dispatch(
    rt.kernel("transpose", "main", { KIND: kind }),
    [src.bind, out.buffer, p],
    grid1d(Math.ceil((count * cols) / PER_WORD[t.dtype]), 256),
  );
  return out;
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
  const p = rt.uniform(new Uint32Array([rows, cols, x.size, 0])); // src_off 0
  rt.dispatch(
    rt.kernel("transpose", "main", { KIND: kind }),
    [x.buffer, y.buffer, p],
    grid1d(Math.ceil(x.size / per), 256),
  );
  return y;
}
