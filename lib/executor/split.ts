/**
 * How a sharded stage splits its input files among `count` ranks — one rule for every stage: by
 * file (file i to rank i mod count) when there are at least `count` files, else by document
 * (every rank reads everything and takes every count-th document; rank 0 alone reports malformed
 * lines).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** Rank `index`'s part of `files`. */
export interface RankInput {
  files: string[];
  /** Called once per document read, in order: whether this rank takes it. */
  take: () => boolean;
  /** Whether this rank reports malformed lines of its files. */
  ownsBadLines: boolean;
}

/**
 * The input of rank `index` of `count`.
 *
 * @example
 * ```ts
 * import { rankInput } from "./split.ts";
 * console.log(rankInput(["a", "b", "c"], 1, 2).files); // ["b"]
 * ```
 */
export function rankInput(files: string[], index: number, count: number): RankInput {
  if (files.length >= count) {
    return {
      files: files.filter((_, i) => i % count === index),
      take: () => true,
      ownsBadLines: true,
    };
  }
  let k = 0;
  return { files, take: () => (k++ % count) === index, ownsBadLines: index === 0 };
}

/** Parses `--shard i/N` (0-based i). */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UserError(`--shard: expected i/N with 0 ≤ i < N (e.g. 0/4), got "${s}"`);
  }
  return { index: Number(m[1]), count: Number(m[2]) };
}
