/**
 * The optimizer side of training: Thunder-LLM's AdamW defaults (β1 0.9, β2 0.95, eps 1e-5, weight
 * decay 0.1, decoupled), global gradient-norm clipping at 1.0, and the learning-rate schedule —
 * linear warm-up, then cosine decay to 10% of the peak.
 *
 * @module
 */

import type { Params } from "../model/params.ts";

/** AdamW hyper-parameters. */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Thunder-LLM's values. */
export const THUNDER_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-5, weightDecay: 0.1 };

/** Learning rate at `step` (0-based): linear warm-up over `warmup` steps, cosine to `minRatio`·peak at `total`. */
export function lrAt(
  step: number,
  peak: number,
  warmup: number,
  total: number,
  minRatio = 0.1,
): number {
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  if (step >= total) return peak * minRatio;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Global L2 norm of the gradients. */
export function gradNorm(grads: Params): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** Scales gradients so their global norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(grads: Params, maxNorm: number): number {
  const n = gradNorm(grads);
  if (maxNorm > 0 && n > maxNorm) {
    const k = maxNorm / (n + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= k;
  }
  return n;
}

/** AdamW with f32 moment buffers; `t` counts the updates taken (for bias correction). */
export class AdamW {
  m: Params = new Map();
  v: Params = new Map();
  t = 0;
  constructor(readonly cfg: AdamWConfig, params: Params) {
    for (const [k, p] of params) {
      this.m.set(k, new Float32Array(p.length));
      this.v.set(k, new Float32Array(p.length));
    }
  }

  /**
   * One update. Weight decay applies to matrices only (embeddings and linear weights), not to
   * the RMSNorm gains, as is usual for Llama pre-training.
   */
  step(params: Params, grads: Params, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    this.t++;
    const bc1 = 1 - Math.pow(beta1, this.t), bc2 = 1 - Math.pow(beta2, this.t);
    for (const [k, p] of params) {
      const g = grads.get(k)!, m = this.m.get(k)!, v = this.v.get(k)!;
      const wd = k.endsWith("norm.weight") ? 0 : weightDecay;
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        const upd = (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps);
        p[i] -= lr * (upd + wd * p[i]);
      }
    }
  }
}
