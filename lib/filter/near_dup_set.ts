/**
 * A synthetic near-duplicate set with controlled edit rates, for measuring dedup quality: base
 * documents of random Korean words, and for each a variant with a chosen share of its words
 * substituted, deleted or inserted. The true Jaccard similarity of each pair is computed from the
 * shingle sets, not assumed.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { mulberry32 } from "./pii_eval.ts";

/** One base–variant pair of the set. */
export interface NearDupPair {
  base: number;
  variant: number;
  editRate: number;
}

/**
 * `count` bases of `words` words each, each with one variant edited at a rate drawn from
 * `editRates` (cycled). Documents alternate base, variant.
 */
export function generateNearDupSet(
  seed: number,
  count: number,
  editRates: (i: number, rnd: () => number) => number,
  words = 150,
): { docs: Doc[]; pairs: NearDupPair[] } {
  const rnd = mulberry32(seed);
  const syllable = () => String.fromCharCode(0xac00 + Math.floor(rnd() * 11172));
  const vocab = Array.from(
    { length: 20000 },
    () => Array.from({ length: 1 + Math.floor(rnd() * 3) }, syllable).join(""),
  );
  const word = () => vocab[Math.floor(rnd() * vocab.length)];
  const docs: Doc[] = [];
  const pairs: NearDupPair[] = [];
  for (let i = 0; i < count; i++) {
    const base = Array.from({ length: words }, word);
    const e = editRates(i, rnd);
    const variant: string[] = [];
    for (const w of base) {
      if (rnd() >= e) variant.push(w);
      else {
        const op = rnd();
        if (op < 1 / 3) variant.push(word());
        else if (op < 2 / 3) variant.push(w, word());
        // else: deleted
      }
    }
    pairs.push({ base: docs.length, variant: docs.length + 1, editRate: e });
    docs.push({ id: `b${i}`, text: base.join(" ") + ".", meta: {} });
    docs.push({ id: `v${i}`, text: variant.join(" ") + ".", meta: {} });
  }
  return { docs, pairs };
}
