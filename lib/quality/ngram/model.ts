/**
 * A backoff n-gram language model in memory, as ARPA describes it: for each n-gram present, its
 * log10 probability and (below the highest order) its log10 backoff weight. N-grams of order k ≥ 2
 * are keyed by (index of their first k−1 words at order k−1, last word id); unigrams by word id.
 *
 * Scoring a sentence `w1 … wm` adds log10 p(wi | history) for every word and for `</s>`, the
 * history starting at `<s>` — as KenLM's `query` does.
 *
 * @module
 */

import { IntVec, PairIndex } from "./pair_index.ts";
import { BOS, EOS, Vocab } from "./vocab.ts";

/** One order's n-grams (k ≥ 2). */
export interface OrderTable {
  /** Index of the context (first k−1 words) at order k−1, per n-gram. */
  ctx: IntVec;
  /** Last word id, per n-gram. */
  word: IntVec;
  index: PairIndex;
}

/** Score of one sentence. */
export interface SentenceScore {
  /** Σ log10 p over the words and `</s>`. */
  logprob: number;
  /** Words (not counting `</s>`). */
  words: number;
  /** Words not in the vocabulary. */
  oov: number;
}

/** A backoff n-gram model. */
export class NgramModel {
  readonly order: number;
  readonly vocab: Vocab;
  /** log10 probability per order (index 0 = unigrams, by word id). */
  readonly prob: Float32Array[];
  /** log10 backoff per order (0 where the n-gram is not a context). */
  readonly backoff: Float32Array[];
  /** Tables of orders 2…N at index 1…N−1 (index 0 unused). */
  readonly tables: OrderTable[];
  // scoreSentence's buffers: word ids, and the history's indices per order
  #ids = new Int32Array(64);
  #hist: Int32Array;
  #next: Int32Array;

  constructor(
    order: number,
    vocab: Vocab,
    tables: OrderTable[],
    prob: Float32Array[],
    backoff: Float32Array[],
  ) {
    this.order = order;
    this.vocab = vocab;
    this.tables = tables;
    this.prob = prob;
    this.backoff = backoff;
    this.#hist = new Int32Array(order + 1);
    this.#next = new Int32Array(order + 1);
  }

  /** Number of n-grams of each order (1…N). */
  counts(): number[] {
    return this.prob.map((p) => p.length);
  }

  /** The ids of the words of n-gram `i` of order `k` (1-based order). */
  gramIds(k: number, i: number): number[] {
    const out: number[] = [];
    for (let o = k; o >= 2; o--) {
      const t = this.tables[o - 1];
      out.push(t.word.data[i]);
      i = t.ctx.data[i];
    }
    out.push(i);
    return out.reverse();
  }

  /** Index of the n-gram `ids` (any order ≤ N), or -1. */
  find(ids: number[]): number {
    let node = ids[0];
    for (let k = 2; k <= ids.length; k++) {
      node = this.tables[k - 1].index.get(node, ids[k - 1]);
      if (node < 0) return -1;
    }
    return node;
  }

  /**
   * log10 p(word | history) by backoff, `history` being word ids, most recent last (`<s>` first at
   * a sentence start).
   */
  logProb(history: number[], word: number): number {
    const n = this.order;
    const hist = history.slice(Math.max(0, history.length - (n - 1)));
    // nodes[k] = index of the last k history words at order k, or -1
    const nodes: number[] = [-1];
    let node = -2;
    for (let k = 1; k <= hist.length; k++) {
      const ids = hist.slice(hist.length - k);
      node = this.find(ids);
      nodes.push(node);
    }
    let m = 1;
    let g = word;
    for (let k = 2; k <= hist.length + 1; k++) {
      const c = nodes[k - 1];
      if (c < 0) break;
      const x = this.tables[k - 1].index.get(c, word);
      if (x < 0) break;
      g = x;
      m = k;
    }
    let lp = this.prob[m - 1][g];
    for (let k = m; k <= hist.length; k++) if (nodes[k] >= 0) lp += this.backoff[k - 1][nodes[k]];
    return lp;
  }

  /**
   * Scores one sentence of tokens (strings) or word ids; unknown words score as `<unk>`.
   *
   * @example
   * ```ts ignore
   * const { logprob, words } = model.scoreSentence(["안녕", "하세요"]);
   * ```
   */
  scoreSentence(tokens: string[] | Int32Array): SentenceScore {
    const n = this.order;
    let ids: ArrayLike<number>;
    let oov = 0;
    if (tokens instanceof Int32Array) ids = tokens;
    else {
      if (this.#ids.length < tokens.length) this.#ids = new Int32Array(2 * tokens.length);
      const a = this.#ids;
      for (let i = 0; i < tokens.length; i++) {
        a[i] = this.vocab.id(tokens[i]);
        if (a[i] === 0) oov++;
      }
      ids = a;
    }
    const count = tokens.length;
    // hist[k] = index at order k of the last k words (k = 1…len)
    let hist = this.#hist;
    let next = this.#next;
    hist[1] = BOS;
    let len = 1;
    let total = 0;
    const tables = this.tables, prob = this.prob, backoff = this.backoff;
    for (let i = 0; i <= count; i++) {
      const w = i < count ? ids[i] : EOS;
      let m = 1;
      let g = w;
      next[1] = w;
      const top = Math.min(n, len + 1);
      for (let k = 2; k <= top; k++) {
        const x = tables[k - 1].index.get(hist[k - 1], w);
        if (x < 0) break;
        g = x;
        m = k;
        next[k] = x;
      }
      let lp = prob[m - 1][g];
      for (let k = m; k <= len; k++) lp += backoff[k - 1][hist[k]];
      total += lp;
      const t = hist;
      hist = next;
      next = t;
      len = Math.min(m, n - 1);
    }
    return { logprob: total, words: count, oov };
  }
}
