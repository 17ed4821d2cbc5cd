/**
 * The LM-head loss on the GPU: softmax cross-entropy over vocabularies of 200k+ with optional
 * z-loss, computed in row chunks so the (rows, V) logits never exist for all N rows at once
 * (kernels/cross_entropy.wgsl), fused with the LM-head GEMMs: per chunk, logits = h·Wᵀ, then loss
 * and dlogits in place, then dh = dlogits·W and dW += dlogitsᵀ·h. Reference: lib/ops/ref/loss.ts.
 *
 * A head W (V, C) larger than one storage binding (e.g. V = 137816, C = 768: 423 MB) is never
 * transposed whole: each chunk's logits come from (W·hᵀ)ᵀ, whose GEMM reads W in row blocks, and
 * the other two GEMMs split W and dW themselves (lib/ops/gemm.ts). Those splits need C and the GEMM
 * dims to be multiples of 4, so chunks are padded to a multiple of 4 rows with zero rows of h, and
 * a V that is not a multiple of 4 is padded with zero rows of W (a padded copy of W and of dW for
 * the call: zero rows add exactly zero logits, which the kernel skips, and zero gradient).
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { elementView, empty, expectTensor, free, type Tensor } from "../gpu/tensor.ts";
import { matmul, transpose } from "./gemm.ts";

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** z-loss weight (PaLM uses 1e-4; default 0). */
  zLoss?: number;
  /** Multiplies the gradient, e.g. 1 / (number of target tokens) for a mean loss (default 1). */
  gradScale?: number;
  /** Compute dh and dW (default true). */
  grad?: boolean;
  /** dW (V, C) to add the head's gradient into (needed when `grad`). */
  dwAccum?: Tensor;
  /**
   * Rows per chunk (default: the largest multiple of 4 that keeps the logits chunk ≤ 64 MiB and
   * one binding); a chunk's rows are padded to a multiple of 4.
   */
  chunkRows?: number;
  /** Largest binding in bytes (default: the device's); smaller values force splitting (tests). */
  bindingLimit?: number;
}

const _ceil4 = (x: number) => Math.ceil(x / 4) * 4;

/**
 * Loss of hidden states h (N, C) against the head w (V, C) and targets (N, i32; < 0 ignored):
 * returns the per-row loss (N) and, with `grad`, dh (N, C) while adding into `dwAccum`.
 */
export function crossEntropy(
  rt: GpuRuntime,
  h: Tensor,
  w: Tensor,
  targets: Tensor,
  opts: CrossEntropyOptions = {},
): { loss: Tensor; dh?: Tensor } {
  expectTensor("crossEntropy w", w, "f32", [undefined, undefined]);
  const [v, c] = w.shape;
  expectTensor("crossEntropy h", h, "f32", [undefined, c]);
  const n = h.shape[0];
  expectTensor("crossEntropy targets", targets, "i32", [n]);
  const grad = opts.grad ?? true;
  if (grad) {
    if (!opts.dwAccum) throw new GpuUsageError("crossEntropy: grad needs dwAccum (V, C)");
    expectTensor("crossEntropy dwAccum", opts.dwAccum, "f32", [v, c]);
  }
  const limit = rt.bindingLimit(opts.bindingLimit);
  const split = w.bytes > limit; // (dwAccum has W's shape)
  if (split && c % 4 !== 0) {
    throw new GpuUsageError(
      `crossEntropy: a head ${w} above one binding (${limit} bytes) needs C a multiple of 4`,
    );
  }
  const vp = split ? _ceil4(v) : v; // logits row length
  const wp = vp > v ? _padRows(rt, w, vp) : w; // (vp, C)
  const dw = grad && vp > v ? _padRows(rt, opts.dwAccum!, vp) : opts.dwAccum; // (vp, C)
  const mm = { bindingLimit: opts.bindingLimit };
  const budget = Math.min(64 << 20, limit);
  // one workgroup per row: at most 65535 rows per dispatch
  const rows = Math.max(
    1,
    Math.min(n, 65532, opts.chunkRows ?? Math.max(4, Math.floor(budget / (16 * vp)) * 4)),
  );
  const loss = empty(rt, [n]);
  const dh = grad ? empty(rt, [n, c]) : undefined;
  // (C, V) once for all chunks when W fits one binding
  const wT = split ? undefined : transpose(rt, w);
  const pipe = rt.kernel("cross_entropy", "main", { GRAD: grad ? 1 : 0 });
  for (let r0 = 0; r0 < n; r0 += rows) {
    const r = Math.min(rows, n - r0), rp = _ceil4(r);
    const hc = empty(rt, [rp, c]); // rows r… are zero
    rt.copy(h.buffer, hc.buffer, r * c * 4, r0 * c * 4, 0);
    if (rp > r) rt.clear(hc.buffer, r * c * 4, (rp - r) * c * 4);
    const logits = wT ? matmul(rt, hc, wT) : _logitsFromRows(rt, hc, wp, mm); // (rp, vp)
    const p = new Uint32Array(8);
    p.set([r, v]);
    new Float32Array(p.buffer).set([opts.zLoss ?? 0, opts.gradScale ?? 1], 2);
    p.set([r0, vp], 4);
    rt.dispatch(pipe, [elementView(logits), targets.buffer, loss.buffer, rt.uniform(p)], [r]);
    if (grad) {
      const dhc = matmul(rt, logits, wp, mm); // (rp, C)
      rt.copy(dhc.buffer, dh!.buffer, r * c * 4, 0, r0 * c * 4);
      matmul(rt, logits, hc, { ...mm, transA: true, out: dw, beta: 1 });
      free(rt, dhc);
    }
    free(rt, hc, logits);
  }
  if (dw && dw !== opts.dwAccum) {
    rt.copy(dw.buffer, opts.dwAccum!.buffer, v * c * 4);
    free(rt, dw);
  }
  if (wp !== w) free(rt, wp);
  free(rt, wT);
  return { loss, dh };
}

/**
 * Logits (R, V) = hc·Wᵀ for a W (V, C) above one binding, as (W·hcᵀ)ᵀ: the GEMM reads W in
 * contiguous row blocks, and only the small hc and the logits chunk are transposed.
 */
function _logitsFromRows(
  rt: GpuRuntime,
  hc: Tensor,
  w: Tensor,
  mm: { bindingLimit?: number },
): Tensor {
  const hT = transpose(rt, hc); // (C, R)
  const lT = matmul(rt, w, hT, mm); // (V, R)
  const logits = transpose(rt, lT); // (R, V)
  free(rt, hT, lT);
  return logits;
}

/** A copy of t (V, C) with zero rows up to `rows` rows. */
function _padRows(rt: GpuRuntime, t: Tensor, rows: number): Tensor {
  const [v, c] = t.shape;
  const out = empty(rt, [rows, c]);
  rt.copy(t.buffer, out.buffer, v * c * 4);
  rt.clear(out.buffer, v * c * 4, (rows - v) * c * 4);
  return out;
}
