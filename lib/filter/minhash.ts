/**
 * MinHash signatures and LSH band keys for near-duplicate detection, as in datatrove and
 * text-dedup: documents become sets of shingles (word 5-grams by default, character n-grams as an
 * option), each shingle a 32-bit hash; each of `bands × rows` permutations is a universal hash
 * `h(x) = ((a·x + b) mod p) mod 2³²` with the Mersenne prime p = 2⁶¹ − 1 and seeded a ∈ [1, p),
 * b ∈ [0, p); the signature keeps the minimum of each permutation over the shingles. Two documents
 * of Jaccard similarity s share a band (all `rows` values equal) with probability s^rows, so they
 * become candidates with probability 1 − (1 − s^rows)^bands.
 *
 * The arithmetic uses only 32-bit unsigned words (the 93-bit product a·x is three words, the
 * reduction folds at bit 61), exactly as `kernels/minhash.wgsl` does, so the CPU path here and the
 * GPU kernel give bit-identical signatures. This file is the kernel's reference.
 *
 * @module
 */

/** Options of MinHash-LSH (datatrove's defaults: 14 bands × 8 rows, word 5-grams). */
export interface MinhashOptions {
  bands: number;
  rows: number;
  /** Shingle size in words (or characters for `shingle: "char"`). */
  ngram: number;
  shingle: "word" | "char";
  seed: number;
}

/** The defaults. */
export const MINHASH_DEFAULTS: MinhashOptions = {
  bands: 14,
  rows: 8,
  ngram: 5,
  shingle: "word",
  seed: 1,
};

/**
 * The permutations: `perms[4k..4k+3] = (a_hi, a_lo, b_hi, b_lo)` of permutation k, 61-bit values
 * split into 29 + 32 bits. Layout matches the kernel's `perms` binding.
 */
export function makePermutations(count: number, seed: number): Uint32Array {
  const rnd = _splitmix32(seed);
  const out = new Uint32Array(4 * count);
  const draw61 = (nonzero: boolean): [number, number] => {
    for (;;) {
      const hi = rnd() & 0x1fffffff;
      const lo = rnd();
      if (hi === 0x1fffffff && lo === 0xffffffff) continue; // = p
      if (nonzero && hi === 0 && lo === 0) continue;
      return [hi, lo];
    }
  };
  for (let k = 0; k < count; k++) {
    const [ahi, alo] = draw61(true);
    const [bhi, blo] = draw61(false);
    out.set([ahi, alo, bhi, blo], 4 * k);
  }
  return out;
}

/**
 * Low 32 bits of `(a·x + b) mod (2⁶¹ − 1)`, with a = ahi·2³² + alo and b = bhi·2³² + blo below
 * 2⁶¹ − 1 and x < 2³², in 32-bit words only (the kernel's `permute`).
 */
export function permute(x: number, ahi: number, alo: number, bhi: number, blo: number): number {
  // a·x = ahi·x·2³² + alo·x: three words w2 w1 w0
  const x0 = x & 0xffff;
  const x1 = x >>> 16;
  // alo·x
  let a0 = alo & 0xffff;
  let a1 = alo >>> 16;
  let p00 = a0 * x0;
  let p01 = a0 * x1;
  let p10 = a1 * x0;
  let mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const m1l = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const m1h = (a1 * x1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  // ahi·x
  a0 = ahi & 0xffff;
  a1 = ahi >>> 16;
  p00 = a0 * x0;
  p01 = a0 * x1;
  p10 = a1 * x0;
  mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const m2l = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const m2h = (a1 * x1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  let w0 = m1l;
  let w1 = (m2l + m1h) >>> 0;
  let w2 = m2h + (w1 < m2l ? 1 : 0);
  // + b
  const t0 = (w0 + blo) >>> 0;
  const c0 = t0 < w0 ? 1 : 0;
  w0 = t0;
  const t1 = (w1 + bhi) >>> 0;
  const c1 = t1 < w1 ? 1 : 0;
  const t2 = (t1 + c0) >>> 0;
  const c2 = t2 < t1 ? 1 : 0;
  w1 = t2;
  w2 = w2 + c1 + c2;
  // fold at bit 61: v ≡ (v mod 2⁶¹) + (v >> 61)   (v >> 61 < 2³² since a·x + b < 2⁹³)
  const top = ((w2 << 3) | (w1 >>> 29)) >>> 0;
  const sLo = (w0 + top) >>> 0;
  const sHi = (w1 & 0x1fffffff) + (sLo < w0 ? 1 : 0);
  // s < 2·p: subtract p once when s ≥ p (only the low word is kept: + 1 mod 2³²)
  const geP = sHi > 0x1fffffff || (sHi === 0x1fffffff && sLo === 0xffffffff);
  return geP ? (sLo + 1) >>> 0 : sLo;
}

/** MurmurHash3's 32-bit finaliser. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `s`. */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The words of `text` for shingling: lower-cased runs of letters and digits. */
export function shingleWords(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== "");
}

/**
 * True for a UTF-16 unit that separates words: ASCII other than letters and digits, Latin-1
 * punctuation and symbols, general punctuation (U+2000–206F), arrows to miscellaneous symbols
 * (U+2190–2BFF), CJK symbols and punctuation (U+3000–303F), full-width ASCII punctuation, and
 * astral-plane characters (emoji). Everything else (Hangul, CJK, other letters and
 * digits) belongs to words. A fast stand-in for `[^\p{L}\p{N}]` on the text Jikji sees.
 */
export function isSeparator(c: number): boolean {
  if (c < 0x80) return !((c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90));
  if (c < 0xc0) return true;
  if (c === 0xd7 || c === 0xf7) return true;
  if (c >= 0x2000 && c <= 0x206f) return true;
  if (c >= 0x2190 && c <= 0x2bff) return true; // arrows, math, technical, box drawing, shapes
  if (c >= 0xd800 && c <= 0xdfff) return true; // astral planes: emoji (rare letters too)
  if (c >= 0x3000 && c <= 0x303f) return true;
  if (c >= 0xff00 && c <= 0xff65) {
    return !((c >= 0xff10 && c <= 0xff19) || (c >= 0xff21 && c <= 0xff3a) ||
      (c >= 0xff41 && c <= 0xff5a));
  }
  return false;
}

/** FNV-1a hashes of the words of `text` (lower-cased, split at {@linkcode isSeparator}). */
export function wordUnitHashes(text: string): number[] {
  const t = text.toLowerCase();
  const out: number[] = [];
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (isSeparator(c)) {
      if (inWord) out.push(h >>> 0);
      inWord = false;
      h = 0x811c9dc5;
    } else {
      h = Math.imul(h ^ c, 0x01000193);
      inWord = true;
    }
  }
  if (inWord) out.push(h >>> 0);
  return out;
}

/**
 * The 32-bit shingle hashes of `text`: every window of `ngram` consecutive words (or code points
 * of the whitespace-collapsed text). A text shorter than one window is one shingle; an empty text
 * has none.
 *
 * @example
 * ```ts
 * import { makePermutations, shingleHashes, signatureCpu } from "./minhash.ts";
 * const sh = shingleHashes("가 나 다 라 마 바 사", 5, "word"); // 3 shingles
 * const sig = signatureCpu(sh, makePermutations(112, 1)); // 112 minima
 * ```
 */
export function shingleHashes(text: string, ngram: number, kind: "word" | "char"): Uint32Array {
  let units: number[];
  if (kind === "word") units = wordUnitHashes(text);
  else {
    units = [];
    for (const ch of text.toLowerCase().replace(/\s+/g, " ").trim()) units.push(ch.codePointAt(0)!);
  }
  if (units.length === 0) return new Uint32Array(0);
  const n = Math.min(ngram, units.length);
  const out = new Uint32Array(units.length - n + 1);
  for (let i = 0; i < out.length; i++) {
    let h = 0x9747b28c ^ n;
    for (let j = 0; j < n; j++) h = fmix32((Math.imul(h, 0x9e3779b1) + units[i + j]) >>> 0);
    out[i] = h;
  }
  return out;
}

/**
 * The MinHash signature of a shingle set: for each permutation, the minimum over the shingles
 * (all 0xFFFFFFFF for an empty set). Writes into `out` (length = perms.length / 4).
 */
export function signatureCpu(
  shingles: Uint32Array,
  perms: Uint32Array,
  out = new Uint32Array(perms.length / 4),
): Uint32Array {
  const k = perms.length / 4;
  out.fill(0xffffffff);
  for (let i = 0; i < shingles.length; i++) {
    const x = shingles[i];
    for (let j = 0; j < k; j++) {
      const v = permute(x, perms[4 * j], perms[4 * j + 1], perms[4 * j + 2], perms[4 * j + 3]);
      if (v < out[j]) out[j] = v;
    }
  }
  return out;
}

/**
 * LSH band keys of a signature: for band b, a 64-bit key (two 32-bit words) hashing its `rows`
 * values. `out[2b], out[2b+1]`.
 */
export function bandKeys(sig: Uint32Array, bands: number, rows: number): Uint32Array {
  const out = new Uint32Array(2 * bands);
  for (let b = 0; b < bands; b++) {
    let h1 = 0x2545f491 ^ b;
    let h2 = 0x6c8e9cf5 ^ Math.imul(b, 0x9e3779b1);
    for (let r = 0; r < rows; r++) {
      const v = sig[b * rows + r];
      h1 = fmix32((Math.imul(h1, 0x01000193) ^ v) >>> 0);
      h2 = fmix32((h2 + Math.imul(v, 0xcc9e2d51)) >>> 0);
    }
    out[2 * b] = h1;
    out[2 * b + 1] = h2;
  }
  return out;
}

/** The probability that two documents of Jaccard similarity `s` share at least one band. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

/** Jaccard similarity of two shingle sets. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}

function _splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}
