/**
 * A Unigram vocabulary trainer in the manner of sentencepiece's (`unigram_model_trainer.cc`),
 * over a dictionary of pre-tokens with counts:
 *
 * 1. Required characters: the most frequent code points covering `characterCoverage` of all
 *    character occurrences (plus `requiredChars`); the rest are unknown.
 * 2. Seed pieces: every substring of a pre-token (up to `maxPieceLength` code points, valid by
 *    `isValidPiece`, only required characters) occurring at least twice, scored frequency ×
 *    length, the top `seedSize` kept, plus every required character; initial log-probabilities ∝
 *    log(score). As in sentencepiece they come from a suffix array, here over the distinct
 *    pre-tokens (a piece never crosses a pre-token), whose runs also give every seed's occurrences.
 * 3. Rounds of: `emSubIterations` EM steps — the E step runs forward–backward over each
 *    pre-token's lattice, expected counts weighted by the pre-token's count; the M step drops
 *    pieces expected fewer than 0.5 times and sets log p = ψ(count) − ψ(Σ counts) (the digamma
 *    form sentencepiece uses, a Bayesian-flavoured estimate that favours removing rare pieces) —
 *    then, while the vocabulary is above 1.1 × the target, pruning: for each piece, its Viterbi
 *    frequency F and the best segmentation of the piece without itself; the loss of removing it is
 *    F·(log p(piece) − Σ log p'(alternative)), with p' renormalised after moving F to the
 *    alternatives; the `shrinkingFactor` share with the largest loss survives.
 * 4. Final vocabulary: `<unk>`, `<s>`, `</s>`, the 256 `<0xXX>` byte pieces when `byteFallback`,
 *    then required characters and the highest-scoring pieces, by score.
 *
 * Deterministic: no randomness; ties are broken by piece string order. Pre-tokens, pieces and the
 * lattice live in typed arrays, so memory stays a small multiple of the pre-token text.
 *
 * @module
 */

import {
  bytePiece,
  codePoints,
  type Piece,
  PieceTrie,
  PieceType,
  UnigramModel,
} from "./unigram.ts";

/** Trainer settings; defaults are sentencepiece's. */
export interface UnigramTrainerOptions {
  /** Final vocabulary size including meta and byte pieces. */
  vocabSize: number;
  /** Share of character occurrences the required characters must cover (0.9995 for CJK/Korean). */
  characterCoverage?: number;
  /** Longest piece, in code points. */
  maxPieceLength?: number;
  /** Seed pieces kept before EM. */
  seedSize?: number;
  /** Share of pieces kept per pruning round. */
  shrinkingFactor?: number;
  /** EM steps per round. */
  emSubIterations?: number;
  /** Characters always in the vocabulary. */
  requiredChars?: string;
  /** Add the 256 byte pieces and fall back to them for unknown characters. */
  byteFallback?: boolean;
  /** Meta pieces at ids 0.. (the first must be the unknown piece). */
  metaPieces?: string[];
  /** Whether a multi-character string may be a piece (default: any). */
  isValidPiece?: (piece: number[]) => boolean;
  /** Progress report: called once per round. */
  onRound?: (round: { round: number; pieces: number; objective: number }) => void;
}

const EXPECTED_FREQUENCY_THRESHOLD = 0.5;

/** The pre-tokens, sorted by text: code points of word w at `cps[start[w], start[w+1])`. */
export interface Words {
  cps: Int32Array;
  start: Int32Array;
  count: Float64Array;
}

/**
 * The training pieces, in typed arrays (one object per piece would cost far more memory than the
 * pieces themselves): code points of piece i at `cps[start[i], start[i+1])`, its
 * log-probability, and whether it is a required character.
 */
interface Pieces {
  cps: Int32Array;
  start: Int32Array;
  score: Float64Array;
  required: Uint8Array;
}

/** Trains a Unigram model from pre-tokens and their counts. */
export function trainUnigram(
  preTokens: Map<string, number>,
  options: UnigramTrainerOptions,
): UnigramModel {
  const o = {
    characterCoverage: 0.9995,
    maxPieceLength: 16,
    seedSize: 1_000_000,
    shrinkingFactor: 0.75,
    emSubIterations: 2,
    requiredChars: "",
    byteFallback: false,
    metaPieces: ["<unk>", "<s>", "</s>"],
    isValidPiece: () => true,
    onRound: () => {},
    ...options,
  };
  const words = preTokenWords(preTokens);
  const required = requiredCharacters(words, o.characterCoverage, o.requiredChars);
  const special = o.metaPieces.length + (o.byteFallback ? 256 : 0);
  const target = o.vocabSize - special;
  if (target < required.size) {
    throw new Error(
      `vocabSize ${o.vocabSize} leaves ${target} pieces, fewer than the ${required.size} required characters`,
    );
  }
  const seeded = seedPieces(words, required, o), lattice = seeded.lattice;
  let pieces = seeded.pieces, size = pieces.score.length;
  let alive = new Uint8Array(size).fill(1);
  let counts = new Float64Array(size); // the E step's expected counts, reused
  const desired = Math.floor(target * 1.1);
  for (let round = 0;; round++) {
    let objective = 0;
    for (let it = 0; it < o.emSubIterations; it++) {
      const e = expectation(pieces, alive, lattice, counts);
      objective = e.objective;
      size = maximization(pieces, alive, e.counts);
    }
    if (size < alive.length) {
      pieces = compact(pieces, alive, lattice);
      alive = new Uint8Array(size).fill(1);
      counts = new Float64Array(size);
    }
    o.onRound({ round, pieces: size, objective });
    if (size <= desired) break;
    size = prune(pieces, alive, lattice, desired, o.shrinkingFactor);
  }
  return finalize(pieces, alive, target, o.metaPieces, o.byteFallback);
}

/** The pre-tokens with a positive count, sorted by text, in typed arrays. */
export function preTokenWords(preTokens: Map<string, number>): Words {
  const sorted = [...preTokens].filter(([t, c]) => c > 0 && t.length)
    .sort((a, b) => a[0] < b[0] ? -1 : 1);
  const start = new Int32Array(sorted.length + 1);
  sorted.forEach(([t], w) => (start[w + 1] = start[w] + codePoints(t).length));
  const cps = new Int32Array(start[sorted.length]);
  sorted.forEach(([t], w) => cps.set(codePoints(t), start[w]));
  return { cps, start, count: Float64Array.from(sorted, ([, c]) => c) };
}

/** The code points of piece `i`. */
function _cps(p: Pieces, i: number): Int32Array {
  return p.cps.subarray(p.start[i], p.start[i + 1]);
}

/** The text of piece `i`. */
function _text(p: Pieces, i: number): string {
  return String.fromCodePoint(..._cps(p, i));
}

/**
 * Orders the code points `a[as, ae)` and `b[bs, be)` as JavaScript orders their strings (by
 * UTF-16 code units).
 */
function _compareUtf16(
  a: ArrayLike<number>,
  as: number,
  ae: number,
  b: ArrayLike<number>,
  bs: number,
  be: number,
): number {
  const unit = (c: number) => c < 0x10000 ? c : 0xd800 + ((c - 0x10000) >> 10);
  for (; as < ae && bs < be; as++, bs++) {
    if (a[as] !== b[bs]) return unit(a[as]) - unit(b[bs]) || a[as] - b[bs];
  }
  return ae - as - (be - bs);
}

function requiredCharacters(words: Words, coverage: number, extra: string): Map<number, number> {
  const freq = new Map<number, number>();
  let total = 0;
  for (let w = 0; w < words.count.length; w++) {
    for (let i = words.start[w]; i < words.start[w + 1]; i++) {
      const c = words.cps[i];
      freq.set(c, (freq.get(c) ?? 0) + words.count[w]);
    }
    total += (words.start[w + 1] - words.start[w]) * words.count[w];
  }
  const sorted = [...freq].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const required = new Map<number, number>();
  let covered = 0;
  for (const [c, f] of sorted) {
    if (covered >= total * coverage) break;
    required.set(c, f);
    covered += f;
  }
  for (const c of codePoints(extra)) if (!required.has(c)) required.set(c, freq.get(c) ?? 1);
  return required;
}

/** A growable typed array. */
function _grown<T extends Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/**
 * The distinct substrings of the pre-tokens (up to `maxLength` required characters) with their
 * counts, from a suffix array as sentencepiece finds them: the suffixes (cut at the word's end, the
 * first character that is not required, and `maxLength`) are sorted, so each distinct substring of
 * length d is a run of consecutive suffixes sharing their first d characters, and its count is the
 * sum of the runs' pre-token counts. `found(first, d, count, from, to)` gets one per substring:
 * the position of one occurrence in `words.cps`, and its run `sa[from, to)`.
 */
export function distinctSubstrings(
  words: Words,
  isRequired: Uint8Array,
  maxLength: number,
  found: (first: number, d: number, count: number, from: number, to: number) => void,
): { sa: Int32Array; wordOf: Int32Array } {
  const cps = words.cps, N = cps.length;
  const limit = new Int32Array(N), wordOf = new Int32Array(N);
  let S = 0;
  for (let w = 0; w < words.count.length; w++) {
    let end = words.start[w + 1];
    for (let p = words.start[w + 1] - 1; p >= words.start[w]; p--) {
      wordOf[p] = w;
      if (!isRequired[cps[p]]) end = p;
      limit[p] = Math.min(end, p + maxLength);
      if (limit[p] > p) S++;
    }
  }
  const sa = new Int32Array(S);
  for (let p = 0, r = 0; p < N; p++) if (limit[p] > p) sa[r++] = p;
  sa.sort((p, q) => {
    const n = Math.min(limit[p] - p, limit[q] - q);
    for (let k = 0; k < n; k++) if (cps[p + k] !== cps[q + k]) return cps[p + k] - cps[q + k];
    return limit[p] - p - (limit[q] - q) || p - q;
  });
  // runFrom[d], runSum[d]: the open run of suffixes sharing their first d characters.
  const runFrom = new Int32Array(maxLength + 1), runSum = new Float64Array(maxLength + 1);
  let open = 0;
  for (let r = 0; r <= S; r++) {
    const p = sa[r], len = r < S ? limit[p] - p : 0;
    let lcp = 0;
    if (r > 0 && r < S) {
      const q = sa[r - 1], n = Math.min(len, limit[q] - q);
      while (lcp < n && cps[p + lcp] === cps[q + lcp]) lcp++;
    }
    for (let d = open; d > lcp; d--) found(sa[runFrom[d]], d, runSum[d], runFrom[d], r);
    for (let d = lcp + 1; d <= len; d++) (runFrom[d] = r), (runSum[d] = 0);
    open = len;
    if (r < S) { for (let d = 1; d <= len; d++) runSum[d] += words.count[wordOf[p]]; }
  }
  return { sa, wordOf };
}

/**
 * Seed pieces and their lattice: the distinct substrings seen at least twice, scored frequency ×
 * length, the best `seedSize` kept, and every required character; each piece's occurrences are
 * its suffix-array run, so the lattice is filled in typed arrays of its exact size.
 */
function seedPieces(
  words: Words,
  required: Map<number, number>,
  o: Required<UnigramTrainerOptions>,
): { pieces: Pieces; lattice: Lattice } {
  const isRequired = new Uint8Array(0x110000);
  for (const c of required.keys()) isRequired[c] = 1;
  // Candidates (k): first occurrence, length, count, and suffix-array run.
  let first = new Int32Array(1 << 16), len = new Int32Array(1 << 16);
  let count = new Float64Array(1 << 16), from = new Int32Array(1 << 16);
  let to = new Int32Array(1 << 16);
  let n = 0;
  const charRun = new Map<number, [number, number]>();
  const { sa, wordOf } = distinctSubstrings(
    words,
    isRequired,
    o.maxPieceLength,
    (p, d, f, a, b) => {
      if (d === 1) charRun.set(words.cps[p], [a, b]);
      if (d === 1 || f < 2) return;
      const piece: number[] = [];
      for (let k = p; k < p + d; k++) piece.push(words.cps[k]);
      if (!o.isValidPiece(piece)) return;
      if (n === first.length) {
        [first, len, from, to] = [
          _grown(first, n + 1),
          _grown(len, n + 1),
          _grown(from, n + 1),
          _grown(to, n + 1),
        ];
        count = _grown(count, n + 1);
      }
      first[n] = p;
      len[n] = d;
      count[n] = f;
      from[n] = a;
      to[n++] = b;
    },
  );
  const cpsOf = (k: number) => words.cps.subarray(first[k], first[k] + len[k]);
  const value = (k: number) => count[k] * len[k];
  const seeds = new Int32Array(n).map((_, k) => k)
    .sort((a, b) =>
      value(b) - value(a) ||
      _compareUtf16(words.cps, first[a], first[a] + len[a], words.cps, first[b], first[b] + len[b])
    )
    .subarray(0, Math.min(n, Math.max(0, o.seedSize - required.size)));
  // Required characters, seen or not (given by `requiredChars`), by frequency.
  const chars = [...required].sort((a, b) =>
    b[1] - a[1] || _compareUtf16([a[0]], 0, 1, [b[0]], 0, 1)
  );
  const total = seeds.length + chars.length;
  const pieces: Pieces = {
    cps: new Int32Array(seeds.reduce((a, k) => a + len[k], 0) + chars.length),
    start: new Int32Array(total + 1),
    score: new Float64Array(total),
    required: new Uint8Array(total),
  };
  const runs = new Int32Array(2 * total).fill(-1); // per piece: its suffix-array run, if any
  let sum = 0;
  seeds.forEach((k, i) => {
    pieces.cps.set(cpsOf(k), pieces.start[i]);
    pieces.start[i + 1] = pieces.start[i] + len[k];
    pieces.score[i] = value(k);
    runs.set([from[k], to[k]], 2 * i);
    sum += pieces.score[i];
  });
  chars.forEach(([c, f], j) => {
    const i = seeds.length + j, run = charRun.get(c);
    pieces.cps[pieces.start[i]] = c;
    pieces.start[i + 1] = pieces.start[i] + 1;
    pieces.score[i] = f;
    pieces.required[i] = 1;
    if (run) runs.set(run, 2 * i);
    sum += f;
  });
  const logSum = Math.log(sum);
  for (let i = 0; i < total; i++) pieces.score[i] = Math.log(pieces.score[i]) - logSum;
  // The lattice: occurrences per position of words.cps, each position's by increasing length.
  const at = new Int32Array(words.cps.length + 1);
  for (let i = 0; i < total; i++) {
    for (let r = runs[2 * i]; r >= 0 && r < runs[2 * i + 1]; r++) at[sa[r] + 1]++;
  }
  for (let p = 0; p < words.cps.length; p++) at[p + 1] += at[p];
  const edges = at[words.cps.length];
  // Positions inside a pre-token: 16 bits unless some pre-token is longer.
  let longest = 0;
  for (let w = 0; w < words.count.length; w++) {
    longest = Math.max(longest, words.start[w + 1] - words.start[w]);
  }
  const Position = longest < 0x10000 ? Uint16Array : Int32Array;
  const lattice = {
    words,
    offset: words.start.map((p) => at[p]),
    start: new Position(edges),
    end: new Position(edges),
    id: new Int32Array(edges),
  };
  const byLength = new Int32Array(total).map((_, i) => i)
    .sort((a, b) =>
      pieces.start[a + 1] - pieces.start[a] - (pieces.start[b + 1] - pieces.start[b])
    );
  for (const i of byLength) {
    const d = pieces.start[i + 1] - pieces.start[i];
    for (let r = runs[2 * i]; r >= 0 && r < runs[2 * i + 1]; r++) {
      const p = sa[r], e = at[p]++, s = p - words.start[wordOf[p]];
      lattice.start[e] = s;
      lattice.end[e] = s + d;
      lattice.id[e] = i;
    }
  }
  return { pieces, lattice };
}

/** Every occurrence of a seed piece in every pre-token, ordered by word, start, then end. */
interface Lattice {
  words: Words;
  offset: Int32Array;
  start: Uint16Array | Int32Array;
  end: Uint16Array | Int32Array;
  id: Int32Array;
}

/**
 * The living pieces, in their order, and the lattice without the others' edges (rewritten in
 * place, so no second lattice is ever held).
 */
function compact(pieces: Pieces, alive: Uint8Array, lat: Lattice): Pieces {
  const index = new Int32Array(alive.length);
  let n = 0, length = 0;
  for (let i = 0; i < alive.length; i++) {
    if (!alive[i]) continue;
    index[i] = n++;
    length += pieces.start[i + 1] - pieces.start[i];
  }
  const out: Pieces = {
    cps: new Int32Array(length),
    start: new Int32Array(n + 1),
    score: new Float64Array(n),
    required: new Uint8Array(n),
  };
  for (let i = 0, k = 0; i < alive.length; i++, k += alive[i - 1]) {
    if (!alive[i]) continue;
    out.cps.set(_cps(pieces, i), out.start[k]);
    out.start[k + 1] = out.start[k] + pieces.start[i + 1] - pieces.start[i];
    out.score[k] = pieces.score[i];
    out.required[k] = pieces.required[i];
  }
  const W = lat.words.count.length, { start, end, id } = lat;
  let kept = 0;
  for (let w = 0; w < W; w++) {
    const from = lat.offset[w], to = lat.offset[w + 1];
    lat.offset[w] = kept;
    for (let e = from; e < to; e++) {
      if (!alive[id[e]]) continue;
      start[kept] = start[e];
      end[kept] = end[e];
      id[kept++] = index[id[e]];
    }
  }
  lat.offset[W] = kept;
  return out;
}

function buildTrie(pieces: Pieces, alive: Uint8Array): PieceTrie {
  const trie = new PieceTrie();
  for (let i = 0; i < alive.length; i++) if (alive[i]) trie.insert(_cps(pieces, i), i);
  return trie;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** E step: expected piece counts under the current model, and the mean negative log-likelihood. */
function expectation(
  pieces: Pieces,
  alive: Uint8Array,
  lat: Lattice,
  counts: Float64Array,
): { counts: Float64Array; objective: number } {
  counts.fill(0);
  const score = pieces.score;
  let objective = 0, total = 0;
  let alpha = new Float64Array(64), beta = new Float64Array(64);
  const { start, end, id } = lat, words = lat.words;
  for (let k = 0; k < words.count.length; k++) {
    const n = words.start[k + 1] - words.start[k], from = lat.offset[k], to = lat.offset[k + 1];
    const count = words.count[k];
    if (alpha.length < n + 1) {
      alpha = new Float64Array(2 * n + 2);
      beta = new Float64Array(2 * n + 2);
    }
    alpha.fill(-Infinity, 0, n + 1);
    beta.fill(-Infinity, 0, n + 1);
    alpha[0] = 0;
    for (let e = from; e < to; e++) {
      if (alive[id[e]]) alpha[end[e]] = logAdd(alpha[end[e]], alpha[start[e]] + score[id[e]]);
    }
    const z = alpha[n];
    if (z === -Infinity) continue; // holds an unknown character: no complete path
    beta[n] = 0;
    for (let e = to - 1; e >= from; e--) {
      if (alive[id[e]]) beta[start[e]] = logAdd(beta[start[e]], beta[end[e]] + score[id[e]]);
    }
    for (let e = from; e < to; e++) {
      if (!alive[id[e]]) continue;
      counts[id[e]] += count * Math.exp(alpha[start[e]] + score[id[e]] + beta[end[e]] - z);
    }
    objective += count * z;
    total += count;
  }
  return { counts, objective: total ? -objective / total : 0 };
}

/** ψ(x), the digamma function. */
export function digamma(x: number): number {
  let r = 0;
  for (; x < 7; x++) r -= 1 / x;
  x -= 0.5;
  const xx = 1 / x, xx2 = xx * xx, xx4 = xx2 * xx2;
  return r + Math.log(x) + (1 / 24) * xx2 - (7 / 960) * xx4 + (31 / 8064) * xx4 * xx2 -
    (127 / 30720) * xx4 * xx4;
}

/**
 * M step: drop rarely expected pieces (never required characters), re-estimate scores; returns
 * the number of living pieces.
 */
function maximization(pieces: Pieces, alive: Uint8Array, counts: Float64Array): number {
  let sum = 0, size = 0;
  for (let i = 0; i < alive.length; i++) {
    if (!alive[i]) continue;
    if (counts[i] < EXPECTED_FREQUENCY_THRESHOLD && !pieces.required[i]) alive[i] = 0;
    else {
      counts[i] = Math.max(counts[i], 1e-3);
      sum += counts[i];
      size++;
    }
  }
  const logSum = digamma(sum);
  for (let i = 0; i < alive.length; i++) {
    if (alive[i]) pieces.score[i] = digamma(counts[i]) - logSum;
  }
  return size;
}

let _best = new Float64Array(64), _back = new Int32Array(64), _prev = new Int32Array(64);
/** The pieces of the last path {@linkcode viterbiEdges} found, in order. */
let _path = new Int32Array(64);

/**
 * Viterbi over edges `from..to` (ordered by start) of an n-long string, with `score[id]`
 * (−∞ for removed pieces): the number of pieces on the best path, left in `_path`; -1 without a
 * path.
 */
function viterbiEdges(
  lat: { start: ArrayLike<number>; end: ArrayLike<number>; id: ArrayLike<number> },
  from: number,
  to: number,
  n: number,
  score: Float64Array,
): number {
  if (_best.length < n + 1) {
    _best = new Float64Array(2 * n + 2);
    _back = new Int32Array(2 * n + 2);
    _prev = new Int32Array(2 * n + 2);
    _path = new Int32Array(2 * n + 2);
  }
  const best = _best, back = _back, prev = _prev;
  best.fill(-Infinity, 0, n + 1);
  best[0] = 0;
  for (let e = from; e < to; e++) {
    const s = best[lat.start[e]] + score[lat.id[e]];
    if (s > best[lat.end[e]]) {
      best[lat.end[e]] = s;
      back[lat.end[e]] = lat.id[e];
      prev[lat.end[e]] = lat.start[e];
    }
  }
  if (best[n] === -Infinity) return -1;
  let count = 0;
  for (let e = n; e > 0; e = prev[e]) count++;
  for (let e = n, k = count; e > 0; e = prev[e]) _path[--k] = back[e];
  return count;
}

/** The best segmentation of piece `self` by the other living pieces, or null. */
function alternative(
  trie: PieceTrie,
  pieces: Pieces,
  score: Float64Array,
  self: number,
): number[] | null {
  const cps = _cps(pieces, self), n = cps.length;
  const start: number[] = [], end: number[] = [], id: number[] = [];
  for (let i = 0; i < n; i++) {
    trie.matches(cps, i, n, (p, e) => {
      if (p === self) return;
      start.push(i);
      end.push(e);
      id.push(p);
    });
  }
  const count = viterbiEdges({ start, end, id }, 0, id.length, n, score);
  return count < 0 ? null : Array.from(_path.subarray(0, count));
}

/**
 * Removes the pieces whose removal costs the corpus least likelihood; returns the number of
 * living pieces.
 */
function prune(
  pieces: Pieces,
  alive: Uint8Array,
  lat: Lattice,
  desired: number,
  shrinkingFactor: number,
): number {
  const trie = buildTrie(pieces, alive);
  const P = alive.length, words = lat.words;
  const score = pieces.score.map((s, i) => alive[i] ? s : -Infinity);
  const freq = new Float64Array(P);
  // How many pre-token occurrences hold each piece (sentencepiece's "inverted" index).
  const holders = new Float64Array(P);
  const lastWord = new Int32Array(P).fill(-1);
  let wordTotal = 0;
  for (let k = 0; k < words.count.length; k++) {
    const n = words.start[k + 1] - words.start[k], count = words.count[k];
    const m = viterbiEdges(lat, lat.offset[k], lat.offset[k + 1], n, score);
    wordTotal += count;
    for (let t = 0; t < m; t++) {
      const id = _path[t];
      freq[id] += count;
      if (lastWord[id] !== k) (holders[id] += count), (lastWord[id] = k);
    }
  }
  let sum = 0;
  for (const f of freq) sum += f;
  const logSum = Math.log(sum);
  const candidates = new Int32Array(P), loss = new Float64Array(P);
  const keep = new Uint8Array(P);
  let size = 0, n = 0;
  for (let i = 0; i < P; i++) {
    if (!alive[i]) continue;
    size++;
    const alt = pieces.start[i + 1] - pieces.start[i] === 1
      ? null
      : alternative(trie, pieces, score, i);
    if (!alt || pieces.required[i]) {
      keep[i] = 1; // a required character, or no other way to write the piece
      continue;
    }
    candidates[n++] = i;
    if (freq[i] === 0) continue; // loss 0
    const logProbPiece = Math.log(freq[i]) - logSum;
    const logSumAlt = Math.log(sum + freq[i] * (alt.length - 1));
    let logProbAlt = 0;
    for (const a of alt) logProbAlt += Math.log(freq[a] + freq[i]) - logSumAlt;
    loss[i] = (holders[i] / wordTotal) * (logProbPiece - logProbAlt);
  }
  const order = candidates.subarray(0, n)
    .sort((a, b) =>
      loss[b] - loss[a] ||
      _compareUtf16(
        pieces.cps,
        pieces.start[a],
        pieces.start[a + 1],
        pieces.cps,
        pieces.start[b],
        pieces.start[b + 1],
      )
    );
  let kept = keep.reduce((a, b) => a + b, 0);
  const newSize = Math.max(desired, Math.floor(size * shrinkingFactor));
  for (const i of order) {
    if (kept >= newSize) break;
    keep[i] = 1;
    kept++;
  }
  for (let i = 0; i < P; i++) if (!keep[i]) alive[i] = 0;
  return kept;
}

function finalize(
  pieces: Pieces,
  alive: Uint8Array,
  target: number,
  meta: string[],
  byteFallback: boolean,
): UnigramModel {
  const living: { text: string; score: number; required: boolean }[] = [];
  for (let i = 0; i < alive.length; i++) {
    if (alive[i]) {
      living.push({
        text: _text(pieces, i),
        score: pieces.score[i],
        required: !!pieces.required[i],
      });
    }
  }
  type Living = (typeof living)[number];
  const byScore = (a: Living, b: Living) => b.score - a.score || (a.text < b.text ? -1 : 1);
  const chosen = living.filter((p) => p.required);
  const others = living.filter((p) => !p.required).sort(byScore);
  chosen.push(...others.slice(0, Math.max(0, target - chosen.length)));
  chosen.sort(byScore);
  const out: Piece[] = meta.map((piece, i) => ({
    piece,
    score: 0,
    type: i === 0 ? PieceType.UNKNOWN : PieceType.CONTROL,
  }));
  if (byteFallback) {
    for (let b = 0; b < 256; b++) out.push({ piece: bytePiece(b), score: 0, type: PieceType.BYTE });
  }
  for (const p of chosen) out.push({ piece: p.text, score: p.score, type: PieceType.NORMAL });
  return new UnigramModel(out, { byteFallback });
}
