/**
 * `deno task tokenizer report`: tokens per Hangul syllable, tokens per character and bytes per
 * token of held-out Korean and English text under each tokenizer, and the measurement behind the
 * merge design (lib/tokenizer/merge.ts): the same Korean pieces as added BPE merges, as one
 * Unigram model over the union of both vocabularies, and as the Unigram model alone on Korean
 * spans (the bound a span-routing pre-tokenizer could reach).
 *
 * @module
 */

import type { ByteLevelBpe } from "./bpe.ts";
import { llamaSplit, toByteLevel } from "./byte_level.ts";
import { countHangul, HANGUL_RUN } from "./corpus.ts";
import { codePoints, type Piece, PieceType, UnigramModel } from "./unigram.ts";
import { SPACE_MARK } from "./pretokens.ts";

/** Counts over a set of texts. */
export interface TextStats {
  texts: number;
  chars: number;
  hangul: number;
  /** Whitespace-separated words. */
  words: number;
  bytes: number;
  tokens: number;
}

/** One row of the report. */
export interface ReportRow extends TextStats {
  tokenizer: string;
  set: string;
  tokens_per_hangul: number | null;
  tokens_per_word: number | null;
  tokens_per_char: number;
  bytes_per_token: number;
}

const encoder = new TextEncoder();

/** Counts `texts` and the tokens `encode` gives them. */
export function measure(encode: (text: string) => number, texts: string[]): TextStats {
  const s: TextStats = {
    texts: texts.length,
    chars: 0,
    hangul: 0,
    words: 0,
    bytes: 0,
    tokens: 0,
  };
  for (const t of texts) {
    s.chars += [...t].length;
    s.hangul += countHangul(t);
    s.words += t.split(/\s+/).filter((w) => w !== "").length;
    s.bytes += encoder.encode(t).length;
    s.tokens += encode(t);
  }
  return s;
}

/** A report row from counts. */
export function row(tokenizer: string, set: string, s: TextStats): ReportRow {
  return {
    tokenizer,
    set,
    ...s,
    tokens_per_hangul: s.hangul ? s.tokens / s.hangul : null,
    tokens_per_word: s.words ? s.tokens / s.words : null,
    tokens_per_char: s.chars ? s.tokens / s.chars : 0,
    bytes_per_token: s.tokens ? s.bytes / s.tokens : 0,
  };
}

/** The rows as a Markdown table. */
export function reportMarkdown(rows: ReportRow[]): string {
  const f = (x: number | null, d = 4) => x === null ? "–" : x.toFixed(d);
  const lines = [
    "| tokenizer | text | texts | Hangul syllables | words | tokens | tokens/syllable | tokens/word | tokens/char | bytes/token |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.tokenizer} | ${r.set} | ${r.texts} | ${r.hangul} | ${r.words} | ${r.tokens} | ${
        f(r.tokens_per_hangul)
      } | ${f(r.tokens_per_word)} | ${f(r.tokens_per_char)} | ${f(r.bytes_per_token, 2)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * Token count of `text` when Korean spans go to the Unigram model and the rest to `base`: what a
 * pre-tokenizer routing Korean spans to a second model would give (not expressible in a stock
 * tokenizer.json).
 */
export function routedCount(base: ByteLevelBpe, korean: UnigramModel, text: string): number {
  let n = 0;
  for (const w of llamaSplit(text)) {
    let last = 0;
    for (const m of w.matchAll(HANGUL_RUN)) {
      if (m.index! > last) n += base.encodeWord(toByteLevel(w.slice(last, m.index))).length;
      const run = m[0][0] === " " ? SPACE_MARK + m[0].slice(1) : m[0];
      n += korean.encode(run).length;
      last = m.index! + m[0].length;
    }
    if (last < w.length) n += base.encodeWord(toByteLevel(w.slice(last))).length;
  }
  return n;
}

/**
 * One Unigram model over the union: every base token (byte-level) and every Korean piece, each
 * Korean piece with its own log-probability and each base token with `baseScore` (the base model
 * has no probabilities; a constant makes Viterbi prefer the fewest tokens). Segments each
 * pre-token by Viterbi over its byte-level spelling.
 */
export function unionUnigram(
  base: ByteLevelBpe,
  korean: UnigramModel,
  baseScore: number,
): UnigramModel {
  const pieces: Piece[] = [{ piece: "<unk>", score: 0, type: PieceType.UNKNOWN }];
  const seen = new Set<string>();
  for (const [t] of base.vocab) {
    seen.add(t);
    pieces.push({ piece: t, score: baseScore, type: PieceType.NORMAL });
  }
  for (const p of korean.pieces) {
    if (p.type !== PieceType.NORMAL) continue;
    const bl = toByteLevel(p.piece.replace(SPACE_MARK, " "));
    if (!seen.has(bl)) pieces.push({ piece: bl, score: p.score, type: PieceType.NORMAL });
  }
  return new UnigramModel(pieces, { byteFallback: false });
}

/**
 * Counts under the union model, and how many pre-tokens of `texts` it segments differently from
 * `base` (each pre-token compared by its token strings).
 */
export function unionCounts(
  base: ByteLevelBpe,
  union: UnigramModel,
  texts: string[],
): { tokens: number; preTokens: number; changed: number } {
  let tokens = 0, preTokens = 0, changed = 0;
  for (const t of texts) {
    for (const w of llamaSplit(t)) {
      const bl = toByteLevel(w);
      const ids = union.viterbi(codePoints(bl)).ids;
      tokens += ids.length;
      preTokens++;
      const a = ids.map((i) => union.pieces[i].piece).join(" ");
      const b = base.encodeWord(bl).map((i) => base.tokens[i]).join(" ");
      if (a !== b) changed++;
    }
  }
  return { tokens, preTokens, changed };
}
