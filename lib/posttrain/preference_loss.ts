/**
 * Preference losses on per-sequence log-probabilities, as TRL's `DPOTrainer`/`CPOTrainer` and
 * Thunder-LLM's release define them, each with its derivative w.r.t. the policy's summed
 * log-probs of the chosen and the rejected answer. The model's general loss head turns those
 * derivatives into per-token weights (w = −∂L/∂Σlog p on every answer token), so no loss needs a
 * kernel of its own.
 *
 * Notation per pair: πc, πr = Σ log p_θ over the chosen / rejected answer tokens; ρc, ρr the same
 * under the frozen reference model; lc, lr the answer lengths in tokens; σ the logistic function.
 * - `sigmoid` (DPO): z = β((πc − ρc) − (πr − ρr)), L = −log σ(z)
 * - `ipo`: on length-averaged log-probs (TRL), z = (πc/lc − πr/lr) − (ρc/lc − ρr/lr),
 *   L = (z − 1/(2β))²
 * - `hinge` (SLiC): z = (πc − ρc) − (πr − ρr), L = max(0, 1 − βz)
 * - `thunder` (Thunder-LLM, reference-free): L = −log σ(β(πc − πr) − γ)
 * - `simpo` (length-normalised, reference-free): L = −log σ(β(πc/lc − πr/lr) − γ)
 * Rewards as TRL logs them: β(πc − ρc) and β(πr − ρr) with a reference, β·πc and β·πr without
 * (β·πc/lc for simpo).
 *
 * @example
 * ```ts
 * import { preferenceLoss } from "./preference_loss.ts";
 * const r = preferenceLoss("thunder", { pc: -10, pr: -12, lc: 5, lr: 6 }, { beta: 0.1, gamma: 0.5 });
 * // −log σ(0.1·2 − 0.5) = log(1 + e^0.3)
 * if (Math.abs(r.loss - Math.log(1 + Math.exp(0.3))) > 1e-12) throw new Error("thunder");
 * ```
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** The preference losses. */
export const PREFERENCE_LOSSES = ["sigmoid", "ipo", "hinge", "thunder", "simpo"] as const;

/** One of {@linkcode PREFERENCE_LOSSES}. */
export type PreferenceLossName = typeof PREFERENCE_LOSSES[number];

/** True for losses that need the reference model's log-probs. */
export function needsReference(name: PreferenceLossName): boolean {
  return name === "sigmoid" || name === "ipo" || name === "hinge";
}

/** One pair's summed log-probs and lengths (ρ only for the losses with a reference). */
export interface PairLogps {
  pc: number;
  pr: number;
  lc: number;
  lr: number;
  rc?: number;
  rr?: number;
}

/** A pair's loss, its derivatives w.r.t. πc and πr, and TRL's rewards. */
export interface PairLoss {
  loss: number;
  dPc: number;
  dPr: number;
  rewardChosen: number;
  rewardRejected: number;
}

/** Hyper-parameters: β and γ (the margin of thunder and simpo). */
export interface PreferenceParams {
  beta: number;
  gamma: number;
}

/** Defaults per loss: TRL's β 0.1 for DPO/IPO/hinge; Thunder-LLM's β 0.1, γ 0.5; SimPO β 2, γ 0.5. */
export function defaultPreferenceParams(name: PreferenceLossName): PreferenceParams {
  return name === "simpo" ? { beta: 2, gamma: 0.5 } : { beta: 0.1, gamma: 0.5 };
}

/** log σ(x), stable. */
function _logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function _sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The loss of one pair (see the module doc). */
export function preferenceLoss(
  name: PreferenceLossName,
  p: PairLogps,
  hp: PreferenceParams,
): PairLoss {
  const { beta, gamma } = hp;
  const ref = needsReference(name);
  if (ref && (p.rc === undefined || p.rr === undefined)) {
    throw new UserError(`--loss ${name} needs the reference model's log-probs`);
  }
  const rc = p.rc ?? 0, rr = p.rr ?? 0;
  switch (name) {
    case "sigmoid": {
      const z = beta * ((p.pc - rc) - (p.pr - rr));
      const g = -beta * _sigmoid(-z); // dL/dz · dz/dπc
      return {
        loss: -_logSigmoid(z),
        dPc: g,
        dPr: -g,
        rewardChosen: beta * (p.pc - rc),
        rewardRejected: beta * (p.pr - rr),
      };
    }
    case "ipo": {
      const z = (p.pc / p.lc - p.pr / p.lr) - (rc / p.lc - rr / p.lr);
      const d = 2 * (z - 1 / (2 * beta));
      return {
        loss: (z - 1 / (2 * beta)) ** 2,
        dPc: d / p.lc,
        dPr: -d / p.lr,
        rewardChosen: beta * (p.pc - rc),
        rewardRejected: beta * (p.pr - rr),
      };
    }
    case "hinge": {
      const z = (p.pc - rc) - (p.pr - rr);
      const active = 1 - beta * z > 0;
      return {
        loss: Math.max(0, 1 - beta * z),
        dPc: active ? -beta : 0,
        dPr: active ? beta : 0,
        rewardChosen: beta * (p.pc - rc),
        rewardRejected: beta * (p.pr - rr),
      };
    }
    case "thunder": {
      const z = beta * (p.pc - p.pr) - gamma;
      const g = -beta * _sigmoid(-z);
      return {
        loss: -_logSigmoid(z),
        dPc: g,
        dPr: -g,
        rewardChosen: beta * p.pc,
        rewardRejected: beta * p.pr,
      };
    }
    case "simpo": {
      const z = beta * (p.pc / p.lc - p.pr / p.lr) - gamma;
      const g = -beta * _sigmoid(-z);
      return {
        loss: -_logSigmoid(z),
        dPc: g / p.lc,
        dPr: -g / p.lr,
        rewardChosen: beta * p.pc / p.lc,
        rewardRejected: beta * p.pr / p.lr,
      };
    }
  }
}

/** TRL's logged metrics over a batch of pair losses (means). */
export function preferenceMetrics(pairs: PairLoss[]): Record<string, number> {
  const n = Math.max(1, pairs.length);
  const sum = (f: (p: PairLoss) => number) => pairs.reduce((a, p) => a + f(p), 0) / n;
  return {
    loss: sum((p) => p.loss),
    "rewards/chosen": sum((p) => p.rewardChosen),
    "rewards/rejected": sum((p) => p.rewardRejected),
    "rewards/margins": sum((p) => p.rewardChosen - p.rewardRejected),
    "rewards/accuracies": sum((p) => (p.rewardChosen > p.rewardRejected ? 1 : 0)),
  };
}
