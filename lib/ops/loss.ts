/**
 * The LM-head loss on the GPU: softmax cross-entropy over vocabularies of 200k+ with optional
 * z-loss, computed in row chunks so the (rows, V) logits never exist for all N rows at once
 * (kernels/cross_entropy.wgsl), fused with the LM-head GEMMs: per chunk, logits = h·Wᵀ, then loss
 * and dlogits in place, then dh = dlogits·W and dW += dlogitsᵀ·h. Reference: lib/ops/ref/loss.ts.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { empty, expectTensor, free, type Tensor } from "../gpu/tensor.ts";
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
  /** Rows per chunk (default: as many as keep the logits chunk ≤ 64 MiB and one binding). */
  chunkRows?: number;
}

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
  const budget = Math.min(64 << 20, rt.maxBinding);
  const rows = Math.max(1, Math.min(n, opts.chunkRows ?? Math.floor(budget / (4 * v))));
  const loss = empty(rt, [n]);
  const dh = grad ? empty(rt, [n, c]) : undefined;
  const wT = transpose(rt, w); // (C, V), once for all chunks
  const pipe = rt.kernel("cross_entropy", "main", { GRAD: grad ? 1 : 0 });
  for (let r0 = 0; r0 < n; r0 += rows) {
    const r = Math.min(rows, n - r0);
    const hc = empty(rt, [r, c]);
    rt.copy(h.buffer, hc.buffer, r * c * 4, r0 * c * 4, 0);
    const logits = matmul(rt, hc, wT);
    const p = new Uint32Array(8);
    p.set([r, v]);
    new Float32Array(p.buffer).set([opts.zLoss ?? 0, opts.gradScale ?? 1], 2);
    p[4] = r0;
    rt.dispatch(pipe, [logits.buffer, targets.buffer, loss.buffer, rt.uniform(p)], [r]);
    if (grad) {
      const dhc = matmul(rt, logits, w); // (r, C)
      rt.copy(dhc.buffer, dh!.buffer, r * c * 4, 0, r0 * c * 4);
      matmul(rt, logits, hc, { transA: true, out: opts.dwAccum, beta: 1 });
      free(rt, dhc);
    }
    free(rt, hc, logits);
  }
  free(rt, wT);
  return { loss, dh };
}
