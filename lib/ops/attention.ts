/**
 * Causal grouped-query self-attention on the GPU, flash style (kernels/attention.wgsl): BF16 (or
 * f32) q, k, v and output, f32 softmax statistics, the T×T matrix never stored; optional
 * per-token document ids so packed sequences do not attend across documents; and an ablation
 * switch that runs the products through FP8. Reference: lib/ops/ref/attention.ts.
 *
 * Shapes: q (B, T, NH, D), k and v (B, T, NKV, D) with NH a multiple of NKV and D ≤ 128 and even;
 * output o like q; lse (B, NH, T); gradients dq, dk, dv f32 in the shapes of q, k, v.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { empty, expectTensor, type Tensor } from "../gpu/tensor.ts";

/** Options of {@linkcode attention}. */
export interface AttentionOptions {
  /** Document id per token (B, T) u32: no attention across documents. */
  doc?: Tensor;
  /**
   * Ablation: round q, k, v through E4M3 with these per-tensor scales (a 3-float GPU buffer:
   * q, k, v) and the probabilities through E4M3 (Thunder-LLM's unstable FP8 attention).
   */
  fp8Scales?: GPUBuffer;
}

const KIND = { f32: 0, bf16: 2 } as const;

function _check(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions) {
  expectTensor("attention q", q, ["bf16", "f32"], [undefined, undefined, undefined, undefined]);
  const [b, t, nh, d] = q.shape;
  expectTensor("attention k", k, q.dtype, [b, t, undefined, d]);
  const nkv = k.shape[2];
  expectTensor("attention v", v, q.dtype, [b, t, nkv, d]);
  if (nh % nkv !== 0) {
    throw new GpuUsageError(`attention: NH ${nh} is not a multiple of NKV ${nkv}`);
  }
  if (d > 128 || d % 2 !== 0) {
    throw new GpuUsageError(`attention: head dim ${d} must be even and ≤ 128`);
  }
  if (opts.doc) expectTensor("attention doc", opts.doc, ["u32", "i32"], [b, t]);
  return { b, t, nh, nkv, d };
}

function _setup(
  rt: GpuRuntime,
  q: Tensor,
  dims: ReturnType<typeof _check>,
  opts: AttentionOptions,
) {
  const { b, t, nh, nkv, d } = dims;
  const p = new Uint32Array(8);
  p.set([b, t, nh, nkv, d]);
  new Float32Array(p.buffer)[5] = 1 / Math.sqrt(d);
  const constants = {
    KIND: KIND[q.dtype as "f32" | "bf16"],
    HAS_DOC: opts.doc ? 1 : 0,
    FP8: opts.fp8Scales ? 1 : 0,
  };
  const dummy = rt.buffer(16);
  return { params: rt.uniform(p), constants, dummy };
}

/** Forward: returns o (like q) and lse (B, NH, T) f32 for the backward. */
export function attention(
  rt: GpuRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): { o: Tensor; lse: Tensor } {
  const dims = _check(q, k, v, opts);
  const { b, t, nh } = dims;
  const { params, constants, dummy } = _setup(rt, q, dims, opts);
  const o = empty(rt, q.shape, q.dtype);
  const lse = empty(rt, [b, nh, t]);
  const binds = [q.buffer, k.buffer, v.buffer, o.buffer, lse.buffer, params];
  binds.push(opts.doc?.buffer ?? dummy, opts.fp8Scales ?? dummy);
  rt.dispatch(rt.kernel("attention", "forward", constants), binds, [Math.ceil(t / 64), nh, b]);
  rt.release(dummy);
  return { o, lse };
}

/** Backward: dq, dk, dv (f32) from dout (like o) and the forward's o and lse. */
export function attentionBackward(
  rt: GpuRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dout: Tensor,
  opts: AttentionOptions = {},
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const dims = _check(q, k, v, opts);
  const { b, t, nh, nkv } = dims;
  expectTensor("attentionBackward o", o, q.dtype, q.shape);
  expectTensor("attentionBackward dout", dout, q.dtype, q.shape);
  expectTensor("attentionBackward lse", lse, "f32", [b, nh, t]);
  const { params, constants, dummy } = _setup(rt, q, dims, opts);
  const drow = empty(rt, [b, nh, t]);
  const dq = empty(rt, q.shape), dk = empty(rt, k.shape), dv = empty(rt, v.shape);
  const base = [q.buffer, k.buffer, v.buffer, undefined, lse.buffer, params]; // o: unused
  const side = [opts.doc?.buffer ?? dummy, opts.fp8Scales ?? dummy, dout.buffer, drow.buffer];
  const grid: [number, number, number] = [Math.ceil(t / 64), nh, b];
  // entry points use different subsets; leave unused bindings undefined
  rt.dispatch(rt.kernel("attention", "bwd_pre", constants), [
    undefined,
    undefined,
    undefined,
    o.buffer,
    undefined,
    params,
    undefined,
    undefined,
    dout.buffer,
    drow.buffer,
  ], grid);
  rt.dispatch(rt.kernel("attention", "bwd_dq", constants), [...base, ...side, dq.buffer], grid);
  rt.dispatch(
    rt.kernel("attention", "bwd_dkv", constants),
    [...base, ...side, dk.buffer, dv.buffer],
    [Math.ceil(t / 64), nkv, b],
  );
  rt.release(drow.buffer);
  rt.release(dummy);
  return { dq, dk, dv };
}
