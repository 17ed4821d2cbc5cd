/**
 * The one definition of "how Korean is this text", shared by the crawl's `meta.hangul_ratio` and
 * the filter's `min_hangul_ratio` rule (Thunder-LLM: "Hangul share ≥ 0.8, measured per character
 * over the whole text"): Hangul characters — syllables U+AC00–D7A3 and jamo of every block
 * (U+1100–11FF, U+3130–318F, U+A960–A97F, U+D7B0–D7FF) — over all non-whitespace characters.
 * Whitespace is left out because ordinary Korean prose is ~20% spaces.
 *
 * @module
 */

/** True for a Hangul code point (syllable or jamo of any block). */
export function isHangul(cp: number): boolean {
  return (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0x3130 && cp <= 0x318f) || (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xd7b0 && cp <= 0xd7ff);
}

/**
 * Hangul characters over all non-whitespace characters (0 for a text without any).
 *
 * @example
 * ```ts
 * import { hangulRatio } from "./hangul.ts";
 * console.log(hangulRatio("서식 - Format")); // 2 / 9
 * ```
 */
export function hangulRatio(text: string): number {
  let hangul = 0;
  let total = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 32 || cp === 10 || cp === 9 || cp === 13 || cp === 0x3000 || cp === 0xa0) continue;
    total++;
    if (isHangul(cp)) hangul++;
  }
  return total === 0 ? 0 : hangul / total;
}

/** Number of Hangul syllables (U+AC00–D7A3) in `text`. */
export function countHangulSyllables(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xac00 && c <= 0xd7a3) n++;
  }
  return n;
}
