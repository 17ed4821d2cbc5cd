/**
 * A labelled task built from real text for checking the classifier against fastText: each line of
 * Korean and English LibreOffice help pages, labelled `hangul` when most of its letters are Hangul
 * syllables or jamo, else `other`.
 *
 * @module
 */

import type { Doc } from "../../io/jsonl.ts";
import { type Example, mulberry32 } from "./fasttext.ts";

/** Share of Hangul among the letters of `text` (0 when it has no letters). */
export function hangulRatio(text: string): number {
  let hangul = 0, letters = 0;
  for (const ch of text) {
    if (/\p{Script=Hangul}/u.test(ch)) {
      hangul++;
      letters++;
    } else if (/\p{L}/u.test(ch)) letters++;
  }
  return letters ? hangul / letters : 0;
}

/**
 * Up to `n` distinct lines (with at least one letter) from `docs`, shuffled by `seed`, labelled
 * `hangul` or `other`.
 */
export function hangulTask(docs: Iterable<Doc>, n: number, seed = 1): Example[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const d of docs) {
    for (const raw of d.text.split("\n")) {
      const line = raw.replace(/\s+/g, " ").trim();
      if (line === "" || seen.has(line) || !/\p{L}/u.test(line)) continue;
      seen.add(line);
      lines.push(line);
    }
  }
  const rnd = mulberry32(seed);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  return lines.slice(0, n).map((text) => ({
    labels: [hangulRatio(text) > 0.5 ? "hangul" : "other"],
    text,
  }));
}
