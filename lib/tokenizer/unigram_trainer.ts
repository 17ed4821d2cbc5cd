/**
 * A Unigram vocabulary trainer in the manner of sentencepiece's (`unigram_model_trainer.cc`),
 * over a dictionary of pre-tokens with counts:
 *
 * 1. Required characters: the most frequent code points covering `characterCoverage` of all
 *    character occurrences (plus `requiredChars`); the rest are unknown.
 * 2. Seed pieces: every substring of a pre-token (up to `maxPieceLength` code points, valid by
 *    `isValidPiece`, only required characters) occurring at least twice, scored frequency ×
 *    length, the top `seedSize` kept (sentencepiece finds the same set with a suffix array; counting
 *    the substrings of the distinct pre-tokens is equivalent because a piece never crosses a
 *    pre-token), plus every required character; initial log-probabilities ∝ log(score).
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
 * Deterministic: no randomness; ties are broken by piece string order.
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

interface Word {
  text: string;
  cps: number[];
  count: number;
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
  const words: Word[] = [];
  for (const [text, count] of [...preTokens].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
    if (count > 0 && text.length) words.push({ text, cps: codePoints(text), count });
  }
  const required = requiredCharacters(words, o.characterCoverage, o.requiredChars);
  const special = o.metaPieces.length + (o.byteFallback ? 256 : 0);
  const target = o.vocabSize - special;
  if (target < required.size) {
    throw new Error(
      `vocabSize ${o.vocabSize} leaves ${target} pieces, fewer than the ${required.size} required characters`,
    );
  }
  const { pieces, lattice } = seedPieces(words, required, o);
  const alive = new Uint8Array(pieces.length).fill(1);
  let size = pieces.length;
  const desired = Math.floor(target * 1.1);
  for (let round = 0;; round++) {
    let objective = 0;
    for (let it = 0; it < o.emSubIterations; it++) {
      const e = expectation(pieces, alive, lattice);
      objective = e.objective;
      size = maximization(pieces, alive, e.counts);
    }
    o.onRound({ round, pieces: size, objective });
    if (size <= desired) break;
    size = prune(pieces, alive, lattice, desired, o.shrinkingFactor);
  }
  return finalize(pieces.filter((_, i) => alive[i]), target, o.metaPieces, o.byteFallback);
}

/** A training piece: code points, string, log-probability, and whether it is a required character. */
interface TrainPiece {
  cps: number[];
  text: string;
  score: number;
  required: boolean;
}

function requiredCharacters(words: Word[], coverage: number, extra: string): Map<number, number> {
  const freq = new Map<number, number>();
  let total = 0;
  for (const w of words) {
    for (const c of w.cps) freq.set(c, (freq.get(c) ?? 0) + w.count);
    total += w.cps.length * w.count;
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

/**
 * Counts every substring of every pre-token (weighted by the pre-token's count) in a trie of
 * substrings — node = distinct substring, so no string is built or hashed — and records where
 * each occurs, so the seeds' lattice needs no second pass: edges of word w are
 * `offset[w] .. offset[w+1]`, ordered by start, then end.
 */
function countSubstrings(words: Word[], required: Map<number, number>, maxLength: number) {
  const dense = new Map<number, number>();
  for (const c of required.keys()) dense.set(c, dense.size + 1);
  const A = dense.size + 1;
  const child = new Map<number, number>(); // node * A + dense char → node
  let counts = new Float64Array(1 << 16);
  let where = new Int32Array(3 << 16); // per node: word, start, length of its first occurrence
  let nodes = 1;
  const start: number[] = [], end: number[] = [], sub: number[] = [];
  const offset = new Int32Array(words.length + 1);
  words.forEach((w, k) => {
    const d = w.cps.map((c) => dense.get(c) ?? 0);
    const n = d.length;
    for (let i = 0; i < n; i++) {
      let node = 0;
      for (let j = i; j < n && j - i < maxLength; j++) {
        if (d[j] === 0) break;
        const key = node * A + d[j];
        let next = child.get(key);
        if (next === undefined) {
          next = nodes++;
          child.set(key, next);
          if (next >= counts.length) {
            const c2 = new Float64Array(counts.length * 2), w2 = new Int32Array(where.length * 2);
            c2.set(counts);
            w2.set(where);
            counts = c2;
            where = w2;
          }
          where[3 * next] = k;
          where[3 * next + 1] = i;
          where[3 * next + 2] = j + 1 - i;
        }
        node = next;
        counts[node] += w.count;
        start.push(i);
        end.push(j + 1);
        sub.push(node);
      }
    }
    offset[k + 1] = sub.length;
  });
  const text = (node: number) => {
    const w = words[where[3 * node]], i = where[3 * node + 1];
    return String.fromCodePoint(...w.cps.slice(i, i + where[3 * node + 2]));
  };
  return { nodes, counts, where, text, start, end, sub, offset };
}

function seedPieces(
  words: Word[],
  required: Map<number, number>,
  o: Required<UnigramTrainerOptions>,
): { pieces: TrainPiece[]; lattice: Lattice } {
  const c = countSubstrings(words, required, o.maxPieceLength);
  const scored: [string, number, number][] = []; // text, score, substring id
  const singles: [string, number, number][] = [];
  for (let id = 1; id < c.nodes; id++) {
    const f = c.counts[id], len = c.where[3 * id + 2];
    if (len === 1) {
      const s = c.text(id);
      singles.push([s, required.get(s.codePointAt(0)!)!, id]);
    } else if (f >= 2) {
      const s = c.text(id);
      if (o.isValidPiece(codePoints(s))) scored.push([s, f * len, id]);
    }
  }
  scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  scored.length = Math.min(scored.length, Math.max(0, o.seedSize - required.size));
  const firstChar = scored.length;
  // Required characters seen nowhere (given by `requiredChars`) still get a piece.
  const seen = new Set(singles.map(([s]) => s));
  for (const [cp, f] of required) {
    const s = String.fromCodePoint(cp);
    if (!seen.has(s)) singles.push([s, f, -1]);
  }
  singles.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  scored.push(...singles);
  let sum = 0;
  for (const [, v] of scored) sum += v;
  const logSum = Math.log(sum);
  const pieceOf = new Int32Array(c.nodes).fill(-1);
  const pieces = scored.map(([text, v, id], i) => {
    if (id >= 0) pieceOf[id] = i;
    return { cps: codePoints(text), text, score: Math.log(v) - logSum, required: i >= firstChar };
  });
  const start: number[] = [], end: number[] = [], piece: number[] = [];
  const offset = new Int32Array(words.length + 1);
  for (let k = 0; k < words.length; k++) {
    for (let e = c.offset[k]; e < c.offset[k + 1]; e++) {
      const p = pieceOf[c.sub[e]];
      if (p < 0) continue;
      start.push(c.start[e]);
      end.push(c.end[e]);
      piece.push(p);
    }
    offset[k + 1] = piece.length;
  }
  const lattice = {
    words,
    offset,
    start: Int32Array.from(start),
    end: Int32Array.from(end),
    id: Int32Array.from(piece),
  };
  return { pieces, lattice };
}

/** Every occurrence of a seed piece in every pre-token (see {@linkcode countSubstrings}). */
interface Lattice {
  words: Word[];
  offset: Int32Array;
  start: Int32Array;
  end: Int32Array;
  id: Int32Array;
}

function buildTrie(pieces: TrainPiece[], alive?: Uint8Array): PieceTrie {
  const trie = new PieceTrie();
  pieces.forEach((p, id) => (!alive || alive[id]) && trie.insert(p.cps, id));
  return trie;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** E step: expected piece counts under the current model, and the mean negative log-likelihood. */
function expectation(
  pieces: TrainPiece[],
  alive: Uint8Array,
  lat: Lattice,
): { counts: Float64Array; objective: number } {
  const counts = new Float64Array(pieces.length);
  const score = Float64Array.from(pieces, (p) => p.score);
  let objective = 0, total = 0;
  let alpha = new Float64Array(64), beta = new Float64Array(64);
  const { start, end, id } = lat;
  lat.words.forEach((w, k) => {
    const n = w.cps.length, from = lat.offset[k], to = lat.offset[k + 1];
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
    if (z === -Infinity) return; // holds an unknown character: no complete path
    beta[n] = 0;
    for (let e = to - 1; e >= from; e--) {
      if (alive[id[e]]) beta[start[e]] = logAdd(beta[start[e]], beta[end[e]] + score[id[e]]);
    }
    for (let e = from; e < to; e++) {
      if (!alive[id[e]]) continue;
      counts[id[e]] += w.count * Math.exp(alpha[start[e]] + score[id[e]] + beta[end[e]] - z);
    }
    objective += w.count * z;
    total += w.count;
  });
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
function maximization(pieces: TrainPiece[], alive: Uint8Array, counts: Float64Array): number {
  let sum = 0, size = 0;
  pieces.forEach((p, i) => {
    if (!alive[i]) return;
    if (counts[i] < EXPECTED_FREQUENCY_THRESHOLD && !p.required) alive[i] = 0;
    else {
      counts[i] = Math.max(counts[i], 1e-3);
      sum += counts[i];
      size++;
    }
  });
  const logSum = digamma(sum);
  pieces.forEach((p, i) => {
    if (alive[i]) p.score = digamma(counts[i]) - logSum;
  });
  return size;
}

let _best = new Float64Array(64), _back = new Int32Array(64), _prev = new Int32Array(64);

/**
 * Viterbi over edges `from..to` (ordered by start) of an n-long string, with `score[id]`
 * (−∞ for removed pieces); null without a path.
 */
function viterbiEdges(
  lat: { start: ArrayLike<number>; end: ArrayLike<number>; id: ArrayLike<number> },
  from: number,
  to: number,
  n: number,
  score: Float64Array,
): number[] | null {
  if (_best.length < n + 1) {
    _best = new Float64Array(2 * n + 2);
    _back = new Int32Array(2 * n + 2);
    _prev = new Int32Array(2 * n + 2);
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
  if (best[n] === -Infinity) return null;
  const ids: number[] = [];
  for (let e = n; e > 0; e = prev[e]) ids.push(back[e]);
  return ids.reverse();
}

/** The best segmentation of piece `self` by the other living pieces, or null. */
function alternative(
  trie: PieceTrie,
  pieces: TrainPiece[],
  score: Float64Array,
  self: number,
): number[] | null {
  const cps = pieces[self].cps, n = cps.length;
  const start: number[] = [], end: number[] = [], id: number[] = [];
  for (let i = 0; i < n; i++) {
    trie.matches(cps, i, n, (p, e) => {
      if (p === self) return;
      start.push(i);
      end.push(e);
      id.push(p);
    });
  }
  return viterbiEdges({ start, end, id }, 0, id.length, n, score);
}

/**
 * Removes the pieces whose removal costs the corpus least likelihood; returns the number of
 * living pieces.
 */
function prune(
  pieces: TrainPiece[],
  alive: Uint8Array,
  lat: Lattice,
  desired: number,
  shrinkingFactor: number,
): number {
  const trie = buildTrie(pieces, alive);
  const score = Float64Array.from(pieces, (p, i) => alive[i] ? p.score : -Infinity);
  const freq = new Float64Array(pieces.length);
  // How many pre-token occurrences hold each piece (sentencepiece's "inverted" index).
  const holders = new Float64Array(pieces.length);
  let wordTotal = 0;
  lat.words.forEach((w, k) => {
    const ids = viterbiEdges(lat, lat.offset[k], lat.offset[k + 1], w.cps.length, score);
    wordTotal += w.count;
    if (!ids) return;
    for (const id of ids) freq[id] += w.count;
    for (const id of new Set(ids)) holders[id] += w.count;
  });
  let sum = 0;
  for (const f of freq) sum += f;
  const logSum = Math.log(sum);
  const losses: [number, number][] = [];
  const keep = new Uint8Array(pieces.length);
  let size = 0;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (!alive[i]) continue;
    size++;
    const alt = p.cps.length === 1 ? null : alternative(trie, pieces, score, i);
    if (!alt || p.required) {
      keep[i] = 1; // a required character, or no other way to write the piece
      continue;
    }
    if (freq[i] === 0) {
      losses.push([i, 0]);
      continue;
    }
    const logProbPiece = Math.log(freq[i]) - logSum;
    const logSumAlt = Math.log(sum + freq[i] * (alt.length - 1));
    let logProbAlt = 0;
    for (const a of alt) logProbAlt += Math.log(freq[a] + freq[i]) - logSumAlt;
    losses.push([i, (holders[i] / wordTotal) * (logProbPiece - logProbAlt)]);
  }
  losses.sort((a, b) => b[1] - a[1] || (pieces[a[0]].text < pieces[b[0]].text ? -1 : 1));
  let kept = keep.reduce((a, b) => a + b, 0);
  const newSize = Math.max(desired, Math.floor(size * shrinkingFactor));
  for (const [i] of losses) {
    if (kept >= newSize) break;
    keep[i] = 1;
    kept++;
  }
  for (let i = 0; i < pieces.length; i++) if (!keep[i]) alive[i] = 0;
  return kept;
}

function finalize(
  pieces: TrainPiece[],
  target: number,
  meta: string[],
  byteFallback: boolean,
): UnigramModel {
  const isRequired = (p: TrainPiece) => p.required;
  const byScore = (a: TrainPiece, b: TrainPiece) => b.score - a.score || (a.text < b.text ? -1 : 1);
  const chosen = pieces.filter(isRequired);
  const others = pieces.filter((p) => !isRequired(p)).sort(byScore);
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
