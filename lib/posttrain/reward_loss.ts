/**
 * The Bradley–Terry reward-model loss, as TRL's `RewardTrainer` defines it, with its derivatives
 * w.r.t. the two scores (the model's value head turns them into gradients), and the metrics a
 * reward model is judged by.
 *
 * Per pair: r_c, r_r the scores of the chosen and the rejected sequence, m an optional margin.
 * - L = −log σ(r_c − r_r − m)
 * - with reward centring (coefficient c, TRL's `center_rewards_coefficient`): + c·(r_c + r_r)²,
 *   which keeps the scores near zero mean without changing which answer is preferred.
 *
 * @example
 * ```ts
 * import { rewardLoss } from "./reward_loss.ts";
 * const r = rewardLoss(1.5, 0.5, { margin: 0, center: 0 });
 * // −log σ(1) = log(1 + e^−1)
 * if (Math.abs(r.loss - Math.log(1 + Math.exp(-1))) > 1e-12) throw new Error("bradley-terry");
 * ```
 *
 * @module
 */

/** Options of the loss: the pair's margin and the centring coefficient. */
export interface RewardLossParams {
  margin: number;
  center: number;
}

/** One pair's loss and its derivatives w.r.t. r_c and r_r. */
export interface RewardPairLoss {
  loss: number;
  dRc: number;
  dRr: number;
}

function _sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The loss of one pair (see the module doc). */
export function rewardLoss(rc: number, rr: number, p: RewardLossParams): RewardPairLoss {
  const z = rc - rr - p.margin;
  // −log σ(z), stable for both signs
  const nll = z >= 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z));
  const g = -_sigmoid(-z); // dL/dz
  const s = rc + rr;
  return {
    loss: nll + p.center * s * s,
    dRc: g + 2 * p.center * s,
    dRr: -g + 2 * p.center * s,
  };
}

/** Accuracy (share with r_c > r_r) with its standard error, and the mean margin r_c − r_r. */
export function rewardMetrics(
  scores: { chosen: number; rejected: number }[],
): { accuracy: number; accuracy_se: number; margin: number; pairs: number } {
  const n = scores.length;
  if (!n) return { accuracy: NaN, accuracy_se: NaN, margin: NaN, pairs: 0 };
  let right = 0, margin = 0;
  for (const s of scores) {
    if (s.chosen > s.rejected) right++;
    margin += s.chosen - s.rejected;
  }
  const acc = right / n;
  return {
    accuracy: acc,
    accuracy_se: Math.sqrt(acc * (1 - acc) / Math.max(1, n - 1)),
    margin: margin / n,
    pairs: n,
  };
}
