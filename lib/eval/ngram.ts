/**
 * A small real language model that needs no GPU: a character n-gram LM with interpolated
 * Witten–Bell smoothing, trained on given text. It implements {@linkcode TokenLM} (one token per
 * character), so every scoring path of evaluation runs end to end in-process.
 *
 * P(c | h) = (C(h c) + T(h) · P(c | h')) / (C(h) + T(h)), where h' drops h's first character,
 * T(h) is the number of distinct characters seen after h, and the order-0 level backs off to a
 * uniform distribution over the vocabulary plus one unknown symbol.
 *
 * @module
 */

import type { TokenLM } from "./model.ts";

/** A trained character n-gram model. */
export class CharNgramLM implements TokenLM {
  readonly name: string;
  readonly maxLength: number;
  /** id → character; id 0 is the unknown symbol. */
  readonly vocab: string[] = ["\uFFFD"];
  #ids = new Map<string, number>();
  /** history string → (next id → count). */
  #counts = new Map<string, Map<number, number>>();
  #totals = new Map<string, number>();

  /** Trains an `order`-gram model (order ≥ 1) on `texts`. */
  constructor(texts: Iterable<string>, readonly order = 5, name?: string) {
    this.name = name ?? `char-${order}gram`;
    this.maxLength = order;
    for (const text of texts) {
      const chars = [...text];
      for (const ch of chars) this.#id(ch, true);
      for (let i = 0; i < chars.length; i++) {
        const next = this.#ids.get(chars[i])!;
        for (let k = 0; k < order && k <= i; k++) {
          const h = chars.slice(i - k, i).join("");
          let m = this.#counts.get(h);
          if (!m) this.#counts.set(h, m = new Map());
          m.set(next, (m.get(next) ?? 0) + 1);
          this.#totals.set(h, (this.#totals.get(h) ?? 0) + 1);
        }
      }
    }
  }

  #id(ch: string, add: boolean): number {
    let id = this.#ids.get(ch);
    if (id === undefined) {
      if (!add) return 0;
      id = this.vocab.length;
      this.vocab.push(ch);
      this.#ids.set(ch, id);
    }
    return id;
  }

  /** Characters to ids (unseen characters → 0). */
  encode(text: string): number[] {
    return [...text].map((c) => this.#id(c, false));
  }

  /** Ids to text. */
  decode(ids: number[]): string {
    return ids.map((i) => this.vocab[i] ?? "\uFFFD").join("");
  }

  /** Log-probabilities of every next character after `ids`. */
  nextLogProbs(ids: number[]): Float64Array {
    const V = this.vocab.length;
    const p = new Float64Array(V).fill(1 / V);
    const hist = this.decode(ids.slice(Math.max(0, ids.length - this.order + 1)));
    const chars = [...hist];
    // From the empty history up to the longest: p ← (C(h·) + T(h) p) / (C(h) + T(h)).
    for (let k = 0; k <= chars.length; k++) {
      const h = chars.slice(chars.length - k).join("");
      const m = this.#counts.get(h);
      if (!m) break;
      const total = this.#totals.get(h)!;
      const types = m.size;
      const denom = total + types;
      for (let i = 0; i < V; i++) p[i] = (types * p[i]) / denom;
      for (const [id, c] of m) p[id] += c / denom;
    }
    for (let i = 0; i < V; i++) p[i] = Math.log(p[i]);
    return p;
  }
}
