/**
 * Plain references for AdamW and global-norm clipping (lib/ops/optim.ts), float64.
 *
 * @module
 */

/** AdamW hyper-parameters. */
export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One AdamW step at step number `t` (1-based), in place, with gradient multiplied by `clip`. */
export function adamwRef(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  cfg: AdamWConfig,
  t: number,
  clip = 1,
): void {
  const bc1 = 1 - cfg.beta1 ** t, bc2 = 1 - cfg.beta2 ** t;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * clip;
    m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * gi;
    v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * gi * gi;
    p[i] = p[i] * (1 - cfg.lr * cfg.weightDecay) -
      cfg.lr * (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + cfg.eps);
  }
}

/** Global L2 norm of all gradients and the clip factor min(1, maxNorm / (norm + 1e-6)). */
export function clipFactorRef(grads: ArrayLike<number>[], maxNorm: number): [number, number] {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  return [norm, maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1];
}
