/**
 * Plain reference (float64, materialised scores) for causal grouped-query attention
 * (lib/ops/attention.ts): forward with log-sum-exp, and backward.
 *
 * @module
 */

import { fromFp8, toFp8 } from "./cast.ts";

/** Dimensions: batch, time, query heads, KV heads, head dim. */
export interface AttnDims {
  b: number;
  t: number;
  nh: number;
  nkv: number;
  d: number;
}

type Arr = ArrayLike<number>;

function allowed(i: number, j: number, doc: Arr | undefined, bb: number, t: number): boolean {
  return j <= i && (!doc || doc[bb * t + j] === doc[bb * t + i]);
}

/** Probabilities P (B, NH, T, T) and lse (B, NH, T). */
function probs(q: Arr, k: Arr, dims: AttnDims, doc?: Arr) {
  const { b, t, nh, nkv, d } = dims;
  const scale = 1 / Math.sqrt(d), g = nh / nkv;
  const P = new Float64Array(b * nh * t * t), lse = new Float64Array(b * nh * t);
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < t; i++) {
        const row = ((bb * nh + h) * t + i) * t;
        let m = -Infinity;
        const s = new Float64Array(t).fill(-Infinity);
        for (let j = 0; j < t; j++) {
          if (!allowed(i, j, doc, bb, t)) continue;
          let dot = 0;
          for (let c = 0; c < d; c++) {
            dot += q[((bb * t + i) * nh + h) * d + c] *
              k[((bb * t + j) * nkv + Math.floor(h / g)) * d + c];
          }
          s[j] = dot * scale;
          m = Math.max(m, s[j]);
        }
        let l = 0;
        for (let j = 0; j < t; j++) l += s[j] === -Infinity ? 0 : Math.exp(s[j] - m);
        lse[(bb * nh + h) * t + i] = m + Math.log(l);
        for (let j = 0; j < t; j++) P[row + j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - m) / l;
      }
    }
  }
  return { P, lse };
}

/** Forward: o (B, T, NH, D) and lse (B, NH, T). */
export function attentionRef(q: Arr, k: Arr, v: Arr, dims: AttnDims, doc?: Arr) {
  const { b, t, nh, nkv, d } = dims;
  const g = nh / nkv;
  const { P, lse } = probs(q, k, dims, doc);
  const o = new Float64Array(b * t * nh * d);
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < t; i++) {
        for (let j = 0; j < t; j++) {
          const pij = P[((bb * nh + h) * t + i) * t + j];
          if (pij === 0) continue;
          for (let c = 0; c < d; c++) {
            o[((bb * t + i) * nh + h) * d + c] += pij *
              v[((bb * t + j) * nkv + Math.floor(h / g)) * d + c];
          }
        }
      }
    }
  }
  return { o, lse };
}

/**
 * Backward: dq, dk, dv from dout. With `o` given, the row term Σ_j P·dP uses the identity
 * Σ_j P_ij dP_ij = dout_i · o_i on that (e.g. BF16-stored) o, as the GPU kernel does.
 */
export function attentionBackwardRef(
  q: Arr,
  k: Arr,
  v: Arr,
  dout: Arr,
  dims: AttnDims,
  doc?: Arr,
  o?: Arr,
) {
  const { b, t, nh, nkv, d } = dims;
  const g = nh / nkv, scale = 1 / Math.sqrt(d);
  const { P } = probs(q, k, dims, doc);
  const dq = new Float64Array(q.length),
    dk = new Float64Array(k.length),
    dv = new Float64Array(v.length);
  const qi = (bb: number, i: number, h: number) => ((bb * t + i) * nh + h) * d;
  const ki = (bb: number, j: number, h: number) => ((bb * t + j) * nkv + Math.floor(h / g)) * d;
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < t; i++) {
        const row = ((bb * nh + h) * t + i) * t;
        const dp = new Float64Array(t);
        let sum = 0;
        for (let j = 0; j < t; j++) {
          if (P[row + j] === 0) continue;
          for (let c = 0; c < d; c++) dp[j] += dout[qi(bb, i, h) + c] * v[ki(bb, j, h) + c];
          sum += P[row + j] * dp[j];
        }
        if (o) {
          sum = 0;
          for (let c = 0; c < d; c++) sum += dout[qi(bb, i, h) + c] * o[qi(bb, i, h) + c];
        }
        for (let j = 0; j < t; j++) {
          const pij = P[row + j];
          if (pij === 0) continue;
          const ds = pij * (dp[j] - sum) * scale;
          for (let c = 0; c < d; c++) {
            dq[qi(bb, i, h) + c] += ds * k[ki(bb, j, h) + c];
            dk[ki(bb, j, h) + c] += ds * q[qi(bb, i, h) + c];
            dv[ki(bb, j, h) + c] += pij * dout[qi(bb, i, h) + c];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** fp8-attention ablation rounding: E4M3 of x·s, divided back by s (in f32, as the kernel). */
function _fp8r(x: number, s: number): number {
  return Math.fround(fromFp8(toFp8(Math.fround(x * s), "e4m3"), "e4m3") / s);
}

/** q, k, v as the kernel reads them: unchanged, or rounded through E4M3 with scales (q, k, v). */
function _fp8Inputs(q: Arr, k: Arr, v: Arr, scales?: Arr): [Arr, Arr, Arr] {
  if (!scales) return [q, k, v];
  const r = (x: Arr, s: number) => Float64Array.from(x as ArrayLike<number>, (y) => _fp8r(y, s));
  return [r(q, scales[0]), r(k, scales[1]), r(v, scales[2])];
}

const _TILE = 16; // kernels/attention.wgsl's key tile

/**
 * The attention kernel's own algorithm (kernels/attention.wgsl), in f64: online softmax over key
 * tiles of 16; with `fp8Scales` (q, k, v) the ablation's rounding of q, k, v and of each
 * probability exp(s − running max) through E4M3 (scale 448) before the P·V product. Without it
 * this equals {@linkcode attentionRef} up to summation order.
 */
export function attentionFlashRef(
  q: Arr,
  k: Arr,
  v: Arr,
  dims: AttnDims,
  doc?: Arr,
  fp8Scales?: Arr,
): { o: Float64Array; lse: Float64Array } {
  const { b, t, nh, nkv, d } = dims;
  if (!fp8Scales) return attentionRef(q, k, v, dims, doc);
  [q, k, v] = _fp8Inputs(q, k, v, fp8Scales);
  const scale = Math.fround(1 / Math.sqrt(d)), g = nh / nkv;
  const o = new Float64Array(b * t * nh * d), lse = new Float64Array(b * nh * t);
  const acc = new Float64Array(d), s = new Float64Array(_TILE);
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nh; h++) {
      const kh = Math.floor(h / g);
      for (let i = 0; i < t; i++) {
        const qo = ((bb * t + i) * nh + h) * d;
        let m = -Infinity, l = 0;
        acc.fill(0);
        for (let j0 = 0; j0 <= i; j0 += _TILE) {
          let tmax = -Infinity;
          for (let jj = 0; jj < _TILE; jj++) {
            const j = j0 + jj;
            s[jj] = -Infinity;
            if (j >= t || !allowed(i, j, doc, bb, t)) continue;
            let dot = 0;
            for (let c = 0; c < d; c++) {
              dot += q[qo + c] * scale * k[((bb * t + j) * nkv + kh) * d + c];
            }
            s[jj] = dot;
            tmax = Math.max(tmax, dot);
          }
          if (tmax === -Infinity) continue;
          const mn = Math.max(m, tmax), corr = Math.exp(m - mn);
          l *= corr;
          for (let c = 0; c < d; c++) acc[c] *= corr;
          for (let jj = 0; jj < _TILE; jj++) {
            if (s[jj] === -Infinity) continue;
            const pj = _fp8r(Math.exp(s[jj] - mn), 448);
            l += pj;
            const vo = ((bb * t + j0 + jj) * nkv + kh) * d;
            for (let c = 0; c < d; c++) acc[c] += pj * v[vo + c];
          }
          m = mn;
        }
        for (let c = 0; c < d; c++) o[qo + c] = acc[c] / l;
        lse[(bb * nh + h) * t + i] = m + Math.log(l);
      }
    }
  }
  return { o, lse };
}

/**
 * The attention kernel's backward (FlashAttention-2 algebra) in f64, from the forward's stored o
 * and lse: drow = dout·o, P = exp(s − lse), dS = P·(dP − drow); with `fp8Scales`, q, k, v are read
 * rounded and dV uses E4M3-rounded P (gradients straight-through). Without it this equals
 * {@linkcode attentionBackwardRef} given `o`.
 */
export function attentionBackwardFlashRef(
  q: Arr,
  k: Arr,
  v: Arr,
  o: Arr,
  lse: Arr,
  dout: Arr,
  dims: AttnDims,
  doc?: Arr,
  fp8Scales?: Arr,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  if (!fp8Scales) return attentionBackwardRef(q, k, v, dout, dims, doc, o);
  [q, k, v] = _fp8Inputs(q, k, v, fp8Scales);
  const { b, t, nh, nkv, d } = dims;
  const scale = Math.fround(1 / Math.sqrt(d)), g = nh / nkv;
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nh; h++) {
      const kh = Math.floor(h / g);
      for (let i = 0; i < t; i++) {
        const qo = ((bb * t + i) * nh + h) * d, row = (bb * nh + h) * t + i;
        let drow = 0;
        for (let c = 0; c < d; c++) drow += dout[qo + c] * o[qo + c];
        for (let j = 0; j <= i; j++) {
          if (!allowed(i, j, doc, bb, t)) continue;
          const ko = ((bb * t + j) * nkv + kh) * d;
          let sc = 0, dp = 0;
          for (let c = 0; c < d; c++) {
            sc += q[qo + c] * k[ko + c];
            dp += dout[qo + c] * v[ko + c];
          }
          const pij = Math.exp(sc * scale - lse[row]);
          const ds = pij * (dp - drow), pv = _fp8r(pij, 448);
          for (let c = 0; c < d; c++) {
            dq[qo + c] += ds * k[ko + c] * scale;
            dk[ko + c] += ds * q[qo + c] * scale;
            dv[ko + c] += pv * dout[qo + c];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
