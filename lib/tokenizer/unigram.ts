/**
 * The Unigram language-model tokenizer (Kudo 2018, as in sentencepiece): a vocabulary of pieces
 * with log-probabilities; a text is segmented into the piece sequence of highest total
 * log-probability (Viterbi over the lattice of all pieces that match at each position).
 *
 * Pieces and text are handled as code points, so a surrogate pair is never split. A code point
 * that no piece covers becomes the unknown piece, scored `minScore - 10` as in sentencepiece, or,
 * with byte fallback, its UTF-8 bytes as `<0xXX>` pieces.
 *
 * @module
 */

/** sentencepiece's piece types (ModelProto.SentencePiece.Type). */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** One vocabulary entry. */
export interface Piece {
  piece: string;
  score: number;
  type: number;
}

/** The score penalty of the unknown piece below the lowest piece score (sentencepiece's). */
export const UNK_PENALTY = 10;

/** `<0xAB>` for byte 0xAB. */
export function bytePiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** A trie over code points: `node * 0x110000 + codePoint` → child node. */
export class PieceTrie {
  // Edges (node, code point) → child in one open-addressing hash table of typed arrays: compact
  // (12 bytes a slot) and free of the heap-number keys a Map of node * 0x110000 + cp would need.
  #node = new Int32Array(1024).fill(-1);
  #cp = new Int32Array(1024);
  #child = new Int32Array(1024);
  #edges = 0;
  #value: number[] = [-1];

  #slot(node: number, cp: number): number {
    const mask = this.#node.length - 1;
    let h = (Math.imul(node, 0x9e3779b1) ^ Math.imul(cp, 0x85ebca6b)) & mask;
    while (this.#node[h] !== -1 && (this.#node[h] !== node || this.#cp[h] !== cp)) {
      h = (h + 1) & mask;
    }
    return h;
  }

  #grow(): void {
    const [node, cp, child] = [this.#node, this.#cp, this.#child];
    this.#node = new Int32Array(node.length * 2).fill(-1);
    this.#cp = new Int32Array(node.length * 2);
    this.#child = new Int32Array(node.length * 2);
    for (let i = 0; i < node.length; i++) {
      if (node[i] === -1) continue;
      const h = this.#slot(node[i], cp[i]);
      this.#node[h] = node[i];
      this.#cp[h] = cp[i];
      this.#child[h] = child[i];
    }
  }

  /** Adds `codePoints` ending in value `id` (≥ 0). */
  insert(codePoints: ArrayLike<number>, id: number): void {
    let node = 0;
    for (let i = 0; i < codePoints.length; i++) node = this.childOrAdd(node, codePoints[i]);
    this.#value[node] = id;
  }

  /** The child of `node` along code point `cp`, added (without a value) if missing. */
  childOrAdd(node: number, cp: number): number {
    let h = this.#slot(node, cp);
    if (this.#node[h] !== -1) return this.#child[h];
    if (2 * (this.#edges + 1) > this.#node.length) {
      this.#grow();
      h = this.#slot(node, cp);
    }
    const child = this.#value.length;
    this.#value.push(-1);
    this.#node[h] = node;
    this.#cp[h] = cp;
    this.#child[h] = child;
    this.#edges++;
    return child;
  }

  /** Number of nodes, the root included (nodes are numbered 0 … size − 1 as they are added). */
  get size(): number {
    return this.#value.length;
  }

  /** The child of `node` along code point `cp`, or -1. */
  child(node: number, cp: number): number {
    const h = this.#slot(node, cp);
    return this.#node[h] === -1 ? -1 : this.#child[h];
  }

  /** Sets the value at `node` (≥ 0). */
  setValue(node: number, value: number): void {
    this.#value[node] = value;
  }

  /** The value at `node` (-1: no inserted sequence ends there). */
  valueAt(node: number): number {
    return this.#value[node];
  }

  /**
   * Calls `found(id, end)` for every inserted sequence that starts at `cps[start]`, shortest
   * first (`end` is exclusive); stops at `limit`.
   */
  matches(
    cps: ArrayLike<number>,
    start: number,
    limit: number,
    found: (id: number, end: number) => void,
  ): void {
    let node = 0;
    for (let i = start; i < limit; i++) {
      const child = this.child(node, cps[i]);
      if (child < 0) return;
      node = child;
      const id = this.#value[node];
      if (id >= 0) found(id, i + 1);
    }
  }
}

/** The code points of `s`. */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** A Unigram vocabulary ready to segment text. */
export class UnigramModel {
  readonly pieces: Piece[];
  readonly unkId: number;
  readonly byteFallback: boolean;
  readonly unkScore: number;
  #ids = new Map<string, number>();
  #trie = new PieceTrie();
  #byteIds: number[] = [];

  /** `pieces` in id order; exactly one must have type UNKNOWN. */
  constructor(pieces: Piece[], options: { byteFallback?: boolean } = {}) {
    this.pieces = pieces;
    let unk = -1, min = Infinity;
    pieces.forEach((p, id) => {
      if (p.type === PieceType.UNKNOWN) unk = id;
      if (!this.#ids.has(p.piece)) this.#ids.set(p.piece, id);
      if (p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED) {
        this.#trie.insert(codePoints(p.piece), id);
        if (p.type === PieceType.NORMAL && p.score < min) min = p.score;
      }
      if (p.type === PieceType.BYTE) {
        const m = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
        if (m) this.#byteIds[parseInt(m[1], 16)] = id;
      }
    });
    if (unk < 0) throw new Error("Unigram vocabulary has no unknown piece");
    this.unkId = unk;
    this.unkScore = (Number.isFinite(min) ? min : 0) - UNK_PENALTY;
    this.byteFallback = options.byteFallback ?? this.#byteIds.filter((x) => x >= 0).length === 256;
  }

  /** Number of pieces. */
  get size(): number {
    return this.pieces.length;
  }

  /** Id of `piece`, or undefined. */
  pieceToId(piece: string): number | undefined {
    return this.#ids.get(piece);
  }

  /**
   * The best segmentation of `text` as [id, start, end) triples in code points; unknown code
   * points are single unknown nodes (see {@linkcode encode} for byte fallback).
   */
  viterbi(cps: ArrayLike<number>, exclude = -1): { ids: number[]; starts: number[] } {
    const n = cps.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const backId = new Int32Array(n + 1);
    const backStart = new Int32Array(n + 1);
    best[0] = 0;
    const scores = this.pieces;
    for (let i = 0; i < n; i++) {
      const base = best[i];
      if (base === -Infinity) continue;
      let single = false;
      this.#trie.matches(cps, i, n, (id, end) => {
        if (id === exclude) return;
        if (end === i + 1) single = true;
        const s = base + scores[id].score;
        if (s > best[end]) {
          best[end] = s;
          backId[end] = id;
          backStart[end] = i;
        }
      });
      if (!single) {
        const s = base + this.unkScore;
        if (s > best[i + 1]) {
          best[i + 1] = s;
          backId[i + 1] = this.unkId;
          backStart[i + 1] = i;
        }
      }
    }
    const ids: number[] = [], starts: number[] = [];
    for (let end = n; end > 0; end = backStart[end]) {
      ids.push(backId[end]);
      starts.push(backStart[end]);
    }
    return { ids: ids.reverse(), starts: starts.reverse() };
  }

  /** Ids of `text` (already normalized and pre-tokenized), with byte fallback for unknowns. */
  encode(text: string): number[] {
    const cps = codePoints(text);
    const { ids, starts } = this.viterbi(cps);
    if (!this.byteFallback) return ids;
    const out: number[] = [];
    for (let k = 0; k < ids.length; k++) {
      if (ids[k] !== this.unkId) out.push(ids[k]);
      else {
        const bytes = new TextEncoder().encode(String.fromCodePoint(cps[starts[k]]));
        for (const b of bytes) out.push(this.#byteIds[b]);
      }
    }
    return out;
  }

  /** The pieces of `text`. */
  encodePieces(text: string): string[] {
    return this.encode(text).map((id) => this.pieces[id].piece);
  }

  /** Text of `ids`: pieces concatenated, byte pieces decoded as UTF-8, control pieces dropped. */
  decode(ids: number[]): string {
    let out = "";
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      const p = this.pieces[id];
      if (p.type === PieceType.BYTE) {
        bytes.push(parseInt(p.piece.slice(3, 5), 16));
        continue;
      }
      flush();
      if (p.type !== PieceType.CONTROL) out += p.type === PieceType.UNKNOWN ? "\u2047" : p.piece;
    }
    flush();
    return out;
  }
}
