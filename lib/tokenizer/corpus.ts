/**
 * The tokenizer stage's view of document records: a deterministic held-out split by document id,
 * Korean-dominant lines, and the Korean pre-tokens the Unigram trainer learns from.
 *
 * @module
 */

import { readDocs, readLines } from "../io/jsonl.ts";
import { type BranchingEntropy, preTokenize } from "./branching_entropy.ts";
import { SPACE_MARK } from "./pretokens.ts";

/** True for the documents held out of training (1 in `every`, by a hash of the id). */
export function isHeldOut(id: string, every = 10): boolean {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h % every === 0;
}

const HANGUL = /[\uac00-\ud7a3]/g;
const LATIN = /[A-Za-z]/g;

/** Number of Hangul syllables (U+AC00–U+D7A3) in `text`. */
export function countHangul(text: string): number {
  return text.match(HANGUL)?.length ?? 0;
}

/** Lines holding Hangul and at least as many Hangul syllables as Latin letters. */
export function koreanDominantLines(text: string): string[] {
  return text.split("\n").filter((l) => {
    const h = countHangul(l);
    return h > 0 && h >= (l.match(LATIN)?.length ?? 0);
  });
}

/** What reading a corpus skipped, for the report. */
export interface ReadStats {
  docs: number;
  /** Records or lines with no text. */
  empty: number;
  /** Records or lines that were not valid UTF-8 (decoded with U+FFFD). */
  invalidUtf8: number;
  /** JSONL lines that were not document records. */
  badLines: number;
}

/**
 * Texts of a corpus — document records (`.jsonl`, `.jsonl.gz`) or plain text (`.txt`, one
 * document a line, id `file:line`) — split into training and held-out documents. Empty and
 * non-UTF-8 entries are counted, not used.
 */
export async function readSplit(
  paths: string[],
  every = 10,
): Promise<{ train: string[]; heldOut: string[]; stats: ReadStats }> {
  const train: string[] = [], heldOut: string[] = [];
  const stats: ReadStats = { docs: 0, empty: 0, invalidUtf8: 0, badLines: 0 };
  const take = (id: string, text: string): void => {
    if (!text.trim()) stats.empty++;
    else if (text.includes("\uFFFD")) stats.invalidUtf8++;
    else {
      stats.docs++;
      (isHeldOut(id, every) ? heldOut : train).push(text);
    }
  };
  for (const path of paths) {
    if (/\.txt(\.gz)?$/.test(path)) {
      for await (const [line, text] of readLines(path)) take(`${path}:${line}`, text);
      continue;
    }
    for await (const doc of readDocs(path, { onBadLine: () => void stats.badLines++ })) {
      take(doc.id, doc.text);
    }
  }
  return { train, heldOut, stats };
}

/** A run of Hangul syllables, with the space before it when it starts a pre-token. */
export const HANGUL_RUN = /^ ?[\uac00-\ud7a3]+|[\uac00-\ud7a3]+/g;

/**
 * The Korean training pre-tokens of `text`: Llama 3's regex split refined by branching entropy,
 * then the Hangul runs of each piece (a leading space kept, spelled ▁), counted into `counts`.
 */
export function countKoreanPreTokens(
  counts: Map<string, number>,
  text: string,
  be?: BranchingEntropy,
): void {
  for (const piece of preTokenize(text, be)) {
    for (const run of piece.match(HANGUL_RUN) ?? []) {
      const key = run[0] === " " ? SPACE_MARK + run.slice(1) : run;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
}

/** A Korean piece may be: an optional leading ▁ and then Hangul syllables only. */
export function isKoreanPiece(cps: number[]): boolean {
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    if (c >= 0xac00 && c <= 0xd7a3) continue;
    if (i === 0 && c === 0x2581 && cps.length > 1) continue;
    return false;
  }
  return cps.length > 0;
}
