/**
 * Thunder-LLM's rule filters (Thunder-LLM: Efficiently Adapting LLMs to Korean with Minimal
 * Resources, SNU 2025, §pre-processing, itself following Gopher (Rae et al. 2021) and datatrove's
 * quality filters). All thresholds are configurable; the defaults are the paper's:
 *
 * - "10 … 10,000,000 whitespace words per document";
 * - "mean word length 2 … 10 characters";
 * - "Hangul share ≥ 0.8, measured per character over the whole text" — Hangul characters over all
 *   non-whitespace characters (counting whitespace would put ordinary Korean prose, ~20% spaces,
 *   below 0.8);
 * - "the most frequent word 5-gram covers ≤ 15% of all word 5-grams" (only checked once some
 *   5-gram repeats: a short document of distinct 5-grams is not repetitive);
 * - "lines that do not end in sentence-final punctuation are removed from the document" — the
 *   {@linkcode LinePunctuation} transform;
 * - "word and character 10-gram repetition ratio ≤ 0.5" — the share of words (characters) lying in
 *   a 10-gram that occurs more than once.
 *
 * Korean-aware: syllables (U+AC00–D7A3) and jamo (U+1100–11FF, U+3130–318F, U+A960–A97F,
 * U+D7B0–D7FF) both count as Hangul; full-width punctuation counts as punctuation; character
 * n-grams are over code points.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { BaseFilter, BaseTransform, type FilterVerdict } from "../pipeline/step.ts";
import { hangulRatio } from "../data/hangul.ts";

/** Thresholds of {@linkcode Rules}. */
export interface RuleOptions {
  min_words: number;
  max_words: number;
  min_mean_word_length: number;
  max_mean_word_length: number;
  min_hangul_ratio: number;
  max_top_5gram_share: number;
  max_word_10gram_repetition: number;
  max_char_10gram_repetition: number;
}

/** The paper's defaults. */
export const RULE_DEFAULTS: RuleOptions = {
  min_words: 10,
  max_words: 10_000_000,
  min_mean_word_length: 2,
  max_mean_word_length: 10,
  min_hangul_ratio: 0.8,
  max_top_5gram_share: 0.15,
  max_word_10gram_repetition: 0.5,
  max_char_10gram_repetition: 0.5,
};

export { hangulRatio, isHangul } from "../data/hangul.ts";

/** Whitespace-separated words. */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

/** Mean length of the words in code points. */
export function meanWordLength(ws: string[]): number {
  if (ws.length === 0) return 0;
  let n = 0;
  for (const w of ws) n += _cpLength(w);
  return n / ws.length;
}

/**
 * Keys of the n-grams of a sequence of 32-bit items (word hashes, code points): two rolling
 * polynomial hashes mod 2³² with different odd bases per window (`hi`, `lo`), O(1) per position,
 * so counting n-grams needs no string building. Different n-grams rarely share both words.
 */
export function ngramKeys(items: Uint32Array, n: number): { hi: Uint32Array; lo: Uint32Array } {
  const total = Math.max(0, items.length - n + 1);
  const hi = new Uint32Array(total);
  const lo = new Uint32Array(total);
  if (total === 0) return { hi, lo };
  const B1 = 0x01000193;
  const B2 = 0x5bd1e995;
  let p1 = 1;
  let p2 = 1;
  let h1 = 0;
  let h2 = 0;
  for (let j = 0; j < n; j++) {
    p1 = Math.imul(p1, B1);
    p2 = Math.imul(p2, B2);
    h1 = (Math.imul(h1, B1) + items[j]) | 0;
    h2 = (Math.imul(h2, B2) + (items[j] ^ 0x2545f491)) | 0;
  }
  hi[0] = h1;
  lo[0] = h2;
  for (let i = 1; i < total; i++) {
    const out = items[i - 1];
    const inn = items[i + n - 1];
    h1 = (Math.imul(h1, B1) - Math.imul(out, p1) + inn) | 0;
    h2 = (Math.imul(h2, B2) - Math.imul(out ^ 0x2545f491, p2) + (inn ^ 0x2545f491)) | 0;
    hi[i] = h1;
    lo[i] = h2;
  }
  return { hi, lo };
}

/**
 * For each position, the first position holding the same key (itself when it is the first), by
 * an open-addressing hash table: linear in the number of keys.
 */
export function firstOccurrence(hi: Uint32Array, lo: Uint32Array): Int32Array {
  const n = hi.length;
  let size = 16;
  while (size < 2 * n) size *= 2;
  const mask = size - 1;
  const table = new Int32Array(size).fill(-1);
  const first = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let h = hi[i] ^ Math.imul(lo[i], 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    let slot = (h ^ (h >>> 13)) & mask;
    for (;;) {
      const j = table[slot];
      if (j < 0) {
        table[slot] = i;
        first[i] = i;
        break;
      }
      if (hi[j] === hi[i] && lo[j] === lo[i]) {
        first[i] = j;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return first;
}

/** 32-bit hashes of words (FNV-1a over UTF-16 units). */
export function wordHashes(ws: string[]): Uint32Array {
  const out = new Uint32Array(ws.length);
  for (let k = 0; k < ws.length; k++) {
    const w = ws[k];
    let h = 0x811c9dc5;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
    out[k] = h >>> 0;
  }
  return out;
}

/**
 * Share of all word n-grams taken by the most frequent one; 0 when no n-gram occurs twice.
 */
export function topNgramShare(ws: string[], n = 5): number {
  const { hi, lo } = ngramKeys(wordHashes(ws), n);
  if (hi.length <= 1) return 0;
  const first = firstOccurrence(hi, lo);
  const counts = new Int32Array(hi.length);
  let top = 0;
  for (let i = 0; i < first.length; i++) {
    const c = ++counts[first[i]];
    if (c > top) top = c;
  }
  return top < 2 ? 0 : top / hi.length;
}

/**
 * Repetition ratio of a sequence of item hashes: the share of items lying inside an n-gram that
 * occurs more than once, weighted by `weights` (e.g. word length).
 */
export function repetitionRatio(items: Uint32Array, n: number, weights: ArrayLike<number>): number {
  const { hi, lo } = ngramKeys(items, n);
  if (hi.length <= 1) return 0;
  const first = firstOccurrence(hi, lo);
  const repeated = new Uint8Array(hi.length);
  for (let i = 0; i < first.length; i++) {
    if (first[i] !== i) {
      repeated[i] = 1;
      repeated[first[i]] = 1;
    }
  }
  const covered = new Uint8Array(items.length);
  let until = 0; // positions < until are covered by the last repeated window
  for (let i = 0; i < items.length; i++) {
    if (i < repeated.length && repeated[i]) until = i + n;
    if (i < until) covered[i] = 1;
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < items.length; i++) {
    den += weights[i];
    if (covered[i]) num += weights[i];
  }
  return den === 0 ? 0 : num / den;
}

/** Share of words (by characters) inside a repeated word 10-gram. */
export function wordRepetition(ws: string[], n = 10): number {
  return repetitionRatio(wordHashes(ws), n, ws.map(_cpLength));
}

/** Share of non-space characters inside a repeated character 10-gram (over code points). */
export function charRepetition(text: string, n = 10): number {
  // code points, runs of whitespace collapsed into one space (weight 0)
  const items = new Uint32Array(text.length);
  const weights = new Uint8Array(text.length);
  let k = 0;
  let space = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13 || c === 0x3000 || c === 0xa0) {
      if (!space) items[k++] = 32;
      space = true;
      continue;
    }
    space = false;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    weights[k] = 1;
    items[k++] = c;
  }
  return repetitionRatio(items.subarray(0, k), n, weights);
}

/** The document-level rule filter. Reasons name the failed rule. */
export class Rules extends BaseFilter {
  readonly name = "rules";
  readonly options: RuleOptions;

  constructor(options: Partial<RuleOptions> = {}) {
    super();
    this.options = { ...RULE_DEFAULTS, ...options };
  }

  /** Keeps `doc`, or drops it naming the first failed rule with its value and threshold. */
  filter(doc: Doc): FilterVerdict {
    const o = this.options;
    const fail = (reason: string, value: number, threshold: number): FilterVerdict => [
      false,
      reason,
      { value: Number(value.toFixed(4)), threshold },
    ];
    const ws = words(doc.text);
    if (ws.length < o.min_words) return fail("too_few_words", ws.length, o.min_words);
    if (ws.length > o.max_words) return fail("too_many_words", ws.length, o.max_words);
    const mean = meanWordLength(ws);
    if (mean < o.min_mean_word_length) {
      return fail("mean_word_length_low", mean, o.min_mean_word_length);
    }
    if (mean > o.max_mean_word_length) {
      return fail("mean_word_length_high", mean, o.max_mean_word_length);
    }
    const hangul = hangulRatio(doc.text);
    if (hangul < o.min_hangul_ratio) return fail("hangul_ratio", hangul, o.min_hangul_ratio);
    const top = topNgramShare(ws, 5);
    if (top > o.max_top_5gram_share) return fail("top_5gram_share", top, o.max_top_5gram_share);
    const wr = wordRepetition(ws, 10);
    if (wr > o.max_word_10gram_repetition) {
      return fail("word_repetition", wr, o.max_word_10gram_repetition);
    }
    const cr = charRepetition(doc.text, 10);
    if (cr > o.max_char_10gram_repetition) {
      return fail("char_repetition", cr, o.max_char_10gram_repetition);
    }
    return true;
  }
}

/**
 * Sentence-final marks: ASCII and full-width `. ? !`, the ideographic full stop, ellipses. A line
 * may close with quotes or brackets after them.
 */
export const TERMINAL_PUNCTUATION = [".", "?", "!", "。", "．", "？", "！", "…", "⋯"];

/**
 * Korean sentence endings accepted without punctuation: the declarative `-다` (…합니다, …이다),
 * polite `-요`, `-죠`, interrogative `-까`, and the nominal endings of notes and reports
 * (`-음`, `-함`, `-됨`, `-임`) that Korean writing often leaves unpunctuated.
 */
export const KOREAN_ENDINGS = ["다", "요", "죠", "까", "음", "함", "됨", "임"];

const _CLOSERS = /["'”’」』)\]）》〉»]+$/u;

/** True when `line` ends like a sentence (punctuation or a Korean ending, before closers). */
export function endsSentence(
  line: string,
  punctuation = TERMINAL_PUNCTUATION,
  endings = KOREAN_ENDINGS,
): boolean {
  const t = line.trimEnd().replace(_CLOSERS, "");
  if (t === "") return false;
  const last = Array.from(t.slice(-2)).pop()!;
  return punctuation.includes(last) || endings.includes(last);
}

/** Options of {@linkcode LinePunctuation}. */
export interface LinePunctuationOptions {
  punctuation: string[];
  korean_endings: string[];
  /** A line of at most this many words that ends no sentence is a heading, label or table cell. */
  short_line_words: number;
  /** What becomes of those lines: "drop" (the paper's rule applied to every line) or "keep". */
  short_lines: "drop" | "keep";
}

/** Defaults of {@linkcode LinePunctuation}: the paper drops every unpunctuated line. */
export const LINE_PUNCTUATION_DEFAULTS: LinePunctuationOptions = {
  punctuation: TERMINAL_PUNCTUATION,
  korean_endings: KOREAN_ENDINGS,
  short_line_words: 3,
  short_lines: "drop",
};

/**
 * The line filter. It judges sentences: a line of more than `short_line_words` words that does
 * not end a sentence is removed (`counters.sentences_unended`). Shorter lines without an ending
 * — headings, list labels, table cells, one per line since text lines are the page's blocks —
 * are not sentences; `short_lines` says whether they go (`counters.short_lines_removed`) or stay
 * (`counters.short_lines_kept`). `counters.lines_removed` is the sum removed. A document left
 * without lines is dropped ("empty").
 */
export class LinePunctuation extends BaseTransform {
  readonly name = "line_punctuation";
  readonly options: LinePunctuationOptions;

  constructor(options: Partial<LinePunctuationOptions> = {}) {
    super();
    this.options = { ...LINE_PUNCTUATION_DEFAULTS, ...options };
  }

  transform(doc: Doc): Doc {
    const o = this.options, c = this.stats.counters;
    const bump = (k: string) => (c[k] = (c[k] ?? 0) + 1);
    const kept = doc.text.split("\n").filter((l) => {
      if (l.trim() === "") return false;
      if (endsSentence(l, o.punctuation, o.korean_endings)) return true;
      const short = l.trim().split(/\s+/).length <= o.short_line_words;
      if (short && o.short_lines === "keep") {
        bump("short_lines_kept");
        return true;
      }
      bump(short ? "short_lines_removed" : "sentences_unended");
      bump("lines_removed");
      return false;
    });
    return { ...doc, text: kept.join("\n") };
  }
}

function _cpLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}
