/**
 * Reading sentencepiece models (`.model`, the ModelProto protobuf; `.vocab`, the TSV spm_train
 * writes beside it) and encoding text exactly as `spm_encode` does with a Unigram model:
 *
 * 1. Normalisation by the model's own `precompiled_charsmap` (a Darts double-array trie over UTF-8
 *    bytes whose values point at NUL-terminated replacements; longest rule wins), user-defined
 *    pieces left untouched, then sentencepiece's whitespace rules: drop leading, trailing and
 *    repeated spaces, prepend one (add_dummy_prefix), write spaces as ▁. A model without a charsmap
 *    gets an approximation by its normalizer name (`nmt_nfkc`: NFKC plus the nmt whitespace and
 *    control-character rules; `identity`: nothing).
 * 2. Unigram Viterbi over the whole normalised sentence, with sentencepiece's float32 arithmetic.
 * 3. Unknown characters: runs merged into one `<unk>` whose piece text is the characters
 *    themselves, or, with `trainer_spec.byte_fallback`, each character's UTF-8 bytes as `<0xXX>`.
 *
 * Field numbers are those of sentencepiece's `src/sentencepiece_model.proto`; the algorithms follow
 * sentencepiece 0.1.97 (`normalizer.cc`, `unigram_model.cc` EncodeOptimized,
 * `sentencepiece_processor.cc`).
 *
 * @example
 * ```ts ignore
 * const sp = SentencePieceProcessor.fromModel(Deno.readFileSync("ko.model"), "ko.model");
 * sp.encodePieces("안녕하세요 world"); // e.g. ["▁안녕", "하세요", "▁world"]
 * sp.decode(sp.encodeIds("안녕하세요 world")); // "안녕하세요 world"
 * ```
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import {
  bytePiece,
  codePoints,
  type Piece,
  PieceTrie,
  PieceType,
  UnigramModel,
} from "./unigram.ts";

/** The TrainerSpec fields that matter for encoding (field numbers in `_TRAINER`). */
export interface TrainerSpec {
  /** 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR. */
  modelType: number;
  vocabSize: number;
  characterCoverage: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  /** What decoding writes for `<unk>`. */
  unkSurface: string;
}

/** NormalizerSpec (field numbers in `_NORMALIZER`). */
export interface NormalizerSpec {
  /** e.g. `nmt_nfkc`, `identity`. */
  name: string;
  /** Empty when the model has none. */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/** A decoded `.model` file. */
export interface SentencePieceModelFile {
  pieces: Piece[];
  trainer: TrainerSpec;
  normalizer: NormalizerSpec;
}

const _SPACE = "\u2581";
const _encoder = new TextEncoder();

type _Kind = "int" | "bool" | "float" | "string" | "bytes";
type _Table<T> = Record<number, [keyof T, _Kind]>;
// Field number → [property, kind], from sentencepiece_model.proto; other fields are skipped.
const _PIECE: _Table<Piece> = {
  1: ["piece", "string"],
  2: ["score", "float"],
  3: ["type", "int"],
};
const _TRAINER: _Table<TrainerSpec> = {
  3: ["modelType", "int"],
  4: ["vocabSize", "int"],
  10: ["characterCoverage", "float"],
  24: ["treatWhitespaceAsSuffix", "bool"],
  35: ["byteFallback", "bool"],
  44: ["unkSurface", "string"],
};
const _NORMALIZER: _Table<NormalizerSpec> = {
  1: ["name", "string"],
  2: ["precompiledCharsmap", "bytes"],
  3: ["addDummyPrefix", "bool"],
  4: ["removeExtraWhitespaces", "bool"],
  5: ["escapeWhitespaces", "bool"],
};
const _WIRE: Record<_Kind, number> = { int: 0, bool: 0, float: 5, string: 2, bytes: 2 };

/** Decodes a sentencepiece ModelProto (`.model` file); `source` names it in errors. */
export function parseSentencePieceModel(bytes: Uint8Array, source: string): SentencePieceModelFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const fail = (at: number, what: string): never => {
    throw new UserError(`${source}: ${what} at byte ${at} (not a sentencepiece model?)`);
  };
  // The fields of the message in bytes[start, end): wire type, varint value or payload [at, end).
  function* fields(start: number, end: number) {
    let pos = start;
    const varint = (): number => {
      let value = 0;
      for (let scale = 1; scale < 2 ** 70; scale *= 128) {
        if (pos >= end) fail(pos, end === bytes.length ? "truncated" : "field overruns message");
        const byte = bytes[pos++];
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) return value;
      }
      return fail(pos, "varint longer than 10 bytes");
    };
    while (pos < end) {
      const keyAt = pos, key = varint();
      const no = Math.floor(key / 8), wire = key % 8;
      if (no === 0 || wire === 3 || wire === 4 || wire > 5) fail(keyAt, `bad field key ${key}`);
      const int = wire === 0 || wire === 2 ? varint() : wire === 1 ? 8 : wire === 5 ? 4 : 0;
      const at = pos;
      if (wire !== 0) pos += int;
      if (pos > end) fail(end, end === bytes.length ? "truncated" : "field overruns message");
      yield { no, wire, int, at, end: at + int };
    }
  }
  const read = <T>(start: number, end: number, into: T, table: _Table<T>) => {
    for (const f of fields(start, end)) {
      if (!table[f.no]) continue;
      const [key, kind] = table[f.no];
      if (f.wire !== _WIRE[kind]) fail(f.at, `${String(key)} has wire type ${f.wire}`);
      let value: unknown = kind === "bool" ? f.int !== 0 : f.int;
      if (kind === "float") value = view.getFloat32(f.at, true);
      else if (kind === "bytes") value = bytes.slice(f.at, f.end);
      else if (kind === "string") {
        try {
          value = utf8.decode(bytes.subarray(f.at, f.end));
        } catch {
          fail(f.at, `${String(key)} is not UTF-8`);
        }
      }
      into[key] = value as T[keyof T];
    }
    return into;
  };
  const pieces: Piece[] = [];
  const trainer: TrainerSpec = {
    modelType: 1,
    vocabSize: 8000,
    characterCoverage: 0.9995,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    unkSurface: " \u2047 ",
  };
  const normalizer: NormalizerSpec = {
    name: "",
    precompiledCharsmap: new Uint8Array(),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  for (const f of fields(0, bytes.length)) {
    if (f.no <= 3 && f.wire !== 2) fail(f.at, `field ${f.no} has wire type ${f.wire}`);
    if (f.no === 1) {
      const p = read(f.at, f.end, { piece: "", score: 0, type: PieceType.NORMAL }, _PIECE);
      if (!p.piece || p.type < 1 || p.type > 6) fail(f.at, `bad piece ${pieces.length}`);
      pieces.push(p);
    } else if (f.no === 2) read(f.at, f.end, trainer, _TRAINER);
    else if (f.no === 3) read(f.at, f.end, normalizer, _NORMALIZER);
  }
  if (!pieces.length) fail(bytes.length, "no pieces");
  return { pieces, trainer, normalizer };
}

/** Parses the `.vocab` spm_train writes (`piece<TAB>score` per line), inferring piece types. */
export function parseSentencePieceVocab(text: string, source: string): Piece[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, i) => {
    const tab = line.lastIndexOf("\t"), score = Number(line.slice(tab + 1));
    if (tab <= 0 || !line.slice(tab + 1).trim() || !Number.isFinite(score)) {
      const got = JSON.stringify(line.slice(0, 60));
      throw new UserError(`${source}:${i + 1}: expected "piece<TAB>score", got ${got}`);
    }
    const piece = line.slice(0, tab);
    let type: number = PieceType.NORMAL;
    if (piece === "<unk>") type = PieceType.UNKNOWN;
    else if (piece === "<s>" || piece === "</s>") type = PieceType.CONTROL;
    else if (/^<0x[0-9A-F]{2}>$/.test(piece)) type = PieceType.BYTE;
    return { piece, score, type };
  });
}

/** Length of the valid UTF-8 character at `b[i]`, or 0 (sentencepiece's DecodeUTF8 rules). */
function _utf8Len(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
  if (!n || i + n > b.length) return 0;
  let cp = c & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    if ((b[i + k] & 0xc0) !== 0x80) return 0;
    cp = cp * 64 + (b[i + k] & 0x3f);
  }
  const min = n === 3 ? 0x800 : n === 4 ? 0x10000 : 0x80;
  return cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp >= 0xe000) ? n : 0;
}

/** The nmt_nfkc extras (builder.cc): code points mapped to a space, control characters removed. */
const _NMT_SPACE = /[\t\n\f\r\u1680\u200b\u200c\u200e\u200f\u2028\u2029\u2581\ufeff\ufffd]/g;
// deno-lint-ignore no-control-regex
const _NMT_REMOVE = /[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]/g;

/** Encodes and decodes text as `spm_encode` / `spm_decode` do with a Unigram `.model`. */
export class SentencePieceProcessor {
  readonly file: SentencePieceModelFile;
  readonly model: UnigramModel;
  #charsTrie: Uint32Array | null = null; // Darts double-array units of the charsmap
  #rules: Uint8Array = new Uint8Array(); // NUL-terminated replacements the trie points into
  #ruleCps = new Map<number, Int32Array>(); // replacement code points, by rule offset
  #userDefined: Uint8Array[];
  #byteIds: number[] = [];
  #trie = new PieceTrie(); // NORMAL and USER_DEFINED pieces
  #scores: Float64Array; // per id: the score spm's Viterbi gives the piece
  #unkScore: number;

  /** Reads a `.model` file's bytes; `source` names it in errors. */
  static fromModel(bytes: Uint8Array, source: string): SentencePieceProcessor {
    return new SentencePieceProcessor(parseSentencePieceModel(bytes, source), source);
  }

  constructor(file: SentencePieceModelFile, source = "sentencepiece model") {
    this.file = file;
    const { modelType, treatWhitespaceAsSuffix, byteFallback } = file.trainer;
    if (modelType !== 1 || treatWhitespaceAsSuffix) {
      throw new UserError(
        `${source}: only unigram models (model_type 1, not ${modelType}) without treat_whitespace_as_suffix are supported`,
      );
    }
    if (file.pieces.filter((p) => p.type === PieceType.UNKNOWN).length !== 1) {
      throw new UserError(`${source}: needs exactly one piece of type UNKNOWN`);
    }
    this.model = new UnigramModel(file.pieces, { byteFallback });
    const enc = new TextEncoder();
    this.#userDefined = file.pieces.filter((p) => p.type === PieceType.USER_DEFINED)
      .map((p) => enc.encode(p.piece));
    for (let b = 0; b < 256; b++) this.#byteIds[b] = this.model.pieceToId(bytePiece(b)) ?? -1;
    // unigram_model.cc: the unknown scores `min - 10` in float32; a user-defined piece scores
    // `bytes * max - 0.1` (max of the NORMAL scores, starting at FLT_MIN) so it is always chosen.
    const normal = file.pieces.filter((p) => p.type === PieceType.NORMAL).map((p) => p.score);
    const max = Math.fround(normal.reduce((a, b) => Math.max(a, b), 1.1754943508222875e-38));
    this.#unkScore = Math.fround(this.model.unkScore);
    this.#scores = new Float64Array(file.pieces.map((p, id) => {
      if (p.type !== PieceType.NORMAL && p.type !== PieceType.USER_DEFINED) return 0;
      this.#trie.insert(codePoints(p.piece), id);
      if (p.type === PieceType.NORMAL) return p.score;
      return Math.fround(enc.encode(p.piece).length * max) - 0.1;
    }));
    const blob = file.normalizer.precompiledCharsmap;
    if (blob.length) {
      const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
      const size = blob.length > 4 ? view.getUint32(0, true) : 0;
      if (size < 4 || size % 4 || size + 4 >= blob.length) {
        throw new UserError(`${source}: normalizer_spec.precompiled_charsmap is broken`);
      }
      this.#charsTrie = new Uint32Array(size / 4).map((_, i) => view.getUint32(4 + 4 * i, true));
      this.#rules = blob.subarray(4 + size);
    }
  }

  #buf = new Uint8Array(1024); // UTF-8 of the text being normalised
  #cps = new Int32Array(1024); // its normalised code points
  #best = new Float32Array(1024); // Viterbi: best score ending at each position
  #backId = new Int32Array(1024); // … the piece ending there
  #backStart = new Int32Array(1024); // … and where it starts (-1: not reached yet)
  #path = new Int32Array(1024); // the best path's positions, last first

  /**
   * The longest charsmap rule at `b[start]` (Darts commonPrefixSearch): its length in bytes (0:
   * none); `#rulePoints` then holds its replacement's code points.
   */
  #rule(b: Uint8Array, start: number): number {
    const trie = this.#charsTrie!;
    const offset = (unit: number) => (unit >>> 10) * (unit & 0x200 ? 256 : 1);
    let pos = offset(trie[0]), length = 0, value = 0;
    for (let i = start; i < b.length; i++) {
      pos ^= b[i];
      const unit = trie[pos];
      if (unit === undefined || (unit & 0x800000ff) !== b[i]) break; // label mismatch
      pos ^= offset(unit);
      if (unit & 0x100) (length = i + 1 - start), (value = trie[pos] & 0x7fffffff); // has leaf
    }
    if (!length) return 0;
    let cps = this.#ruleCps.get(value);
    if (cps === undefined) {
      const end = this.#rules.indexOf(0, value);
      const text = new TextDecoder().decode(this.#rules.subarray(value, end < 0 ? undefined : end));
      cps = Int32Array.from(codePoints(text));
      this.#ruleCps.set(value, cps);
    }
    this.#rulePoints = cps;
    return length;
  }
  #rulePoints: Int32Array = new Int32Array();

  /**
   * Normalises `text` into `#cps` and returns its length in code points. With a charsmap the
   * text's UTF-8 is cut into units as sentencepiece's Normalizer::NormalizePrefix does (a
   * user-defined piece, else the longest rule, else one character); without one, each character
   * of the approximation by normalizer name is a unit. Then the whitespace rules: leading spaces
   * of a unit that follows a space dropped (so leading and repeated spaces go), spaces escaped,
   * a dummy prefix before the first unit, trailing spaces removed.
   */
  #normalize(text: string): number {
    const { removeExtraWhitespaces: trim, escapeWhitespaces: escape, addDummyPrefix } =
      this.file.normalizer;
    const space = escape ? 0x2581 : 0x20;
    let cps = this.#cps, out = 0, prevSpace = trim;
    // Appends the unit u[from, to).
    const unit = (u: ArrayLike<number>, from: number, to: number) => {
      if (prevSpace) { while (from < to && u[from] === 0x20) from++; }
      if (from === to) return;
      if (out + to - from + 1 > cps.length) {
        const grown = new Int32Array(2 * (out + to - from + 1));
        grown.set(cps.subarray(0, out));
        cps = this.#cps = grown;
      }
      for (let k = from; k < to; k++) cps[out++] = u[k] === 0x20 ? space : u[k];
      prevSpace = trim && u[to - 1] === 0x20;
    };
    if (!text) return 0;
    if (addDummyPrefix) cps[out++] = space;
    if (!this.#charsTrie) {
      const name = this.file.normalizer.name;
      const nmt = name.startsWith("nmt_");
      if (nmt) text = text.replace(_NMT_SPACE, " ").replace(_NMT_REMOVE, "");
      if (name.includes("nfkc")) {
        // nmt keeps ～ (FULLWIDTH TILDE); case folding (`_cf`) is approximated by lower case.
        const nfkc = (s: string) => s.normalize("NFKC");
        text = nmt ? text.split("\uff5e").map(nfkc).join("\uff5e") : nfkc(text);
        if (name.endsWith("_cf")) text = text.toLowerCase();
      }
      const all = codePoints(text);
      for (let k = 0; k < all.length; k++) unit(all, k, k + 1);
    } else {
      if (this.#buf.length < 3 * text.length) this.#buf = new Uint8Array(3 * text.length + 64);
      const b = this.#buf.subarray(0, _encoder.encodeInto(text, this.#buf).written);
      const users = this.#userDefined, one = [0];
      for (let i = 0; i < b.length;) {
        let user = 0;
        for (const u of users) {
          if (u.length > user && u.every((x, k) => b[i + k] === x)) user = u.length;
        }
        if (user) {
          const u = codePoints(new TextDecoder().decode(b.subarray(i, i + user)));
          unit(u, 0, u.length);
          i += user;
          continue;
        }
        const length = this.#rule(b, i);
        if (length) {
          unit(this.#rulePoints, 0, this.#rulePoints.length);
          i += length;
          continue;
        }
        // One character (`b` came from a JS string, so its UTF-8 is valid).
        const c = b[i];
        if (c < 0x80) (one[0] = c), (i += 1);
        else if (c < 0xe0) (one[0] = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f)), (i += 2);
        else if (c < 0xf0) {
          one[0] = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
          i += 3;
        } else {
          one[0] = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) |
            (b[i + 3] & 0x3f);
          i += 4;
        }
        unit(one, 0, 1);
      }
    }
    while (trim && out > 0 && cps[out - 1] === space) out--;
    return out;
  }

  /** `text` normalised as sentencepiece does before segmenting (spaces as ▁ by default). */
  normalize(text: string): string {
    const n = this.#normalize(text);
    let out = "";
    for (let k = 0; k < n; k += 4096) {
      out += String.fromCodePoint(...this.#cps.subarray(k, Math.min(n, k + 4096)));
    }
    return out;
  }

  /**
   * sentencepiece's Model::EncodeOptimized over `#cps[0, n)`: like
   * {@linkcode UnigramModel.viterbi}, but each position's best score is kept as a float32 while
   * candidates are summed in float64, which decides ties such as "B" + "BB" against "BB" + "B" as
   * spm does. Leaves the best path's end positions, last first, in `#path` and returns their
   * number; the piece ending at position e is `#backId[e]`, starting at `#backStart[e]`.
   */
  #viterbi(n: number): number {
    if (this.#best.length < n + 1) {
      this.#best = new Float32Array(2 * n + 2);
      this.#backId = new Int32Array(2 * n + 2);
      this.#backStart = new Int32Array(2 * n + 2);
      this.#path = new Int32Array(2 * n + 2);
    }
    const cps = this.#cps, best = this.#best, backId = this.#backId, backStart = this.#backStart;
    const trie = this.#trie, scores = this.#scores, unkScore = this.#unkScore;
    const unkId = this.model.unkId;
    backStart.fill(-1, 0, n + 1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      const base = best[i];
      let single = false;
      for (let node = 0, j = i; j < n; j++) {
        node = trie.child(node, cps[j]);
        if (node < 0) break;
        const id = trie.valueAt(node);
        if (id < 0) continue;
        const score = scores[id] + base, end = j + 1;
        if (backStart[end] < 0 || score > best[end]) {
          best[end] = score;
          backId[end] = id;
          backStart[end] = i;
        }
        if (j === i) single = true;
      }
      if (!single) {
        const score = Math.fround(unkScore + base);
        if (backStart[i + 1] < 0 || score > best[i + 1]) {
          best[i + 1] = score;
          backId[i + 1] = unkId;
          backStart[i + 1] = i;
        }
      }
    }
    let count = 0;
    for (let end = n; end > 0; end = backStart[end]) this.#path[count++] = end;
    return count;
  }

  /** UTF-8 bytes of `#cps[from, to)`. */
  #bytesOf(from: number, to: number): Uint8Array {
    return _encoder.encode(String.fromCodePoint(...this.#cps.subarray(from, to)));
  }

  /** `text` (one sentence, one line of spm_encode's input) as pieces with their ids. */
  encode(text: string): { piece: string; id: number }[] {
    const count = this.#viterbi(this.#normalize(text));
    const out: { piece: string; id: number }[] = [];
    let prev = -1;
    for (let k = count - 1; k >= 0; k--) {
      const end = this.#path[k], start = this.#backStart[end], id = this.#backId[end];
      const surface = String.fromCodePoint(...this.#cps.subarray(start, end));
      if (id !== this.model.unkId) out.push({ piece: surface, id });
      else if (this.file.trainer.byteFallback) {
        for (const b of this.#bytesOf(start, end)) {
          out.push({ piece: bytePiece(b), id: this.#byteIds[b] });
        }
      } else if (prev === id) out[out.length - 1].piece += surface;
      else out.push({ piece: surface, id });
      prev = id;
    }
    return out;
  }

  /** The pieces of `text` (`spm_encode --output_format=piece`; unknown runs as their text). */
  encodePieces(text: string): string[] {
    return this.encode(text).map((p) => p.piece);
  }

  /** The ids of `text` (`spm_encode --output_format=id`), as {@linkcode encode} without pieces. */
  encodeIds(text: string): number[] {
    const count = this.#viterbi(this.#normalize(text));
    const unk = this.model.unkId, path = this.#path, backId = this.#backId, out: number[] = [];
    let prev = -1;
    for (let k = count - 1; k >= 0; k--) {
      const id = backId[path[k]];
      if (id !== unk) out.push(id);
      else if (this.file.trainer.byteFallback) {
        const end = path[k];
        for (const b of this.#bytesOf(this.#backStart[end], end)) out.push(this.#byteIds[b]);
      } else if (prev !== id) out.push(id);
      prev = id;
    }
    return out;
  }
  /** Text of `ids` as `spm_decode --input_format=id` gives it. */
  decode(ids: number[]): string {
    const { addDummyPrefix, removeExtraWhitespaces } = this.file.normalizer;
    let text = "", bosSpace = true, bosSpaceSeen = false, bytes: number[] = [];
    const flush = () => {
      const b = new Uint8Array(bytes);
      for (let i = 0, n = 0; i < b.length; i += n || 1) {
        n = _utf8Len(b, i);
        text += n ? new TextDecoder().decode(b.subarray(i, i + n)) : "\ufffd";
      }
      bytes = [];
    };
    for (const id of ids) {
      const p = this.model.pieces[id];
      if (!p) throw new RangeError(`Invalid id: ${id}`);
      if (p.type === PieceType.BYTE) {
        bytes.push(parseInt(p.piece.slice(3, 5), 16));
        continue;
      }
      flush();
      if (bosSpaceSeen || text) bosSpace = false;
      bosSpaceSeen = false;
      if (p.type === PieceType.CONTROL) continue;
      if (p.type === PieceType.UNKNOWN) {
        text += this.file.trainer.unkSurface;
        continue;
      }
      let piece = p.piece;
      if (bosSpace && (addDummyPrefix || removeExtraWhitespaces) && piece.startsWith(_SPACE)) {
        piece = piece.slice(1);
        bosSpaceSeen = !removeExtraWhitespaces; // then every leading ▁ goes
      }
      text += piece.replaceAll(_SPACE, " ");
    }
    flush();
    return text;
  }
}
