/**
 * Merging a Korean Unigram vocabulary into Llama 3.1's byte-level BPE tokenizer.
 *
 * Design: **BPE with added merges.** Every new Korean piece becomes a new token id after all of
 * Llama 3.1's (128,256 ids, special tokens included, all kept) and gets one merge appended after
 * Llama's 280,147, at lower priority than all of them. Encoding stays stock BPE, so any
 * Hugging Face loader reads the file, and:
 *
 * - English (any text without Hangul) is tokenized exactly as before — the new merges only join
 *   tokens made of Hangul bytes, which never occur there — so it needs +0% tokens, not merely ≤ 1%;
 * - decode(encode(x)) = x for every well-formed string, since BPE over bytes never loses a byte;
 * - Llama 3.1's `ignore_merges` makes a whole pre-token that is itself a token one id, so a
 *   frequent word such as " 있습니다" costs one token whatever the merge order.
 *
 * The alternatives: one Unigram model over the union of both vocabularies re-segments English
 * (the model would then see unfamiliar splits of familiar words), and a pre-tokenizer routing Korean spans to a second model cannot be written in a stock
 * tokenizer.json at all. Added merges only approximate the Unigram model's Viterbi segmentation
 * (BPE is greedy by rank), which the report measures against the Unigram model itself.
 *
 * How a piece gets its merge: pieces are added shortest first; the piece's bytes are encoded with
 * the merges so far, and adjacent tokens are joined (preferring joins that are themselves Unigram
 * pieces, then the highest-scoring) until one token is left — a join that is not a wanted piece
 * is an intermediate token and counts against the budget.
 *
 * @module
 */

import type { ByteLevelBpe } from "./bpe.ts";
import { toByteLevel } from "./byte_level.ts";

/** A Korean piece in plain text (a leading space allowed) and its Unigram log-probability. */
export interface ScoredPiece {
  piece: string;
  score: number;
}

/** What the merge added. */
export interface MergeStats {
  /** Wanted pieces that became new tokens. */
  added: number;
  /** Wanted pieces Llama 3.1 already had. */
  existing: number;
  /** Helper tokens made only to reach a wanted piece by merges. */
  intermediates: number;
  /** Wanted pieces left out when the budget ran out. */
  skipped: number;
}

/**
 * Adds `pieces` to `bpe` (in place) as new tokens with merges, at most `budget` new ids in all.
 * Pieces are taken by score until the budget is spent; see the module doc for the procedure.
 */
export function addPieces(bpe: ByteLevelBpe, pieces: ScoredPiece[], budget: number): MergeStats {
  const wanted = new Map<string, number>(); // byte-level spelling → score
  for (const p of pieces) wanted.set(toByteLevel(p.piece), p.score);
  const byScore = [...wanted].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let existing = 0;
  const chosen: string[] = [];
  for (const [bl] of byScore) {
    if (bpe.vocab.has(bl)) existing++;
    else if (chosen.length < budget) chosen.push(bl);
  }
  // Shortest first (a byte-level string has one character per byte), then by score.
  chosen.sort((a, b) => a.length - b.length || wanted.get(b)! - wanted.get(a)!);
  const start = bpe.size;
  let added = 0, intermediates = 0, skipped = 0;
  for (const bl of chosen) {
    if (bpe.vocab.has(bl)) continue;
    const toks = bpe.encodeWord(bl).map((id) => bpe.tokens[id]);
    // The piece and, at most, one intermediate per extra join.
    if (bpe.size - start + Math.max(1, toks.length - 1) > budget) {
      skipped++;
      continue;
    }
    while (toks.length > 1) {
      let best = 0, bestValue = -Infinity;
      for (let i = 0; i + 1 < toks.length; i++) {
        const joined = toks[i] + toks[i + 1];
        const value = joined === bl
          ? Infinity
          : wanted.has(joined)
          ? wanted.get(joined)!
          : -1e9 - joined.length;
        if (value > bestValue) {
          bestValue = value;
          best = i;
        }
      }
      const joined = toks[best] + toks[best + 1];
      const isNew = !bpe.vocab.has(joined);
      bpe.addMerge(toks[best], toks[best + 1]);
      if (isNew && joined !== bl) {
        if (wanted.has(joined)) added++;
        else intermediates++;
      }
      toks.splice(best, 2, joined);
    }
    added++;
  }
  return { added, existing, intermediates, skipped };
}
