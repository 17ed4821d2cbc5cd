/**
 * Plain reference (float64) for one decoding step of grouped-query attention against a KV cache
 * (lib/ops/attention_decode.ts).
 *
 * @module
 */

/** Batch, cache length, query heads, KV heads, head dim. */
export interface DecodeDims {
  b: number;
  s: number;
  nh: number;
  nkv: number;
  d: number;
}

type Arr = ArrayLike<number>;

/**
 * o (B, NH, D) of q (B, NH, D) against k, v (B, S, NKV, D), row b over keys 0..lengths[b]−1 (a
 * length above S is taken as S; 0 gives o = 0), max-subtracted softmax with scale 1/sqrt(D).
 */
export function attentionDecodeRef(
  q: Arr,
  k: Arr,
  v: Arr,
  lengths: Arr,
  dims: DecodeDims,
): Float64Array {
  const { b, s, nh, nkv, d } = dims;
  const g = nh / nkv, scale = 1 / Math.sqrt(d);
  const o = new Float64Array(b * nh * d);
  for (let bb = 0; bb < b; bb++) {
    const n = Math.min(lengths[bb], s);
    for (let h = 0; h < nh; h++) {
      const kv = Math.floor(h / g), qi = (bb * nh + h) * d;
      const at = (j: number) => ((bb * s + j) * nkv + kv) * d;
      const sc = new Float64Array(n);
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[qi + c] * k[at(j) + c];
        sc[j] = dot * scale;
        m = Math.max(m, sc[j]);
      }
      let l = 0;
      for (let j = 0; j < n; j++) l += Math.exp(sc[j] - m);
      for (let j = 0; j < n; j++) {
        const pj = Math.exp(sc[j] - m) / l;
        for (let c = 0; c < d; c++) o[qi + c] += pj * v[at(j) + c];
      }
    }
  }
  return o;
}
