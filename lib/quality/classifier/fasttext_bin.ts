/**
 * fastText's own `.bin` model format (version 12, fastText 0.9), read and written so that
 * `fasttext predict` loads Jikji's classifiers and Jikji loads classifiers trained by fastText.
 *
 * Layout, all little-endian:
 * - int32 magic 793712314, int32 version 12;
 * - args: int32 dim, ws, epoch, minCount, neg, wordNgrams, loss (1 hs, 2 ns, 3 softmax, 4 ova),
 *   model (1 cbow, 2 skipgram, 3 supervised), bucket, minn, maxn, lrUpdateRate; float64 t;
 * - dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx size (-1: none); then per
 *   entry its UTF-8 string and a NUL, int64 count, int8 type (0 word, 1 label) — words first;
 * - uint8 quantized (0), input matrix: int64 rows (nwords + bucket), int64 cols (dim), float32s;
 * - uint8 quantized (0), output matrix: int64 rows (labels), int64 cols (dim), float32s.
 *
 * Quantized models (`.ftz`, from `fasttext quantize`) and word-vector models are refused.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { AtomicFile } from "../../io/atomic.ts";
import { FastText, type FastTextLoss, LABEL_PREFIX } from "./fasttext.ts";

/** fastText's file magic (`FASTTEXT_FILEFORMAT_MAGIC_INT32`). */
export const FASTTEXT_MAGIC = 793712314;
/** The format version fastText 0.9 writes and reads. */
export const FASTTEXT_VERSION = 12;

const LOSSES: FastTextLoss[] = ["hs", "ns", "softmax", "ova"]; // codes 1…4
const SUPERVISED = 3;

/**
 * Saves `model` in fastText's `.bin` format (atomically).
 *
 * @example
 * ```ts
 * import { trainFastText } from "./fasttext.ts";
 * import { loadFastText, saveFastText } from "./fasttext_bin.ts";
 * const model = trainFastText([{ labels: ["a"], text: "x y" }, { labels: ["b"], text: "z" }], {
 *   dim: 4,
 * });
 * const path = await Deno.makeTempFile({ suffix: ".bin" });
 * await saveFastText(model, path);
 * console.log((await loadFastText(path)).labels); // ["a", "b"]
 * ```
 */
export async function saveFastText(model: FastText, path: string): Promise<void> {
  const a = model.args, m = model.meta;
  const enc = new TextEncoder();
  const head = new _Writer();
  head.i32(FASTTEXT_MAGIC).i32(FASTTEXT_VERSION);
  head.i32(a.dim).i32(m.ws).i32(a.epoch).i32(a.minCount).i32(m.neg).i32(a.wordNgrams);
  head.i32(LOSSES.indexOf(m.loss) + 1).i32(SUPERVISED).i32(a.bucket).i32(a.minn).i32(a.maxn);
  head.i32(m.lrUpdateRate).f64(m.t);
  const V = model.words.length, L = model.labels.length;
  head.i32(V + L).i32(V).i32(L).i64(m.ntokens).i64(-1);
  model.words.forEach((w, i) => head.bytes(enc.encode(w)).u8(0).i64(m.wordCounts[i]).u8(0));
  model.labels.forEach((l, i) =>
    head.bytes(enc.encode(LABEL_PREFIX + l)).u8(0).i64(m.labelCounts[i]).u8(1)
  );
  const file = await AtomicFile.open(path);
  try {
    await file.write(head.done());
    for (const mat of [model.input, model.output]) {
      await file.write(new _Writer().u8(0).i64(mat.length / a.dim).i64(a.dim).done());
      await file.write(_le(mat));
    }
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
}

/**
 * Loads a supervised model in fastText's `.bin` format (written by `fasttext supervised` or by
 * {@linkcode saveFastText}); other, corrupt or truncated files are refused with a one-line error.
 */
export async function loadFastText(path: string): Promise<FastText> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file`);
    throw err;
  }
  const bad = (why: string): never => {
    throw new UserError(`${path}: not a fastText classifier model (${why})`);
  };
  try {
    const size = (await file.stat()).size;
    const r = new _Reader(file, size, bad);
    if (await r.i32() !== FASTTEXT_MAGIC) bad("wrong magic number");
    const version = await r.i32();
    if (version !== FASTTEXT_VERSION) {
      bad(`format version ${version}; fastText 0.9's version ${FASTTEXT_VERSION} is read`);
    }
    const [dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUR] =
      await r.i32s(12);
    const t = await r.f64();
    if (model !== SUPERVISED) bad("a word-vector model, not a supervised classifier");
    if (loss < 1 || loss > 4) bad(`unknown loss code ${loss}`);
    if (dim < 1 || bucket < 0 || wordNgrams < 1) bad(`bad args dim=${dim} bucket=${bucket}`);
    const [n, nwords, nlabels] = await r.i32s(3);
    const ntokens = await r.i64();
    const pruned = await r.i64();
    if (nwords < 0 || nlabels < 1 || n !== nwords + nlabels) {
      bad(`dictionary counts ${n} ≠ ${nwords} words + ${nlabels} labels`);
    }
    const dec = new TextDecoder("utf-8", { fatal: false });
    const words: string[] = [], labels: string[] = [];
    const wordCounts: number[] = [], labelCounts: number[] = [];
    for (let i = 0; i < n; i++) {
      const w = dec.decode(await r.cstring());
      const count = await r.i64();
      const type = await r.u8();
      if (type !== (i < nwords ? 0 : 1)) bad(`entry ${i} ("${w}") has type ${type}`);
      if (i < nwords) {
        words.push(w);
        wordCounts.push(count);
      } else {
        labels.push(w.startsWith(LABEL_PREFIX) ? w.slice(LABEL_PREFIX.length) : w);
        labelCounts.push(count);
      }
    }
    if (pruned > 0) bad("pruned dictionary (a quantized model; use the unquantized .bin)");
    const lossName = LOSSES[loss - 1];
    const input = await r.matrix(nwords + bucket, dim, "input");
    const output = await r.matrix(nlabels, dim, "output");
    if (r.offset !== size) bad(`${size - r.offset} bytes after the output matrix`);
    return new FastText(
      { dim, epoch, lr: 0.1, wordNgrams, minn, maxn, bucket, minCount, seed: 0 },
      words,
      labels,
      input,
      output,
      { loss: lossName, wordCounts, labelCounts, ntokens, ws, neg, lrUpdateRate: lrUR, t },
    );
  } finally {
    file.close();
  }
}

const _littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The little-endian bytes of `m` (a view where the machine is little-endian). */
function _le(m: Float32Array): Uint8Array {
  if (_littleEndian) return new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
  const out = new Uint8Array(m.byteLength), dv = new DataView(out.buffer);
  for (let i = 0; i < m.length; i++) dv.setFloat32(4 * i, m[i], true);
  return out;
}

/** Little-endian header bytes. */
class _Writer {
  #parts: number[] = [];
  #dv = new DataView(new ArrayBuffer(8));
  #push(n: number) {
    for (let i = 0; i < n; i++) this.#parts.push(this.#dv.getUint8(i));
    return this;
  }
  u8(v: number) {
    this.#parts.push(v & 0xff);
    return this;
  }
  i32(v: number) {
    this.#dv.setInt32(0, v, true);
    return this.#push(4);
  }
  i64(v: number) {
    this.#dv.setBigInt64(0, BigInt(v), true);
    return this.#push(8);
  }
  f64(v: number) {
    this.#dv.setFloat64(0, v, true);
    return this.#push(8);
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.#parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** Sequential little-endian reads from a file, refusing reads past its end. */
class _Reader {
  offset = 0;
  #file: Deno.FsFile;
  #size: number;
  #bad: (why: string) => never;
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;

  constructor(file: Deno.FsFile, size: number, bad: (why: string) => never) {
    this.#file = file;
    this.#size = size;
    this.#bad = bad;
  }

  /** Makes `n` buffered bytes available (n ≤ the buffer's size). */
  async #need(n: number): Promise<void> {
    if (this.#end - this.#start >= n) return;
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
    while (this.#end < n) {
      const got = await this.#file.read(this.#buf.subarray(this.#end));
      if (got === null) this.#bad(`truncated: ends at byte ${this.offset + this.#end}`);
      this.#end += got!;
    }
  }

  async #view(n: number): Promise<DataView> {
    await this.#need(n);
    const v = new DataView(this.#buf.buffer, this.#start, n);
    this.#start += n;
    this.offset += n;
    return v;
  }

  async u8(): Promise<number> {
    return (await this.#view(1)).getUint8(0);
  }
  async i32(): Promise<number> {
    return (await this.#view(4)).getInt32(0, true);
  }
  async i32s(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await this.i32());
    return out;
  }
  async i64(): Promise<number> {
    const v = (await this.#view(8)).getBigInt64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.#bad(`integer ${v} is too large`);
    return Number(v);
  }
  async f64(): Promise<number> {
    return (await this.#view(8)).getFloat64(0, true);
  }
  /** Bytes up to (not including) the next NUL. */
  async cstring(): Promise<Uint8Array> {
    const parts: number[] = [];
    for (;;) {
      const c = await this.u8();
      if (c === 0) return Uint8Array.from(parts);
      parts.push(c);
      if (parts.length > 1 << 20) this.#bad("a dictionary entry runs over 1 MiB");
    }
  }

  /** A quantization flag (must be 0), the shape (must be rows × cols) and the float32s. */
  async matrix(rows: number, cols: number, name: string): Promise<Float32Array> {
    if (await this.u8() !== 0) this.#bad(`quantized ${name} matrix (.ftz models are not read)`);
    const [m, n] = [await this.i64(), await this.i64()];
    if (m !== rows || n !== cols) {
      this.#bad(`${name} matrix is ${m}×${n}, the header implies ${rows}×${cols}`);
    }
    const bytes = 4 * rows * cols;
    if (this.offset + bytes > this.#size) {
      this.#bad(`truncated: the ${name} matrix needs ${bytes} bytes`);
    }
    const out = new Float32Array(rows * cols);
    const dst = new Uint8Array(out.buffer);
    let have = Math.min(this.#end - this.#start, bytes);
    dst.set(this.#buf.subarray(this.#start, this.#start + have));
    this.#start += have;
    while (have < bytes) {
      const got = await this.#file.read(dst.subarray(have));
      if (got === null) this.#bad(`truncated: the ${name} matrix needs ${bytes} bytes`);
      have += got!;
    }
    this.offset += bytes;
    if (!_littleEndian) {
      const dv = new DataView(out.buffer);
      for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
    }
    return out;
  }
}
