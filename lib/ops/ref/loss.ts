/**
 * Plain reference (float64) for softmax cross-entropy with optional z-loss (lib/ops/loss.ts).
 *
 * @module
 */

/**
 * Per-row loss `lse - logit[t] + z·lse²` of logits (N, V) and the gradient of `scale · Σ loss`
 * w.r.t. the logits; rows with target < 0 give 0.
 */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  v: number,
  z = 0,
  scale = 1,
): { loss: Float64Array; dlogits: Float64Array } {
  const n = targets.length;
  const loss = new Float64Array(n), dlogits = new Float64Array(n * v);
  for (let r = 0; r < n; r++) {
    const t = targets[r];
    if (t < 0) continue;
    let m = -Infinity;
    for (let i = 0; i < v; i++) m = Math.max(m, logits[r * v + i]);
    let s = 0;
    for (let i = 0; i < v; i++) s += Math.exp(logits[r * v + i] - m);
    const lse = m + Math.log(s);
    loss[r] = lse - logits[r * v + t] + z * lse * lse;
    for (let i = 0; i < v; i++) {
      const p = Math.exp(logits[r * v + i] - lse);
      dlogits[r * v + i] = scale * (p * (1 + 2 * z * lse) - (i === t ? 1 : 0));
    }
  }
  return { loss, dlogits };
}
