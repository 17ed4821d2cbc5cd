/**
 * Dedup quality on the synthetic near-duplicate set (`near_dup_set.ts`): precision, recall and F1
 * of MinHash-LSH against true shingle Jaccard ≥ 0.8, through the real out-of-core path (signer →
 * sorted runs → merge → union-find); and the measured LSH candidate rate per Jaccard bucket against
 * 1 − (1 − s^r)^b. Used by the tests and by `deno task filter eval-dedup`.
 *
 * @module
 */

import { clusterRuns, DedupSigner, KEEP, NEAR_DUPLICATE } from "./dedup.ts";
import {
  bandKeys,
  candidateProbability,
  jaccard,
  makePermutations,
  MINHASH_DEFAULTS,
  shingleHashes,
} from "./minhash.ts";
import { WasmMinhasher } from "./minhash_wasm.ts";
import { generateNearDupSet } from "./near_dup_set.ts";

/** Named edit-rate distributions of the synthetic set. */
export const EDIT_RATES = {
  /** Half light edits (0–1.5% of words), half heavy (10–30%): pairs far from the threshold. */
  split: (i: number, rnd: () => number) => (i % 2 ? 0.015 * rnd() : 0.1 + 0.2 * rnd()),
  /** 0–30% skewed low: many pairs with Jaccard 0.5–0.8, near the 14×8 threshold (≈ 0.72). */
  hard: (_i: number, rnd: () => number) => 0.3 * rnd() ** 2,
};

/** Scores of one evaluation. */
export interface DedupScore {
  pairs: number;
  positives: number;
  precision: number;
  recall: number;
  f1: number;
  /** Base documents (unrelated to each other) wrongly removed. */
  basesRemoved: number;
}

/**
 * Generates `count` base/variant pairs with `rates`, deduplicates them (CPU, default 14×8) with
 * signature `verify` (0: off), and scores the variants' removal against Jaccard ≥ `threshold`.
 * `workDir` holds the runs (removed afterwards).
 */
export async function evaluateDedup(
  rates: (i: number, rnd: () => number) => number,
  seed: number,
  options: { verify?: number; count?: number; threshold?: number; workDir?: string } = {},
): Promise<DedupScore> {
  const { docs, pairs } = generateNearDupSet(seed, options.count ?? 1500, rates, 150);
  const dir = await Deno.makeTempDir({ dir: options.workDir, prefix: "dedup-eval-" });
  try {
    const signer = await DedupSigner.open(`${dir}/s0`, 0, {
      exact: false,
      minhash: MINHASH_DEFAULTS,
      device: "cpu",
      verify: options.verify ?? 0,
    });
    for (const d of docs) await signer.add(d);
    await signer.close();
    const [decisions] = await clusterRuns([`${dir}/s0`]);
    let tp = 0, fp = 0, fn = 0;
    const t = options.threshold ?? 0.8;
    for (const p of pairs) {
      const s = jaccard(
        shingleHashes(docs[p.base].text, 5, "word"),
        shingleHashes(docs[p.variant].text, 5, "word"),
      );
      const predicted = decisions[p.variant] === NEAR_DUPLICATE && decisions[p.base] === KEEP;
      if (predicted && s >= t) tp++;
      else if (predicted) fp++;
      else if (s >= t) fn++;
    }
    const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
    const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
    return {
      pairs: pairs.length,
      positives: tp + fn,
      precision,
      recall,
      f1: (2 * precision * recall) / (precision + recall),
      basesRemoved: pairs.filter((p) => decisions[p.base] !== KEEP).length,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One Jaccard bucket of {@linkcode lshCurve}. */
export interface CurveBucket {
  from: number;
  to: number;
  pairs: number;
  measured: number;
  expected: number;
  /** Standard deviation of the measured rate under the theory. */
  sd: number;
}

/**
 * Measured candidate rate (the pair shares a band) per Jaccard bucket of width 0.1, against
 * 1 − (1 − s^rows)^bands averaged over the bucket's pairs.
 */
export function lshCurve(pairCount: number, seed: number, bands = 14, rows = 8): CurveBucket[] {
  const w = new WasmMinhasher(makePermutations(bands * rows, seed));
  const { docs, pairs } = generateNearDupSet(seed + 10, pairCount, (_i, rnd) => 0.25 * rnd(), 120);
  const acc = new Map<number, { n: number; hits: number; p: number; v: number }>();
  for (const pr of pairs) {
    const sa = shingleHashes(docs[pr.base].text, 5, "word");
    const sb = shingleHashes(docs[pr.variant].text, 5, "word");
    const s = jaccard(sa, sb);
    const ka = bandKeys(w.signature(sa), bands, rows);
    const kb = bandKeys(w.signature(sb), bands, rows);
    let hit = false;
    for (let b = 0; b < bands; b++) {
      if (ka[2 * b] === kb[2 * b] && ka[2 * b + 1] === kb[2 * b + 1]) hit = true;
    }
    const key = Math.min(9, Math.floor(s * 10));
    const e = acc.get(key) ?? { n: 0, hits: 0, p: 0, v: 0 };
    const p = candidateProbability(s, bands, rows);
    e.n++;
    e.hits += hit ? 1 : 0;
    e.p += p;
    e.v += p * (1 - p);
    acc.set(key, e);
  }
  return [...acc].sort((a, b) => a[0] - b[0]).map(([key, e]) => ({
    from: key / 10,
    to: (key + 1) / 10,
    pairs: e.n,
    measured: e.hits / e.n,
    expected: e.p / e.n,
    sd: Math.sqrt(e.v) / e.n,
  }));
}
