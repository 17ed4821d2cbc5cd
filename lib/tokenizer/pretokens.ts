/**
 * Pre-token dictionaries for the Unigram trainer: sentencepiece's own word splitting (for the
 * cross-check against `spm_train`) and the piece-validity rules that go with it.
 *
 * @module
 */

/** sentencepiece's whitespace mark. */
export const SPACE_MARK = "\u2581";

/**
 * sentencepiece's default normalisation and word split, approximated: NFKC, surrounding and
 * repeated spaces removed, each word prefixed with ▁ (add_dummy_prefix, escape_whitespaces).
 */
export function spmWords(line: string): string[] {
  const words = line.normalize("NFKC").split(/[ \t\r\n\u3000]+/).filter((w) => w.length);
  return words.map((w) => SPACE_MARK + w);
}

/** Adds the pre-tokens of `text` to `counts`. */
export function countPreTokens(
  counts: Map<string, number>,
  pieces: Iterable<string>,
): void {
  for (const p of pieces) counts.set(p, (counts.get(p) ?? 0) + 1);
}

type Script = "space" | "common" | "hangul" | "han" | "latin" | "other";
const scriptCache = new Map<number, Script>();

/** A coarse Unicode script class: Han, Hiragana and Katakana count as one, as in sentencepiece. */
export function scriptOf(cp: number): Script {
  let s = scriptCache.get(cp);
  if (s) return s;
  const ch = String.fromCodePoint(cp);
  if (cp === 0x2581) s = "space";
  else if (/\p{Script=Hangul}/u.test(ch)) s = "hangul";
  else if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(ch)) s = "han";
  else if (/\p{Script=Latin}/u.test(ch)) s = "latin";
  else if (/[\p{Script=Common}\p{Script=Inherited}]/u.test(ch)) s = "common";
  else s = "other";
  scriptCache.set(cp, s);
  return s;
}

/**
 * sentencepiece's piece rules (split_by_whitespace, split_by_unicode_script): ▁ only first, and
 * all other characters of one script class.
 */
export function spmValidPiece(cps: number[]): boolean {
  let script: Script | undefined;
  for (let i = 0; i < cps.length; i++) {
    const s = scriptOf(cps[i]);
    if (s === "space") {
      if (i > 0) return false;
      continue;
    }
    if (script === undefined) script = s;
    else if (s !== script) return false;
  }
  return true;
}
