/**
 * Extraction quality: precision and recall of extracted text against a reference text, over the
 * multiset of whitespace-separated tokens (the measure the boilerplate-removal literature uses,
 * e.g. CleanEval-style token overlap).
 *
 * @module
 */

/** Token-overlap precision, recall and F1 of `extracted` against `reference`. */
export function tokenOverlap(
  extracted: string,
  reference: string,
): {
  precision: number;
  recall: number;
  f1: number;
  extractedTokens: number;
  referenceTokens: number;
} {
  const count = (s: string) => {
    const m = new Map<string, number>();
    for (const t of s.split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  };
  const e = count(extracted);
  const r = count(reference);
  let both = 0;
  let ne = 0;
  let nr = 0;
  for (const [t, n] of e) {
    ne += n;
    both += Math.min(n, r.get(t) ?? 0);
  }
  for (const n of r.values()) nr += n;
  const precision = ne === 0 ? (nr === 0 ? 1 : 0) : both / ne;
  const recall = nr === 0 ? 1 : both / nr;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, extractedTokens: ne, referenceTokens: nr };
}
