/**
 * Attention for decoding with a KV cache on the GPU (kernels/attention_decode.wgsl): one new query
 * per batch row attends to that row's cached keys, grouped-query, f32 with an online softmax.
 * Reference: lib/ops/ref/attention_decode.ts.
 *
 * Shapes: q (B, NH, D), k and v (B, S, NKV, D) caches, lengths (B), output o (B, NH, D); NH a
 * multiple of NKV, D ≤ 128 and even.
 *
 * @example
 * ```ts ignore
 * const rt = await getRuntime();
 * // row b's new token sits at position lengths[b] − 1 of the cache, already written there
 * const o = attentionDecode(rt, q, kCache, vCache, lengths);
 * ```
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { empty, expectTensor, type Tensor } from "../gpu/tensor.ts";

/**
 * o (B, NH, D) f32 of queries q (B, NH, D) against the caches k, v (B, S, NKV, D) f32, where row b
 * sees keys 0..lengths[b]−1 (lengths (B) u32, each ≥ 1; a length above S is taken as S). Query head
 * h reads KV head floor(h / (NH / NKV)); softmax scale 1/sqrt(D).
 */
export function attentionDecode(
  rt: GpuRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  lengths: Tensor,
): Tensor {
  expectTensor("attentionDecode q", q, "f32", [undefined, undefined, undefined]);
  const [b, nh, d] = q.shape;
  expectTensor("attentionDecode k", k, "f32", [b, undefined, undefined, d]);
  const [, s, nkv] = k.shape;
  expectTensor("attentionDecode v", v, "f32", [b, s, nkv, d]);
  expectTensor("attentionDecode lengths", lengths, "u32", [b]);
  if (nkv === 0 || nh % nkv !== 0) {
    throw new GpuUsageError(`attentionDecode: NH ${nh} is not a multiple of NKV ${nkv}`);
  }
  if (d === 0 || d > 128 || d % 2 !== 0) {
    throw new GpuUsageError(`attentionDecode: head dim ${d} must be even and ≤ 128`);
  }
  const o = empty(rt, [b, nh, d]);
  const p = new Uint32Array(8);
  p.set([b, s, nh, nkv, d]);
  new Float32Array(p.buffer)[5] = 1 / Math.sqrt(d);
  rt.dispatch(
    rt.kernel("attention_decode"),
    [q.buffer, k.buffer, v.buffer, lengths.buffer, o.buffer, rt.uniform(p)],
    [nh, b],
  );
  return o;
}
