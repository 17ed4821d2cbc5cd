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

/** acc_bytes: 1 when the highest log-likelihood per UTF-8 byte of the choice is gold. */
export function accBytes(lls: number[], choices: string[], gold: number): number {
  const enc = new TextEncoder();
  return argmax(lls.map((ll, i) => ll / enc.encode(choices[i]).length)) === gold ? 1 : 0;
}

/** Python's `string.punctuation`. */
const ASCII_PUNCT = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
/** A Python `\w` character on either side: `\b` as Python's Unicode regexes have it. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** Python's `str.split()`: runs of whitespace, no empty items. */
function _pySplit(s: string): string[] {
  return s.split(/\s+/u).filter((x) => x !== "");
}

/**
 * SQuAD v1.1's answer normalization: lower case, ASCII punctuation removed, the articles a, an,
 * the removed, whitespace collapsed.
 *
 * @example
 * ```ts
 * import { squadNormalize } from "./metrics.ts";
 * squadNormalize("The  Eiffel-Tower!"); // "eiffeltower"
 * ```
 */
export function squadNormalize(s: string): string {
  const noPunct = [...s.toLowerCase()].filter((c) => !ASCII_PUNCT.has(c)).join("");
  return _pySplit(noPunct.replace(ARTICLES, " ")).join(" ");
}

/** F1 of two multisets of items (0 when they share none). */
function _bagF1(pred: string[], gold: string[]): number {
  const counts = new Map<string, number>();
  for (const g of gold) counts.set(g, (counts.get(g) ?? 0) + 1);
  let same = 0;
  for (const p of pred) {
    const n = counts.get(p) ?? 0;
    if (n > 0) {
      same++;
      counts.set(p, n - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / pred.length;
  const recall = same / gold.length;
  return (2 * precision * recall) / (precision + recall);
}

/** SQuAD v1.1 token F1 of one prediction against one answer. */
export function squadF1(pred: string, gold: string): number {
  return _bagF1(_pySplit(squadNormalize(pred)), _pySplit(squadNormalize(gold)));
}

/** SQuAD v1.1 exact match after normalization. */
export function squadExact(pred: string, gold: string): number {
  return squadNormalize(pred) === squadNormalize(gold) ? 1 : 0;
}

/** The quotes and brackets KorQuAD's evaluation script turns into spaces. */
const KO_SYMBOLS = /['"《》<>〈〉()‘’]/g;

/**
 * Character-level F1 as KorQuAD reports it: quotes and brackets, ASCII punctuation and all
 * whitespace removed, lower case, then F1 over the multiset of characters.
 *
 * @example
 * ```ts
 * import { charF1 } from "./metrics.ts";
 * charF1("서울 특별시", "서울특별시"); // 1
 * ```
 */
export function charF1(pred: string, gold: string): number {
  const chars = (s: string) =>
    [...s.replace(KO_SYMBOLS, " ").toLowerCase()].filter((c) =>
      !ASCII_PUNCT.has(c) && !/\s/u.test(c)
    );
  return _bagF1(chars(pred), chars(gold));
}

/** The best score of `pred` over several gold answers (SQuAD's metric_max_over_ground_truths). */
export function maxOverGolds(
  fn: (pred: string, gold: string) => number,
  pred: string,
  golds: string[],
): number {
  return Math.max(...golds.map((g) => fn(pred, g)));
}

/** Words as lm-eval counts them for word perplexity: `re.split(r"\s+", text)` items. */
export function countWords(text: string): number {
  return text.split(/\s+/u).length;
}

/** UTF-8 bytes of a text. */
export function countBytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** exp(−Σ ll / Σ weight): lm-eval's weighted_perplexity over (ll, weight) pairs. */
export function weightedPerplexity(pairs: [number, number][]): number {
  return Math.exp(-_weightedMean(pairs));
}

/** −Σ ll / Σ bytes / ln 2: lm-eval's bits_per_byte. */
export function bitsPerByte(pairs: [number, number][]): number {
  return -_weightedMean(pairs) / Math.LN2;
}

function _weightedMean(pairs: [number, number][]): number {
  let a = 0;
  let b = 0;
  for (const [x, w] of pairs) {
    a += x;
    b += w;
  }
  return a / b;
}

/** chrF's character n-gram order and β (sacrebleu's defaults: chrF2, no word n-grams). */
const CHRF_ORDER = 6;
const CHRF_BETA = 2;

function _charNgrams(s: string, n: number): Map<string, number> {
  const cs = [...s.split(/\s+/u).join("")];
  const m = new Map<string, number>();
  for (let i = 0; i + n <= cs.length; i++) {
    const g = cs.slice(i, i + n).join("");
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** chrF from [hyp, ref, match] counts per order, 0…100 (sacrebleu's chrF2 without smoothing). */
export function chrfScore(stats: number[]): number {
  const f = CHRF_BETA ** 2;
  let p = 0;
  let r = 0;
  let k = 0;
  for (let i = 0; i < CHRF_ORDER; i++) {
    const [h, g, m] = stats.slice(3 * i, 3 * i + 3);
    if (h > 0 && g > 0) {
      p += m / h;
      r += m / g;
      k++;
    }
  }
  if (k === 0) return 0;
  p /= k;
  r /= k;
  return p + r > 0 ? (100 * (1 + f) * p * r) / (f * p + r) : 0;
}

/**
 * A segment's chrF statistics against the best of its references ([hyp, ref, match] per order,
 * whitespace removed); they add up over a corpus, as sacrebleu's corpus_chrf adds them.
 *
 * @example
 * ```ts
 * import { chrfScore, chrfStats } from "./metrics.ts";
 * chrfScore(chrfStats("서울은 수도", ["서울은 수도"])); // 100
 * ```
 */
export function chrfStats(hyp: string, refs: string[]): number[] {
  let best: number[] = [];
  let bestF = -1;
  const hs = Array.from({ length: CHRF_ORDER }, (_, n) => _charNgrams(hyp, n + 1));
  for (const ref of refs) {
    const stats: number[] = [];
    for (let n = 0; n < CHRF_ORDER; n++) {
      const rg = _charNgrams(ref, n + 1);
      let h = 0;
      let m = 0;
      for (const [g, c] of hs[n]) {
        h += c;
        m += Math.min(c, rg.get(g) ?? 0);
      }
      let g = 0;
      for (const c of rg.values()) g += c;
      stats.push(h, g, m);
    }
    const f = chrfScore(stats);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

/** sacrebleu's `13a` tokenization (mteval-v13a's, as WMT uses it). */
export function tokenize13a(line: string): string {
  line = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">");
  }
  line = ` ${line} `
    .replace(/([{-~[-` -&(-+:-@/])/g, " $1 ")
    .replace(/([^0-9])([.,])/g, "$1 $2 ")
    .replace(/([.,])([^0-9])/g, " $1 $2")
    .replace(/([0-9])(-)/g, "$1 $2 ");
  return _pySplit(line).join(" ");
}

const BLEU_ORDER = 4;

function _wordNgrams(tokens: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= BLEU_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const g = tokens.slice(i, i + n).join("\u0001");
      m.set(g, (m.get(g) ?? 0) + 1);
    }
  }
  return m;
}

/**
 * A segment's BLEU statistics as sacrebleu's corpus_bleu counts them (13a tokens; n-gram counts
 * clipped by the most any reference has; the reference length closest to the hypothesis, the
 * shorter on ties): `[hyp_len, ref_len, correct_1..4, total_1..4]`, which add up over a corpus.
 */
export function bleuStats(hyp: string, refs: string[]): number[] {
  const h = _pySplit(tokenize13a(hyp));
  const refNgrams = new Map<string, number>();
  let refLen = -1;
  let diff = -1;
  for (const r of refs) {
    const t = _pySplit(tokenize13a(r));
    for (const [g, c] of _wordNgrams(t)) refNgrams.set(g, Math.max(c, refNgrams.get(g) ?? 0));
    const d = Math.abs(h.length - t.length);
    if (diff === -1 || d < diff || (d === diff && t.length < refLen)) {
      diff = d;
      refLen = t.length;
    }
  }
  const correct = new Array(BLEU_ORDER).fill(0);
  const total = new Array(BLEU_ORDER).fill(0);
  for (const [g, c] of _wordNgrams(h)) {
    const n = g.split("\u0001").length - 1;
    total[n] += c;
    correct[n] += Math.min(c, refNgrams.get(g) ?? 0);
  }
  return [h.length, refLen, ...correct, ...total];
}

/** Corpus BLEU (0…100) from summed {@linkcode bleuStats}, with sacrebleu's default `exp` smoothing. */
export function bleuScore(stats: number[]): number {
  const [sys, ref] = stats;
  const correct = stats.slice(2, 2 + BLEU_ORDER);
  const total = stats.slice(2 + BLEU_ORDER);
  const bp = sys < ref ? (sys > 0 ? Math.exp(1 - ref / sys) : 0) : 1;
  if (!correct.some((c) => c > 0)) return 0;
  let smooth = 1;
  const logs: number[] = [];
  for (let n = 0; n < BLEU_ORDER; n++) {
    if (total[n] === 0) break;
    let p: number;
    if (correct[n] === 0) {
      smooth *= 2;
      p = 100 / (smooth * total[n]);
    } else p = (100 * correct[n]) / total[n];
    logs.push(Math.log(p));
  }
  while (logs.length < BLEU_ORDER) logs.push(-9999999999); // a precision of 0, as sacrebleu floors it
  return bp * Math.exp(logs.reduce((a, b) => a + b, 0) / BLEU_ORDER);
}
