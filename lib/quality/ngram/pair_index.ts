/**
 * An open-addressing hash index from a pair of non-negative int32 keys `(a, b)` to an int32 value,
 * backed by typed arrays: the n-gram tables key each n-gram by (its context's index, its last
 * word's id).
 *
 * @module
 */

const EMPTY = -1;

/** Pair → value index with linear probing; grows at 50 % load. */
export class PairIndex {
  #a: Int32Array;
  #b: Int32Array;
  #v: Int32Array;
  #mask: number;
  /** Number of stored pairs. */
  size = 0;

  /** An index expecting about `capacity` pairs. */
  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#a = new Int32Array(cap).fill(EMPTY);
    this.#b = new Int32Array(cap);
    this.#v = new Int32Array(cap);
    this.#mask = cap - 1;
  }

  static #hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  /** The value stored for `(a, b)`, or -1. */
  get(a: number, b: number): number {
    const ka = this.#a, kb = this.#b, mask = this.#mask;
    let i = PairIndex.#hash(a, b) & mask;
    while (true) {
      const x = ka[i];
      if (x === EMPTY) return -1;
      if (x === a && kb[i] === b) return this.#v[i];
      i = (i + 1) & mask;
    }
  }

  /** Stores `value` for `(a, b)` unless present; returns the value now stored. */
  getOrSet(a: number, b: number, value: number): number {
    if ((this.size + 1) * 2 > this.#a.length) this.#grow();
    const ka = this.#a, kb = this.#b, mask = this.#mask;
    let i = PairIndex.#hash(a, b) & mask;
    while (true) {
      const x = ka[i];
      if (x === EMPTY) {
        ka[i] = a;
        kb[i] = b;
        this.#v[i] = value;
        this.size++;
        return value;
      }
      if (x === a && kb[i] === b) return this.#v[i];
      i = (i + 1) & mask;
    }
  }

  /** The table's arrays (keys a and b, values; -1 in `a` marks a free slot), for saving. */
  arrays(): { a: Int32Array; b: Int32Array; v: Int32Array } {
    return { a: this.#a, b: this.#b, v: this.#v };
  }

  /**
   * An index over arrays that {@linkcode arrays} gave (used as they are, not copied); their
   * common length must be a power of two.
   */
  static fromArrays(a: Int32Array, b: Int32Array, v: Int32Array, size: number): PairIndex {
    const index = new PairIndex(0);
    index.#a = a;
    index.#b = b;
    index.#v = v;
    index.#mask = a.length - 1;
    index.size = size;
    return index;
  }

  #grow(): void {
    const oa = this.#a, ob = this.#b, ov = this.#v;
    const cap = oa.length * 2;
    this.#a = new Int32Array(cap).fill(EMPTY);
    this.#b = new Int32Array(cap);
    this.#v = new Int32Array(cap);
    this.#mask = cap - 1;
    const ka = this.#a, kb = this.#b, kv = this.#v, mask = this.#mask;
    for (let j = 0; j < oa.length; j++) {
      if (oa[j] === EMPTY) continue;
      let i = PairIndex.#hash(oa[j], ob[j]) & mask;
      while (ka[i] !== EMPTY) i = (i + 1) & mask;
      ka[i] = oa[j];
      kb[i] = ob[j];
      kv[i] = ov[j];
    }
  }
}

/** A growable int32 array. */
export class IntVec {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  /** Appends `x`; returns its index. */
  push(x: number): number {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length] = x;
    return this.length++;
  }
  /** A vector holding `data` (used as it is, not copied). */
  static of(data: Int32Array): IntVec {
    const v = new IntVec(0);
    v.data = data;
    v.length = data.length;
    return v;
  }
  /** The used part. */
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}
