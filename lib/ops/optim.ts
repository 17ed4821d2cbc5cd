/**
 * The optimizer on the GPU: global-norm gradient clipping (kernels/grad_norm.wgsl) and AdamW with
 * decoupled weight decay and bias correction (kernels/adamw.wgsl). The clip factor stays on the
 * GPU and AdamW reads it, so a step needs no readback. References: lib/ops/ref/optim.ts.
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
import { expectTensor, type Tensor } from "../gpu/tensor.ts";
import type { AdamWConfig } from "./ref/optim.ts";

export type { AdamWConfig } from "./ref/optim.ts";

const ITEMS = 16; // elements per invocation in grad_norm.wgsl `partial`

/**
 * Computes the global L2 norm of `grads` and the clip factor min(1, maxNorm / (norm + 1e-6)) (1 when
 * maxNorm ≤ 0) into a new 2-float GPU buffer (norm, factor). Read it for logging with `readF32`.
 */
export function clipByGlobalNorm(rt: GpuRuntime, grads: Tensor[], maxNorm: number): GPUBuffer {
  const counts = grads.map((g) => {
    expectTensor("clipByGlobalNorm grad", g, "f32");
    return Math.ceil(g.size / (256 * ITEMS));
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const partials = rt.buffer(Math.max(1, total) * 4);
  const out = rt.buffer(8);
  let off = 0;
  grads.forEach((g, i) => {
    const p = new Uint32Array([g.size, off, 0, 0]);
    new Float32Array(p.buffer)[2] = maxNorm;
    rt.dispatch(
      rt.kernel("grad_norm", "partial"),
      [g.buffer, partials, rt.uniform(p)],
      grid1d(counts[i], 1),
    );
    off += counts[i];
  });
  const p = new Uint32Array([total, 0, 0, 0]);
  new Float32Array(p.buffer)[2] = maxNorm;
  rt.dispatch(rt.kernel("grad_norm", "finalize"), [undefined, partials, rt.uniform(p), out], [1]);
  rt.release(partials);
  return out;
}

const _noClip = new WeakMap<GpuRuntime, GPUBuffer>();

/**
 * One AdamW step in place on `param` with moments `m`, `v` (same shape, f32), at 1-based step
 * `step`; the gradient is multiplied by the factor in `clip` (from {@linkcode clipByGlobalNorm}).
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
  const p = new Float32Array(8);
  new Uint32Array(p.buffer)[0] = param.size;
  p.set([
    cfg.lr,
    cfg.beta1,
    cfg.beta2,
    cfg.eps,
    cfg.weightDecay,
    1 - cfg.beta1 ** step,
    1 - cfg.beta2 ** step,
  ], 1);
  rt.dispatch(
    rt.kernel("adamw", "main"),
    [param.buffer, grad.buffer, m.buffer, v.buffer, c, rt.uniform(p)],
    grid1d(param.size, 256),
  );
}
