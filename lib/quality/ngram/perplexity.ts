/**
 * Document scores from an n-gram model, as the two pipelines define them:
 *
 * - ccnet (Wenzek et al. 2020, `cc_net/perplexity.py`): every line of the document is a sentence;
 *   perplexity = 10^(−Σ log10 p / (words + lines)), the `+ lines` counting each line's `</s>`.
 * - Thunder-LLM's toolkit: −Σ log10 p / words (an average negative log10 probability per word).
 *
 * ccnet then sorts documents into buckets by perplexity percentiles of a reference sample:
 * "head" below the 30th percentile, "middle" below the 60th, "tail" above.
 *
 * @module
 */

import type { NgramModel } from "./model.ts";
import { type LineTokenizer, whitespaceTokenizer } from "./vocab.ts";

/** Scores of one document. */
export interface DocScore {
  /** Σ log10 p over all lines (words and `</s>`). */
  logprob: number;
  words: number;
  /** Non-empty lines scored. */
  lines: number;
  oov: number;
  /** ccnet: 10^(−logprob / (words + lines)). */
  perplexity: number;
  /** Thunder-LLM: −logprob / words (Infinity for a document without words). */
  nll_per_word: number;
}

/**
 * Scores `text` line by line.
 *
 * @example
 * ```ts
 * import { trainNgram } from "./train.ts";
 * import { scoreDocument } from "./perplexity.ts";
 * const { model } = await trainNgram(["a b", "a"], { order: 2, discountFallback: [0.5, 1, 1.5] });
 * const s = scoreDocument(model, "a b");
 * console.log(s.perplexity.toFixed(3)); // 10^(-log10(0.625·0.375·0.6875)/3)
 * ```
 */
export function scoreDocument(
  model: NgramModel,
  text: string,
  tokenize: LineTokenizer = whitespaceTokenizer,
): DocScore {
  let logprob = 0, words = 0, lines = 0, oov = 0;
  for (const line of text.split("\n")) {
    const toks = tokenize(line);
    if (toks.length === 0) continue;
    const s = model.scoreSentence(toks);
    logprob += s.logprob;
    words += s.words;
    oov += s.oov;
    lines++;
  }
  return {
    logprob,
    words,
    lines,
    oov,
    perplexity: words + lines > 0 ? Math.pow(10, -logprob / (words + lines)) : Infinity,
    nll_per_word: words > 0 ? -logprob / words : Infinity,
  };
}

/** ccnet's buckets. */
export type PerplexityBucket = "head" | "middle" | "tail";

/** Percentile cut-offs (ccnet uses the 30th and 60th). */
export interface BucketCutoffs {
  p30: number;
  p60: number;
}

/** The `q`-th percentile (0–100) of `values`, linear between ranks (as numpy's default). */
export function percentile(values: ArrayLike<number>, q: number): number {
  const v = Float64Array.from(values).sort();
  if (v.length === 0) return NaN;
  const pos = (q / 100) * (v.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** Cut-offs at the 30th and 60th percentiles of sample perplexities. */
export function bucketCutoffs(perplexities: ArrayLike<number>): BucketCutoffs {
  return { p30: percentile(perplexities, 30), p60: percentile(perplexities, 60) };
}

/** ccnet's bucket of a perplexity: head ≤ p30 < middle ≤ p60 < tail. */
export function bucketOf(perplexity: number, cutoffs: BucketCutoffs): PerplexityBucket {
  return perplexity <= cutoffs.p30 ? "head" : perplexity <= cutoffs.p60 ? "middle" : "tail";
}
