/**
 * Metrics computed as lm-evaluation-harness computes them: acc, acc_norm (log-likelihood divided by
 * the choice's length in characters — a Hangul syllable is one character), exact_match with its
 * normalization options, perplexity, and standard errors (sample standard error of the mean, as
 * lm-eval reports for mean metrics, and a seeded bootstrap for the others).
 *
 * @module
 */

/** Index of the largest value (the first on ties, like numpy.argmax). */
export function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Length in characters (Unicode code points), as Python's `len(str)`. */
export function charLength(s: string): number {
  return [...s].length;
}

/** acc: 1 when the choice with the highest log-likelihood is the gold one. */
export function acc(lls: number[], gold: number): number {
  return argmax(lls) === gold ? 1 : 0;
}

/**
 * acc_norm: 1 when the highest log-likelihood per character of the choice text is the gold one.
 *
 * @example
 * ```ts
 * import { accNorm } from "./metrics.ts";
 * accNorm([-6, -4], ["사과나무", "배"], 0); // 1: -6/4 = -1.5 beats -4/1
 * ```
 */
export function accNorm(lls: number[], choices: string[], gold: number): number {
  return argmax(lls.map((ll, i) => ll / charLength(choices[i]))) === gold ? 1 : 0;
}

/** Options of {@linkcode exactMatch}, as lm-eval's exact_match. */
export interface ExactMatchOptions {
  ignore_case?: boolean;
  ignore_punctuation?: boolean;
  regexes_to_ignore?: string[];
}

const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** exact_match: 1 when prediction and reference agree after the same normalization. */
export function exactMatch(pred: string, ref: string, opts: ExactMatchOptions = {}): number {
  const norm = (s: string) => {
    for (const r of opts.regexes_to_ignore ?? []) s = s.replace(new RegExp(r, "g"), "");
    if (opts.ignore_case) s = s.toLowerCase();
    if (opts.ignore_punctuation) s = s.replace(PUNCT, "");
    return s;
  };
  return norm(pred) === norm(ref) ? 1 : 0;
}

/** Mean of values. */
export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Standard error of the mean with the sample (n−1) standard deviation; lm-eval's mean_stderr. */
export function meanStderr(xs: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  const v = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1);
  return Math.sqrt(v / n);
}

/** Perplexity from per-document log-likelihoods: exp(−mean). */
export function perplexity(lls: number[]): number {
  return Math.exp(-mean(lls));
}

/** A small seeded generator (mulberry32) for reproducible sampling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Bootstrap standard error of `stat` over `xs`: the sample standard deviation of the statistic on
 * `iters` resamples with replacement (seeded).
 */
export function bootstrapStderr(
  xs: number[],
  stat: (sample: number[]) => number,
  iters = 1000,
  seed = 1234,
): number {
  if (xs.length < 2) return NaN;
  const rand = seededRandom(seed);
  const vals: number[] = [];
  const buf = new Array<number>(xs.length);
  for (let i = 0; i < iters; i++) {
    for (let j = 0; j < xs.length; j++) buf[j] = xs[Math.floor(rand() * xs.length)];
    vals.push(stat(buf));
  }
  const m = mean(vals);
  return Math.sqrt(vals.reduce((a, v) => a + (v - m) ** 2, 0) / (iters - 1));
}
