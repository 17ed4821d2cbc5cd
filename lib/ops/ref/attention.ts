/**
 * Plain reference (float64, materialised scores) for causal grouped-query attention
 * (lib/ops/attention.ts): forward with log-sum-exp, and backward.
 *
 * @module
 */

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
