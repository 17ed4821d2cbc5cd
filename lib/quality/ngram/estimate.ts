/**
 * Interpolated modified Kneser–Ney estimation (Chen & Goodman 1998, as KenLM's lmplz computes it;
 * Heafield et al. 2013), from the unique n-grams of {@linkcode NgramCounter}.
 *
 * - Adjusted counts: the highest order and n-grams beginning with `<s>` keep their raw counts;
 *   every other n-gram counts its distinct one-word left extensions.
 * - Discounts per order k from the counts-of-counts t1…t4 of adjusted counts:
 *   Y = t1 / (t1 + 2 t2), D1 = 1 − 2Y t2/t1, D2 = 2 − 3Y t3/t2, D3+ = 3 − 4Y t4/t3.
 * - u(w | c) = (a(cw) − D(a(cw))) / Σx a(cx);
 *   γ(c) = (D1 N1(c•) + D2 N2(c•) + D3+ N3+(c•)) / Σx a(cx).
 * - p(w | c) = u(w | c) + γ(c) p(w | c′) with c′ the context minus its first word; unigrams
 *   interpolate with the uniform 1/|V| where |V| counts `<unk>` but not `<s>`; `<unk>` has
 *   u = 0 and `<s>` has p = 1 (log10 0), as lmplz writes them.
 * - Optional pruning: an n-gram of order ≥ 2 whose count (adjusted; raw at the highest order) is at
 *   most the order's threshold is dropped unless it is the context or the suffix of a kept n-gram;
 *   its whole count moves to its context's γ, so every distribution still sums to 1. (lmplz's
 *   `--prune` compares raw counts at every order; this is documented as a difference.)
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { type GramCounts, PAD } from "./count.ts";
import { NgramModel, type OrderTable } from "./model.ts";
import { IntVec, PairIndex } from "./pair_index.ts";
import { BOS, EOS, UNK, type Vocab } from "./vocab.ts";

/** Options of {@linkcode estimateKneserNey}. */
export interface EstimateOptions {
  /**
   * Discounts to use for an order whose counts-of-counts give none in range (tiny or artificial
   * data), as lmplz's `--discount_fallback`; without it such data is refused.
   */
  discountFallback?: [number, number, number];
  /** Count thresholds per order (index 0 = unigrams, never pruned); 0 keeps everything. */
  prune?: number[];
}

/** The estimated model with its statistics. */
export interface Estimate {
  model: NgramModel;
  /** [D1, D2, D3+] per order. */
  discounts: [number, number, number][];
  /** Counts-of-counts [t1, t2, t3, t4] of adjusted counts per order. */
  countsOfCounts: number[][];
  /** Orders (1-based) that used the fallback discounts. */
  fallbackOrders: number[];
  /** N-grams per order before pruning. */
  unpruned: number[];
}

/** KenLM's default fallback discounts (D1, D2, D3+). */
export const KENLM_FALLBACK: [number, number, number] = [0.5, 1, 1.5];

/** Modified Kneser–Ney discounts from counts-of-counts, or undefined when out of range. */
export function mknDiscounts(t: number[]): [number, number, number] | undefined {
  const [t1, t2, t3, t4] = t;
  if (!(t1 > 0 && t2 > 0 && t3 > 0 && t4 > 0)) return undefined;
  const y = t1 / (t1 + 2 * t2);
  const d: [number, number, number] = [
    1 - 2 * y * t2 / t1,
    2 - 3 * y * t3 / t2,
    3 - 4 * y * t4 / t3,
  ];
  for (let j = 0; j < 3; j++) if (!(d[j] >= 0 && d[j] <= j + 1)) return undefined;
  return d;
}

/** Estimates an interpolated modified Kneser–Ney model from counted n-grams. */
export function estimateKneserNey(
  counts: GramCounts,
  vocab: Vocab,
  options: EstimateOptions = {},
): Estimate {
  const N = counts.order, V = vocab.size;
  if (counts.size === 0) throw new UserError("no text to train on (every line was empty)");
  // Orders 2…N at index k-1; per n-gram: context, word, count, suffix.
  const ctx: IntVec[] = [], word: IntVec[] = [], cnt: IntVec[] = [], suf: IntVec[] = [];
  const index: PairIndex[] = [];
  for (let k = 0; k < N; k++) {
    ctx.push(new IntVec(1024));
    word.push(new IntVec(1024));
    cnt.push(new IntVec(1024));
    suf.push(new IntVec(1024));
    index.push(new PairIndex(k === 0 ? 16 : Math.max(1024, counts.size)));
  }
  const uni = new Float64Array(V);
  const insert = (k: number, c: number, w: number): number => {
    const o = k - 1;
    const idx = index[o].getOrSet(c, w, ctx[o].length);
    if (idx === ctx[o].length) {
      ctx[o].push(c);
      word[o].push(w);
      cnt[o].push(0);
      suf[o].push(-1);
    }
    return idx;
  };
  const { rows } = counts;
  for (let r = 0; r < counts.size; r++) {
    const base = r * N;
    let s = 0;
    while (s < N && rows[base + s] === PAD) s++;
    const m = N - s;
    let node = rows[base + s];
    for (let k = 2; k <= m; k++) node = insert(k, node, rows[base + s + k - 1]);
    if (m === 1) uni[node] += counts.counts[r];
    else cnt[m - 1].data[node] += counts.counts[r];
  }
  // Suffix links, creating missing suffixes (n-grams that occur only at sentence ends).
  const ensure = (k: number, c: number, w: number): number => {
    const o = k - 1;
    let idx = index[o].get(c, w);
    if (idx < 0) {
      const s = k === 2 ? w : ensure(k - 1, suf[o - 1].data[c], w);
      idx = insert(k, c, w);
      suf[o].data[idx] = s;
    }
    return idx;
  };
  for (let k = 2; k <= N; k++) {
    const o = k - 1;
    for (let i = 0; i < ctx[o].length; i++) {
      if (suf[o].data[i] >= 0) continue;
      suf[o].data[i] = k === 2
        ? word[o].data[i]
        : ensure(k - 1, suf[o - 1].data[ctx[o].data[i]], word[o].data[i]);
    }
  }
  // Which n-grams begin with <s>.
  const bos: Uint8Array[] = [new Uint8Array(0)];
  for (let k = 2; k <= N; k++) {
    const o = k - 1, b = new Uint8Array(ctx[o].length), c = ctx[o].data;
    for (let i = 0; i < b.length; i++) b[i] = k === 2 ? (c[i] === BOS ? 1 : 0) : bos[o - 1][c[i]];
    bos.push(b);
  }
  // Adjusted counts: distinct left extensions, except the top order and <s>-initial n-grams.
  if (N >= 2) uni.fill(0); // unigrams keep raw counts only when they are the top order
  for (let k = N; k >= 2; k--) {
    const o = k - 1, s = suf[o].data;
    for (let i = 0; i < ctx[o].length; i++) {
      if (k === 2) uni[s[i]] += 1;
      else if (!bos[o - 1][s[i]]) cnt[o - 1].data[s[i]] += 1;
    }
  }
  const adj = (o: number, i: number) => (o === 0 ? uni[i] : cnt[o].data[i]);
  const size = (o: number) => (o === 0 ? V : ctx[o].length);
  // Discounts.
  const discounts: [number, number, number][] = [];
  const countsOfCounts: number[][] = [];
  const fallbackOrders: number[] = [];
  for (let o = 0; o < N; o++) {
    const t = [0, 0, 0, 0];
    for (let i = 0; i < size(o); i++) {
      if (o === 0 && (i === BOS || i === UNK)) continue;
      const a = adj(o, i);
      if (a >= 1 && a <= 4) t[a - 1]++;
    }
    countsOfCounts.push(t);
    let d = mknDiscounts(t);
    if (!d) {
      if (!options.discountFallback) {
        throw new UserError(
          `cannot estimate Kneser–Ney discounts for ${o + 1}-grams from counts-of-counts ` +
            `${t.join(", ")} (tiny or duplicated text?); give --discount-fallback to use ` +
            `${KENLM_FALLBACK.join(", ")}`,
        );
      }
      d = options.discountFallback;
      fallbackOrders.push(o + 1);
    }
    discounts.push(d);
  }
  const disc = (o: number, a: number) => (a <= 0 ? 0 : discounts[o][Math.min(a, 3) - 1]);
  // Pruning: kept flags, top-down, keeping contexts and suffixes of kept n-grams.
  const prune = options.prune ?? [];
  const kept: Uint8Array[] = [];
  for (let o = 0; o < N; o++) kept.push(new Uint8Array(size(o)).fill(1));
  const pruning = prune.some((p, o) => o > 0 && p > 0);
  if (pruning) {
    const needed: Uint8Array[] = kept.map((k) => new Uint8Array(k.length));
    for (let o = N - 1; o >= 1; o--) {
      const thr = prune[o] ?? 0, k = kept[o], nd = needed[o];
      for (let i = 0; i < size(o); i++) {
        k[i] = nd[i] || adj(o, i) > thr ? 1 : 0;
        if (k[i] && o >= 2) {
          needed[o - 1][ctx[o].data[i]] = 1;
          needed[o - 1][suf[o].data[i]] = 1;
        }
      }
    }
  }
  // Context sums and γ numerators.
  const denom: Float64Array[] = [], gnum: Float64Array[] = [], hasKid: Uint8Array[] = [];
  for (let o = 0; o < N; o++) {
    const cs = o === 0 ? 1 : size(o - 1);
    denom.push(new Float64Array(cs));
    gnum.push(new Float64Array(cs));
    hasKid.push(new Uint8Array(cs));
  }
  for (let o = 0; o < N; o++) {
    for (let i = 0; i < size(o); i++) {
      if (o === 0 && i === BOS) continue;
      const a = adj(o, i), c = o === 0 ? 0 : ctx[o].data[i];
      denom[o][c] += a;
      if (kept[o][i]) {
        gnum[o][c] += disc(o, a);
        hasKid[o][c] = 1;
      } else gnum[o][c] += a;
    }
  }
  // Interpolated probabilities, order by order.
  const p: Float64Array[] = [];
  const p1 = new Float64Array(V);
  const g0 = gnum[0][0] / denom[0][0];
  for (let w = 0; w < V; w++) {
    const a = uni[w];
    p1[w] = w === BOS ? 1 : (a > 0 ? (a - disc(0, a)) / denom[0][0] : 0) + g0 / (V - 1);
  }
  p.push(p1);
  for (let o = 1; o < N; o++) {
    const pk = new Float64Array(size(o));
    const c = ctx[o].data, s = suf[o].data;
    for (let i = 0; i < pk.length; i++) {
      const a = cnt[o].data[i], d = denom[o][c[i]];
      pk[i] = (a - disc(o, a)) / d + (gnum[o][c[i]] / d) * p[o - 1][s[i]];
    }
    p.push(pk);
  }
  // Backoffs: log10 γ of each n-gram that is a context (not ending in </s> or <unk>).
  const lastWord = (o: number, i: number) => (o === 0 ? i : word[o].data[i]);
  const logBackoff = (o: number, i: number): number => {
    if (o >= N - 1) return 0;
    const w = lastWord(o, i);
    if (w === EOS || w === UNK || !hasKid[o + 1][i]) return 0;
    return Math.log10(gnum[o + 1][i] / denom[o + 1][i]);
  };
  const unpruned = Array.from({ length: N }, (_, o) => size(o));
  // Assemble (compacting when pruned).
  const remap: Int32Array[] = [];
  const tables: OrderTable[] = [undefined as unknown as OrderTable];
  const probs: Float32Array[] = [], backs: Float32Array[] = [];
  for (let o = 0; o < N; o++) {
    const n = size(o), map = new Int32Array(n).fill(-1);
    let next = 0;
    for (let i = 0; i < n; i++) if (kept[o][i]) map[i] = next++;
    remap.push(map);
    const pr = new Float32Array(next), bo = new Float32Array(next);
    const t: OrderTable | undefined = o === 0
      ? undefined
      : { ctx: new IntVec(next), word: new IntVec(next), index: new PairIndex(next) };
    for (let i = 0; i < n; i++) {
      const j = map[i];
      if (j < 0) continue;
      pr[j] = Math.min(0, Math.log10(p[o][i]));
      bo[j] = logBackoff(o, i);
      if (t) {
        const c = remap[o - 1][ctx[o].data[i]];
        t.ctx.push(c);
        t.word.push(word[o].data[i]);
        t.index.getOrSet(c, word[o].data[i], j);
      }
    }
    if (t) tables.push(t);
    probs.push(pr);
    backs.push(bo);
  }
  return {
    model: new NgramModel(N, vocab, tables, probs, backs),
    discounts,
    countsOfCounts,
    fallbackOrders,
    unpruned,
  };
}
