/**
 * Plain reference (float64) for the general LM head (lib/ops/lm_head.ts): logits z = h·Wᵀ, then per
 * row the weighted hard-target NLL, the distillation term and the evaluation statistics, and the
 * gradients w.r.t. the logits, h and W.
 *
 * With p = softmax(z), pτ = softmax(z/τ) and Q = Σ_j q_j (1 for a normalised teacher; less for
 * top-k), row i's loss and its gradient are
 *   loss_i  = w_i·(lse_i − z_i[t_i]) + ws_i·τ²·Σ_j q_ij·(log q_ij − log pτ_ij)   (0·log 0 = 0)
 *   dloss_i/dz_i = w_i·(p_i − onehot(t_i)) + ws_i·τ·(Q_i·pτ_i − q_i)
 * where the hard term is absent when t_i is outside [0, V).
 *
 * @module
 */

import { matmulRef } from "./gemm.ts";

type Arr = ArrayLike<number>;

/** Rows N, channels C, vocabulary V. */
export interface LmHeadDims {
  n: number;
  c: number;
  v: number;
}

/** What {@linkcode lmHeadRef} scores: the array twin of `LmHeadSpec` (lib/ops/lm_head.ts). */
export interface LmHeadRefSpec {
  /** (N) target ids; outside [0, V) = no hard target. */
  targets: Arr;
  /** (N) weights of the hard terms (default 0). */
  weights?: Arr;
  soft?: {
    /** (N, V), or (N, K) with `ids`. */
    probs: Arr;
    /** (N, K) distinct ids per row; an id outside [0, V) is padding. */
    ids?: Arr;
    /** (N) weights of the soft terms. */
    weights: Arr;
    /** τ > 0. */
    temperature: number;
  };
}

/** Outputs of {@linkcode lmHeadRef}; the gradients only with `grad`. */
export interface LmHeadRefResult {
  /** (N, 4): lse, logit of the target (0 when none), max logit, argmax id (first on ties). */
  stats: Float64Array;
  /** (N) per-row loss. */
  loss: Float64Array;
  /** (N, V) logits. */
  logits: Float64Array;
  /** (N, V) dloss/dlogits. */
  dlogits?: Float64Array;
  /** (N, C). */
  dh?: Float64Array;
  /** (V, C). */
  dw?: Float64Array;
}

/** The reference LM head on h (N, C) and w (V, C). */
export function lmHeadRef(
  h: Arr,
  w: Arr,
  spec: LmHeadRefSpec,
  dims: LmHeadDims,
  opts: { grad?: boolean } = {},
): LmHeadRefResult {
  const { n, c, v } = dims;
  const logits = matmulRef(h, w, { m: n, n: v, k: c, transB: true });
  const rows = lmHeadRowsRef(logits, spec, n, v, opts);
  if (!rows.dlogits) return { ...rows, logits };
  const dh = matmulRef(rows.dlogits, w, { m: n, n: c, k: v });
  const dw = matmulRef(rows.dlogits, h, { m: v, n: c, k: n, transA: true });
  return { ...rows, logits, dh, dw };
}

/**
 * The per-row part of {@linkcode lmHeadRef} on given logits (N, V): stats, loss and (with
 * `grad`) dloss/dlogits. Backends that do their own GEMMs (the CPU model) call this.
 */
export function lmHeadRowsRef(
  logits: Arr,
  spec: LmHeadRefSpec,
  n: number,
  v: number,
  opts: { grad?: boolean } = {},
): { stats: Float64Array; loss: Float64Array; dlogits?: Float64Array } {
  const soft = spec.soft;
  const k = soft?.ids ? soft.ids.length / n : v;
  if (soft && soft.probs.length !== n * k) {
    throw new Error(`lmHeadRef: soft probs hold ${soft.probs.length} values, expected ${n * k}`);
  }
  const stats = new Float64Array(n * 4), loss = new Float64Array(n);
  const dlogits = opts.grad ? new Float64Array(n * v) : undefined;
  const inV = (x: number) => Number.isInteger(x) && x >= 0 && x < v;
  for (let r = 0; r < n; r++) {
    const z = _row(logits, r * v, v);
    let m = -Infinity, mi = 0;
    for (let i = 0; i < v; i++) if (z[i] > m) [m, mi] = [z[i], i];
    let s = 0;
    for (let i = 0; i < v; i++) s += Math.exp(z[i] - m);
    const lse = m + Math.log(s);
    const t = spec.targets[r];
    const hasT = inV(t);
    const wr = hasT ? spec.weights?.[r] ?? 0 : 0;
    const zt = hasT ? z[t] : 0;
    stats.set([lse, zt, m, mi], r * 4);
    loss[r] = hasT ? wr * (lse - zt) : 0;
    const g = dlogits?.subarray(r * v, (r + 1) * v);
    if (g && hasT) {
      for (let i = 0; i < v; i++) g[i] = wr * (Math.exp(z[i] - lse) - (i === t ? 1 : 0));
    }
    if (!soft) continue;
    // the teacher's row as (id, q) pairs
    const ids: number[] = [], qs: number[] = [];
    for (let j = 0; j < k; j++) {
      const id = soft.ids ? soft.ids[r * k + j] : j;
      if (!inV(id)) continue;
      if (soft.ids && ids.includes(id)) throw new Error(`lmHeadRef: row ${r} repeats id ${id}`);
      ids.push(id);
      qs.push(soft.probs[r * k + j]);
    }
    const tau = soft.temperature, ws = soft.weights[r];
    let st = 0;
    for (let i = 0; i < v; i++) st += Math.exp((z[i] - m) / tau);
    const logPt = (i: number) => (z[i] - m) / tau - Math.log(st);
    let kl = 0, qsum = 0;
    for (let j = 0; j < ids.length; j++) {
      if (qs[j] > 0) kl += qs[j] * (Math.log(qs[j]) - logPt(ids[j]));
      qsum += qs[j];
    }
    loss[r] += ws * tau * tau * kl;
    if (g) {
      for (let i = 0; i < v; i++) g[i] += ws * tau * qsum * Math.exp(logPt(i));
      for (let j = 0; j < ids.length; j++) g[ids[j]] -= ws * tau * qs[j];
    }
  }
  return { stats, loss, dlogits };
}

function _row(x: Arr, start: number, len: number): Arr {
  if (ArrayBuffer.isView(x)) return (x as Float64Array).subarray(start, start + len);
  return Array.prototype.slice.call(x, start, start + len) as number[];
}
