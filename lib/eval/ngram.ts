/**
 * A small real language model that needs no GPU: an n-gram LM with interpolated Witten–Bell
 * smoothing over characters (one token per character) or over the tokens of any tokenizer,
 * trained on given text. It implements {@linkcode TokenLM}, so every scoring path of evaluation
 * runs end to end in-process; over a tokenizer its cost per text grows with the text's token
 * count, which makes evaluation time comparable across vocabularies.
 *
 * P(c | h) = (C(h c) + T(h) · P(c | h')) / (C(h) + T(h)), where h' drops h's first unit,
 * T(h) is the number of distinct units seen after h, and the order-0 level backs off to a
 * uniform distribution over the vocabulary plus one unknown symbol.
 *
 * @module
 */

import type { TokenLM } from "./model.ts";

/** How text becomes units (strings) and back. */
export interface Segmenter {
  split(text: string): string[];
  join(units: string[]): string;
}

/** One unit per character (code point). */
export const CHARACTERS: Segmenter = { split: (t) => [...t], join: (u) => u.join("") };

/** A trained n-gram model. */
export class NgramLM implements TokenLM {
  readonly name: string;
  readonly maxLength: number;
  /** id → unit; id 0 is the unknown symbol. */
  readonly vocab: string[] = ["\uFFFD"];
  #ids = new Map<string, number>();
  /** history (ids joined by ",") → (next id → count). */
  #counts = new Map<string, Map<number, number>>();
  #totals = new Map<string, number>();

  /** Trains an `order`-gram model (order ≥ 1) on `texts`, split into units by `seg`. */
  constructor(
    texts: Iterable<string>,
    readonly order = 5,
    name?: string,
    readonly seg: Segmenter = CHARACTERS,
  ) {
    this.name = name ?? `${order}gram`;
    this.maxLength = order;
    for (const text of texts) {
      const ids = seg.split(text).map((u) => this.#id(u, true));
      for (let i = 0; i < ids.length; i++) {
        for (let k = 0; k < order && k <= i; k++) {
          const h = ids.slice(i - k, i).join(",");
          let m = this.#counts.get(h);
          if (!m) this.#counts.set(h, m = new Map());
          m.set(ids[i], (m.get(ids[i]) ?? 0) + 1);
          this.#totals.set(h, (this.#totals.get(h) ?? 0) + 1);
        }
      }
    }
  }

  #id(u: string, add: boolean): number {
    let id = this.#ids.get(u);
    if (id === undefined) {
      if (!add) return 0;
      id = this.vocab.length;
      this.vocab.push(u);
      this.#ids.set(u, id);
    }
    return id;
  }

  /** Text to ids (unseen units → 0). */
  encode(text: string): number[] {
    return this.seg.split(text).map((u) => this.#id(u, false));
  }

  /** Ids to text. */
  decode(ids: number[]): string {
    return this.seg.join(ids.map((i) => this.vocab[i] ?? "\uFFFD"));
  }

  /** Log-probabilities of every next unit after `ids`. */
  nextLogProbs(ids: number[]): Float64Array {
    const V = this.vocab.length;
    const p = new Float64Array(V).fill(1 / V);
    const hist = ids.slice(Math.max(0, ids.length - this.order + 1));
    // From the empty history up to the longest: p ← (C(h·) + T(h) p) / (C(h) + T(h)).
    for (let k = 0; k <= hist.length; k++) {
      const sub = hist.slice(hist.length - k);
      if (sub.includes(0)) break; // an unknown unit: no longer history was seen
      const m = this.#counts.get(sub.join(","));
      if (!m) break;
      const total = this.#totals.get(sub.join(","))!;
      const types = m.size;
      const denom = total + types;
      for (let i = 0; i < V; i++) p[i] = (types * p[i]) / denom;
      for (const [id, c] of m) p[id] += c / denom;
    }
    for (let i = 0; i < V; i++) p[i] = Math.log(p[i]);
    return p;
  }
}

/** The character n-gram model (one token per character). */
export class CharNgramLM extends NgramLM {
  constructor(texts: Iterable<string>, order = 5, name?: string) {
    super(texts, order, name ?? `char-${order}gram`, CHARACTERS);
  }
}

/** Units of a tokenizer: its token ids as strings, decoded back with it. */
export function tokenizerSegmenter(
  tok: { encode(text: string): number[]; decode(ids: number[]): string },
): Segmenter {
  return {
    split: (t) => tok.encode(t).map(String),
    join: (u) => tok.decode(u.map(Number)),
  };
}
