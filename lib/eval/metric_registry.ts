/**
 * The metrics a task file may name, each with the output types that compute it, its aggregation
 * over rows and whether higher is better — lm-eval's registry (`lm_eval/api/metrics.py`) for the
 * metrics Jikji computes. A task's `metric_list` entry may restate `aggregation` and
 * `higher_is_better`; a value that disagrees with the registry is refused, never silently used.
 *
 * @module
 */

import type { OutputType } from "./task_file.ts";

/** How per-row values become a task's number. */
export type Aggregation =
  | "mean"
  | "perplexity"
  | "weighted_perplexity"
  | "bits_per_byte"
  | "chrf"
  | "bleu"
  | "instruction_mean";

/** One registered metric. */
export interface MetricDef {
  types: OutputType[];
  aggregation: Aggregation;
  higher_is_better: boolean;
  /** What it is, for error messages and docs. */
  about: string;
}

const MC: OutputType[] = ["multiple_choice"];
const GEN: OutputType[] = ["generate_until"];
const ROLL: OutputType[] = ["loglikelihood_rolling"];

/** Every metric by name. */
export const METRICS: Record<string, MetricDef> = {
  acc: {
    types: ["multiple_choice", "loglikelihood"],
    aggregation: "mean",
    higher_is_better: true,
    about: "highest log-likelihood is gold (loglikelihood: greedy decoding yields the target)",
  },
  acc_norm: {
    types: MC,
    aggregation: "mean",
    higher_is_better: true,
    about: "highest log-likelihood per character of the choice is gold",
  },
  acc_bytes: {
    types: MC,
    aggregation: "mean",
    higher_is_better: true,
    about: "highest log-likelihood per UTF-8 byte of the choice is gold",
  },
  perplexity: {
    types: ["loglikelihood"],
    aggregation: "perplexity",
    higher_is_better: false,
    about: "exp(−mean log-likelihood of the target)",
  },
  word_perplexity: {
    types: ROLL,
    aggregation: "weighted_perplexity",
    higher_is_better: false,
    about: "exp(−Σ log-likelihood / Σ words)",
  },
  byte_perplexity: {
    types: ROLL,
    aggregation: "weighted_perplexity",
    higher_is_better: false,
    about: "exp(−Σ log-likelihood / Σ UTF-8 bytes)",
  },
  bits_per_byte: {
    types: ROLL,
    aggregation: "bits_per_byte",
    higher_is_better: false,
    about: "−Σ log-likelihood / Σ UTF-8 bytes / ln 2",
  },
  exact_match: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about:
      "the filtered answer equals a target (ignore_case, ignore_punctuation, regexes_to_ignore)",
  },
  exact: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about: "SQuAD v1.1 exact match after its normalization, best over the targets",
  },
  f1: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about: "SQuAD v1.1 token F1, best over the targets",
  },
  char_f1: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about: "character F1 with spaces and punctuation removed (KorQuAD), best over the targets",
  },
  chrf: {
    types: GEN,
    aggregation: "chrf",
    higher_is_better: true,
    about: "corpus chrF2 (character 6-grams, β = 2), as sacrebleu's corpus_chrf over the targets",
  },
  bleu: {
    types: GEN,
    aggregation: "bleu",
    higher_is_better: true,
    about: "corpus BLEU (13a tokens, exp smoothing), as sacrebleu's corpus_bleu over the targets",
  },
  prompt_level_strict_acc: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about: "IFEval: every instruction followed (strict)",
  },
  prompt_level_loose_acc: {
    types: GEN,
    aggregation: "mean",
    higher_is_better: true,
    about: "IFEval: every instruction followed (loose)",
  },
  inst_level_strict_acc: {
    types: GEN,
    aggregation: "instruction_mean",
    higher_is_better: true,
    about: "IFEval: share of instructions followed (strict)",
  },
  inst_level_loose_acc: {
    types: GEN,
    aggregation: "instruction_mean",
    higher_is_better: true,
    about: "IFEval: share of instructions followed (loose)",
  },
};

/** The metric names an output type can compute. */
export function metricsFor(type: OutputType): string[] {
  return Object.entries(METRICS).filter(([, d]) => d.types.includes(type)).map(([k]) => k);
}
