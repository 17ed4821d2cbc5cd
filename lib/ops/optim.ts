/**
 * The optimizer on the GPU: global-norm gradient clipping (kernels/grad_norm.wgsl) and AdamW with
 * decoupled weight decay and bias correction (kernels/adamw.wgsl). The clip factor stays on the
 * GPU and AdamW reads it, so a step needs no readback. References: lib/ops/ref/optim.ts.
 * Tensors larger than one storage binding are processed in chunks, each bound as its own range;
 * the norm's chunks are whole partial blocks, so a split tensor gives the same norm bit for bit.
 *
 * @example
 * ```ts ignore
 * const clip = clipByGlobalNorm(rt, grads, 1.0); // GPUBuffer (norm, factor)
 * for (const [i, p] of params.entries()) adamw(rt, p, grads[i], m[i], v[i], cfg, step, clip);
 * ```
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import {
  type BindingOptions,
  elementRanges,
  elementView,
  expectTensor,
  type Tensor,
} from "../gpu/tensor.ts";
import type { AdamWConfig } from "./ref/optim.ts";

export type { AdamWConfig } from "./ref/optim.ts";

const ITEMS = 16; // elements per invocation in grad_norm.wgsl `partial`
const BLOCK = 256 * ITEMS; // elements per workgroup (one partial sum) in `partial`

/**
 * Computes the global L2 norm of `grads` and the clip factor min(1, maxNorm / (norm + 1e-6)) (1 when
 * maxNorm ≤ 0) into a 2-float GPU buffer (norm, factor): `out` when given (reuse one per run), else
 * a new pooled buffer the caller gives back with `rt.release`. Read it for logging with `readF32`.
 */
export function clipByGlobalNorm(
  rt: GpuRuntime,
  grads: Tensor[],
  maxNorm: number,
  out?: GPUBuffer,
  opts: BindingOptions = {},
): GPUBuffer {
  const limit = rt.bindingLimit(opts.bindingLimit);
  const counts = grads.map((g) => {
    expectTensor("clipByGlobalNorm grad", g, "f32");
    return Math.ceil(g.size / BLOCK);
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const partials = rt.buffer(Math.max(1, total) * 4);
  const result = out ?? rt.buffer(8);
  const pipe = rt.kernel("grad_norm", "partial");
  let off = 0; // first partial of this tensor
  grads.forEach((g, i) => {
    // chunks of whole blocks: partial j of a chunk is partial (s / BLOCK + j) of the tensor
    for (const [s, n] of elementRanges(g.size, 4, limit, BLOCK)) {
      const p = new Uint32Array([n, off + s / BLOCK, 0, 0]);
      new Float32Array(p.buffer)[2] = maxNorm;
      rt.dispatch(
        pipe,
        [elementView(g, s, n), partials, rt.uniform(p)],
        grid1d(Math.ceil(n / BLOCK), 1),
      );
    }
    off += counts[i];
  });
  const p = new Uint32Array([total, 0, 0, 0]);
  new Float32Array(p.buffer)[2] = maxNorm;
  rt.dispatch(rt.kernel("grad_norm", "finalize"), [undefined, partials, rt.uniform(p), result], [
    1,
  ]);
  rt.release(partials);
  return result;
}

const _noClip = new WeakMap<GpuRuntime, GPUBuffer>();

/**
 * One AdamW step in place on `param` with moments `m`, `v` (same shape, f32), at 1-based step
 * `step`; the gradient is multiplied by the factor in `clip` (from {@linkcode clipByGlobalNorm}).
 * Tensors above one binding are updated in chunks.
 */
export function adamw(
  rt: GpuRuntime,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  cfg: AdamWConfig,
  step: number,
  clip?: GPUBuffer,
  opts: BindingOptions = {},
): void {
  expectTensor("adamw param", param, "f32");
  for (const [name, t] of [["grad", grad], ["m", m], ["v", v]] as const) {
    expectTensor(`adamw ${name}`, t, "f32", param.shape);
  }
  if (!Number.isInteger(step) || step < 1) {
    throw new GpuUsageError(`adamw: step ${step} must be ≥ 1`);
  }
  let c = clip;
  if (!c) {
    c = _noClip.get(rt);
    if (!c) {
      c = rt.upload(new Float32Array([0, 1]));
      _noClip.set(rt, c);
    }
  }
  const pipe = rt.kernel("adamw", "main");
  for (const [s, n] of elementRanges(param.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = new Float32Array(8);
    new Uint32Array(p.buffer)[0] = n;
    p.set([
      cfg.lr,
      cfg.beta1,
      cfg.beta2,
      cfg.eps,
      cfg.weightDecay,
      1 - cfg.beta1 ** step,
      1 - cfg.beta2 ** step,
    ], 1);
    const views = [param, grad, m, v].map((t) => elementView(t, s, n));
    rt.dispatch(pipe, [...views, c, rt.uniform(p)], grid1d(n, 256));
  }
}
