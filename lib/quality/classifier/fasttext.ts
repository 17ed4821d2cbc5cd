/**
 * A fastText-style supervised text classifier (Joulin et al. 2017, "Bag of Tricks for Efficient
 * Text Classification"): each line's features — its words, hashed word n-grams and hashed character
 * n-grams of `<word>` (lengths `minn…maxn`) — index rows of an input matrix whose average (the
 * "embedding bag") feeds a linear softmax over the labels. Training is plain SGD over the lines,
 * `epoch` times, with the learning rate decaying linearly to 0 over all tokens.
 *
 * Training files use fastText's format: labels are the tokens starting with `__label__`, the rest
 * of the line is the text; as in fastText each line ends in the word `</s>`.
 *
 * Shapes: V = words kept in the dictionary, B = hash buckets, D = `dim`, L = labels.
 * `input` is (V + B, D), `output` is (L, D), both row-major Float32.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { writeFileAtomic } from "../../io/atomic.ts";
import { mulberry32 } from "./prng.ts";
import { averageRows, type SgdData, sgdRun, softmaxRows } from "./sgd.ts";
import type { SgdJob } from "./sgd_worker.ts";

/** The label prefix of fastText's format. */
export const LABEL_PREFIX = "__label__";
const EOS = "</s>";

/** Training hyper-parameters (fastText's names; defaults are fastText's `supervised` ones). */
export interface FastTextArgs {
  dim: number;
  epoch: number;
  lr: number;
  /** Longest word n-gram (1 = words only). */
  wordNgrams: number;
  /** Character n-gram lengths (0 = none). */
  minn: number;
  maxn: number;
  bucket: number;
  minCount: number;
  seed: number;
}

/** fastText's defaults for `supervised`. */
export const DEFAULT_ARGS: FastTextArgs = {
  dim: 100,
  epoch: 5,
  lr: 0.1,
  wordNgrams: 1,
  minn: 0,
  maxn: 0,
  bucket: 2_000_000,
  minCount: 1,
  seed: 0,
};

/** One labelled line. */
export interface Example {
  labels: string[];
  /** The text (without labels). */
  text: string;
}

/**
 * Parses one line of a fastText training file. Returns null for a blank line; a line without any
 * `__label__` token is refused (naming `where`) rather than guessed.
 */
export function parseLabelledLine(line: string, where: string): Example | null {
  const toks = line.split(/\s+/).filter((t) => t !== "");
  if (toks.length === 0) return null;
  const labels: string[] = [];
  const words: string[] = [];
  for (const t of toks) {
    if (t.startsWith(LABEL_PREFIX)) {
      if (t.length === LABEL_PREFIX.length) throw new UserError(`${where}: empty label "${t}"`);
      labels.push(t.slice(LABEL_PREFIX.length));
    } else words.push(t);
  }
  if (labels.length === 0) {
    throw new UserError(
      `${where}: no "${LABEL_PREFIX}" label on this line (expected fastText's format ` +
        `"${LABEL_PREFIX}LABEL text…")`,
    );
  }
  return { labels, text: words.join(" ") };
}

/** Reads a fastText-format training file. */
export async function readLabelledFile(path: string): Promise<Example[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file`);
    throw err;
  }
  const out: Example[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const ex = parseLabelledLine(lines[i], `${path}:${i + 1}`);
    if (ex) out.push(ex);
  }
  return out;
}

const _enc = new TextEncoder();

/** FNV-1a (32-bit) of the UTF-8 bytes of `s`, as fastText hashes words and n-grams. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const b = _enc.encode(s);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** A prediction: labels with probabilities, best first. */
export interface Prediction {
  label: string;
  prob: number;
}

/** A trained (or loaded) classifier. */
export class FastText {
  readonly args: FastTextArgs;
  readonly words: string[];
  readonly labels: string[];
  /** (V + B, D) */
  readonly input: Float32Array;
  /** (L, D) */
  readonly output: Float32Array;
  readonly #wordIds: Map<string, number>;
  /** Per word: its hash and its feature rows (word id, char n-grams). */
  readonly #cache = new Map<string, { hash: number; rows: Int32Array }>();

  constructor(
    args: FastTextArgs,
    words: string[],
    labels: string[],
    input: Float32Array,
    output: Float32Array,
  ) {
    this.args = args;
    this.words = words;
    this.labels = labels;
    this.input = input;
    this.output = output;
    this.#wordIds = new Map(words.map((w, i) => [w, i]));
    const rows = words.length + (this.#usesBuckets() ? args.bucket : 0);
    if (input.length !== rows * args.dim || output.length !== labels.length * args.dim) {
      throw new Error("FastText: matrix sizes do not match the dictionary");
    }
  }

  #usesBuckets(): boolean {
    return this.args.wordNgrams > 1 || this.args.maxn > 0;
  }

  /** The feature rows of `text` (word ids, word n-gram and char n-gram buckets). */
  features(text: string): Int32Array {
    const { minn, maxn, wordNgrams, bucket } = this.args;
    const V = this.words.length;
    const toks = text.split(/\s+/).filter((t) => t !== "");
    toks.push(EOS);
    const out: number[] = [];
    const hashes: number[] = [];
    for (const w of toks) {
      let c = this.#cache.get(w);
      if (c === undefined) {
        const rows: number[] = [];
        const id = this.#wordIds.get(w);
        if (id !== undefined) rows.push(id);
        if (maxn > 0 && w !== EOS) _charNgrams(w, minn, maxn, V, bucket, rows);
        c = { hash: fnv1a(w), rows: Int32Array.from(rows) };
        if (this.#cache.size >= 1 << 20) this.#cache.clear();
        this.#cache.set(w, c);
      }
      for (let i = 0; i < c.rows.length; i++) out.push(c.rows[i]);
      hashes.push(c.hash);
    }
    for (let i = 0; i < hashes.length; i++) {
      let h = hashes[i];
      for (let j = i + 1; j < hashes.length && j < i + wordNgrams; j++) {
        h = (Math.imul(h, 116049371) + hashes[j]) >>> 0;
        out.push(V + (h % bucket));
      }
    }
    return Int32Array.from(out);
  }

  /** Label probabilities of `text`, best first (at most `k`). */
  predict(text: string, k = 1): Prediction[] {
    const p = this.probabilities(this.features(text));
    return Array.from(p, (prob, i) => ({ label: this.labels[i], prob }))
      .sort((a, b) => b.prob - a.prob)
      .slice(0, k);
  }

  /** Softmax over the labels for the given feature rows. */
  probabilities(feats: Int32Array): Float64Array {
    const D = this.args.dim, L = this.labels.length;
    const hidden = new Float64Array(D);
    averageRows(this.input, feats, 0, feats.length, D, hidden);
    const p = new Float64Array(L);
    softmaxRows(this.output, hidden, D, L, p);
    return p;
  }
}

const _starts = new Int32Array(4096);

/** Appends the bucket rows of the character n-grams of `<w>` (FNV-1a over UTF-8, incremental). */
function _charNgrams(
  w: string,
  minn: number,
  maxn: number,
  V: number,
  bucket: number,
  out: number[],
): void {
  const b = _enc.encode(`<${w}>`);
  // start offsets of each character (UTF-8 lead bytes), plus the end
  let nc = 0;
  for (let i = 0; i < b.length && nc < _starts.length - 1; i++) {
    if ((b[i] & 0xc0) !== 0x80) _starts[nc++] = i;
  }
  _starts[nc] = b.length;
  for (let i = 0; i < nc; i++) {
    let h = 0x811c9dc5;
    for (let j = i, n = 1; j < nc && n <= maxn; j++, n++) {
      for (let k = _starts[j]; k < _starts[j + 1]; k++) h = Math.imul(h ^ b[k], 0x01000193);
      if (n >= minn && !(n === 1 && (i === 0 || j === nc - 1))) out.push(V + ((h >>> 0) % bucket));
    }
  }
}

export { mulberry32 } from "./prng.ts";

/** Options of {@linkcode trainFastText} beyond the hyper-parameters. */
export interface TrainOptions {
  /** Word vectors to start the input rows of known words from (fastText's -pretrainedVectors). */
  pretrained?: Map<string, Float32Array>;
  /** Called after each epoch with the epoch and the average loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

interface _Prepared {
  model: FastText;
  data: SgdData;
  total: number;
  rnd: () => number;
}

function _prepare(
  examples: Example[],
  args: Partial<FastTextArgs>,
  options: TrainOptions,
  shared: boolean,
): _Prepared {
  const a: FastTextArgs = { ...DEFAULT_ARGS, ...args };
  if (examples.length === 0) throw new UserError("no training examples");
  if (a.maxn > 0 && (a.minn < 1 || a.minn > a.maxn)) {
    throw new UserError(`minn must be between 1 and maxn (${a.maxn}); got ${a.minn}`);
  }
  // Dictionary: words by first appearance, kept at minCount; labels sorted by frequency.
  const wordCount = new Map<string, number>();
  const labelCount = new Map<string, number>();
  for (const ex of examples) {
    for (const w of ex.text.split(/\s+/)) {
      if (w !== "") wordCount.set(w, (wordCount.get(w) ?? 0) + 1);
    }
    wordCount.set(EOS, (wordCount.get(EOS) ?? 0) + 1);
    for (const l of ex.labels) labelCount.set(l, (labelCount.get(l) ?? 0) + 1);
  }
  const words = [...wordCount].filter(([, c]) => c >= a.minCount).map(([w]) => w);
  const labels = [...labelCount].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .map(([l]) => l);
  const usesBuckets = a.wordNgrams > 1 || a.maxn > 0;
  const D = a.dim, L = labels.length;
  const rows = words.length + (usesBuckets ? a.bucket : 0);
  const rnd = mulberry32(a.seed + 1);
  const f32 = (n: number) =>
    shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
  const i32 = (n: number) =>
    shared ? new Int32Array(new SharedArrayBuffer(4 * n)) : new Int32Array(n);
  const input = f32(rows * D); // (V + B, D)
  for (let i = 0; i < input.length; i++) input[i] = (rnd() * 2 - 1) / D;
  if (options.pretrained) {
    for (let i = 0; i < words.length; i++) {
      const v = options.pretrained.get(words[i]);
      if (!v) continue;
      if (v.length !== D) {
        throw new UserError(`pretrained vectors have dimension ${v.length}, but dim is ${D}`);
      }
      input.set(v, i * D);
    }
  }
  const output = f32(L * D); // (L, D)
  const model = new FastText(a, words, labels, input, output);
  const labelIds = new Map(labels.map((l, i) => [l, i]));
  // Features once, flattened; tokens for the learning-rate schedule.
  const featList = examples.map((ex) => model.features(ex.text));
  const fOff = i32(examples.length + 1), tOff = i32(examples.length + 1);
  const ntok = i32(examples.length);
  let nf = 0, nt = 0, tokens = 0;
  for (let e = 0; e < examples.length; e++) {
    fOff[e] = nf;
    tOff[e] = nt;
    nf += featList[e].length;
    nt += examples[e].labels.length;
    ntok[e] = examples[e].text.split(/\s+/).filter((t) => t !== "").length + 1;
    tokens += ntok[e];
  }
  fOff[examples.length] = nf;
  tOff[examples.length] = nt;
  const feats = i32(nf), tIds = i32(nt);
  for (let e = 0; e < examples.length; e++) {
    feats.set(featList[e], fOff[e]);
    examples[e].labels.forEach((l, k) => (tIds[tOff[e] + k] = labelIds.get(l)!));
  }
  return { model, data: { feats, fOff, tIds, tOff, ntok }, total: a.epoch * tokens, rnd };
}

function _shuffle(order: Int32Array, rnd: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/**
 * Trains a classifier on labelled examples (one thread; deterministic for a seed).
 *
 * @example
 * ```ts
 * import { trainFastText } from "./fasttext.ts";
 * const data = [
 *   { labels: ["ko"], text: "한국어 문장" },
 *   { labels: ["en"], text: "an english line" },
 * ];
 * const model = trainFastText(data, { dim: 8, epoch: 50, lr: 0.5 });
 * console.log(model.predict("한국어")[0].label); // "ko"
 * ```
 */
export function trainFastText(
  examples: Example[],
  args: Partial<FastTextArgs> = {},
  options: TrainOptions = {},
): FastText {
  const { model, data, total, rnd } = _prepare(examples, args, options, false);
  const { dim: D, epoch, lr } = model.args;
  const L = model.labels.length;
  let seen = 0;
  const counter = (n: number) => {
    const s = seen;
    seen += n;
    return s;
  };
  const order = Int32Array.from(examples, (_, i) => i);
  for (let ep = 0; ep < epoch; ep++) {
    _shuffle(order, rnd);
    const loss = sgdRun(
      model.input,
      model.output,
      D,
      L,
      data,
      order,
      0,
      order.length,
      lr,
      total,
      counter,
      rnd,
    );
    options.onEpoch?.(ep + 1, loss / order.length);
  }
  return model;
}

/**
 * Trains with `threads` Hogwild workers sharing the matrices (as fastText's `-thread`): faster on
 * several cores, not bit-for-bit reproducible. `threads` ≤ 1 is {@linkcode trainFastText}.
 */
export async function trainFastTextParallel(
  examples: Example[],
  args: Partial<FastTextArgs> = {},
  options: TrainOptions & { threads?: number } = {},
): Promise<FastText> {
  const threads = Math.max(1, Math.min(options.threads ?? 1, examples.length));
  if (threads <= 1) return trainFastText(examples, args, options);
  const { model, data, total, rnd } = _prepare(examples, args, options, true);
  const { dim: D, epoch, lr, seed } = model.args;
  const order = new Int32Array(new SharedArrayBuffer(4 * examples.length));
  for (let i = 0; i < order.length; i++) order[i] = i;
  const counter = new SharedArrayBuffer(4);
  const sab = (a: Int32Array | Float32Array) => a.buffer as SharedArrayBuffer;
  const workers = Array.from(
    { length: threads },
    () => new Worker(new URL("./sgd_worker.ts", import.meta.url).href, { type: "module" }),
  );
  try {
    for (let ep = 0; ep < epoch; ep++) {
      _shuffle(order, rnd);
      const per = Math.ceil(order.length / threads);
      const losses = await Promise.all(
        workers.map((w, t) =>
          new Promise<number>((resolve, reject) => {
            w.onmessage = (ev) => resolve(ev.data.loss);
            w.onerror = (ev) => {
              ev.preventDefault();
              reject(new Error(`classifier worker failed: ${ev.message}`));
            };
            const job: SgdJob = {
              input: sab(model.input),
              output: sab(model.output),
              D,
              L: model.labels.length,
              feats: sab(data.feats),
              fOff: sab(data.fOff),
              tIds: sab(data.tIds),
              tOff: sab(data.tOff),
              ntok: sab(data.ntok),
              order: sab(order),
              counter,
              from: t * per,
              to: Math.min(order.length, (t + 1) * per),
              lr,
              total,
              seed: seed * 1000 + ep * threads + t + 7,
            };
            w.postMessage(job);
          })
        ),
      );
      options.onEpoch?.(ep + 1, losses.reduce((x, y) => x + y, 0) / order.length);
    }
  } finally {
    for (const w of workers) w.terminate();
  }
  return model;
}

/** Precision@1 and recall@1 of `model` on labelled examples (as `fasttext test` prints them). */
export function testFastText(model: FastText, examples: Example[]): { n: number; p1: number } {
  let hit = 0;
  for (const ex of examples) {
    const top = model.predict(ex.text, 1)[0];
    if (top && ex.labels.includes(top.label)) hit++;
  }
  return { n: examples.length, p1: examples.length ? hit / examples.length : NaN };
}

const MAGIC = 0x4a4b4654; // "JKFT"
const VERSION = 1;

/**
 * Saves a model: magic, version and header length (uint32 each), a JSON header (args, words,
 * labels), then the input and output matrices (float32, little-endian).
 */
export async function saveFastText(model: FastText, path: string): Promise<void> {
  const header = _enc.encode(JSON.stringify({
    args: model.args,
    words: model.words,
    labels: model.labels,
    input_rows: model.input.length / model.args.dim,
  }));
  const pad = (4 - (header.length % 4)) % 4;
  const total = 12 + header.length + pad + 4 * (model.input.length + model.output.length);
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, header.length, true);
  buf.set(header, 12);
  let off = 12 + header.length + pad;
  for (const m of [model.input, model.output]) {
    for (let i = 0; i < m.length; i++, off += 4) dv.setFloat32(off, m[i], true);
  }
  await writeFileAtomic(path, buf);
}

/** Loads a model saved by {@linkcode saveFastText}; corrupt or truncated files are refused. */
export async function loadFastText(path: string): Promise<FastText> {
  let buf: Uint8Array;
  try {
    buf = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file`);
    throw err;
  }
  const bad = (why: string): never => {
    throw new UserError(`${path}: not a Jikji classifier model (${why})`);
  };
  if (buf.length < 12) bad("too short");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) bad("wrong magic number");
  const version = dv.getUint32(4, true);
  if (version !== VERSION) bad(`version ${version}, expected ${VERSION}`);
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > buf.length) bad("header runs past the end of the file");
  let header: { args: FastTextArgs; words: string[]; labels: string[]; input_rows: number };
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(12, 12 + hlen)));
  } catch {
    return bad("header is not JSON");
  }
  const D = header.args?.dim;
  if (!Number.isInteger(D) || !Array.isArray(header.words) || !Array.isArray(header.labels)) {
    bad("header lacks args.dim, words or labels");
  }
  const pad = (4 - (hlen % 4)) % 4;
  const nIn = header.input_rows * D, nOut = header.labels.length * D;
  const expect = 12 + hlen + pad + 4 * (nIn + nOut);
  if (buf.length !== expect) bad(`size ${buf.length} bytes, expected ${expect} (truncated?)`);
  const input = new Float32Array(nIn), output = new Float32Array(nOut);
  let off = 12 + hlen + pad;
  for (let i = 0; i < nIn; i++, off += 4) input[i] = dv.getFloat32(off, true);
  for (let i = 0; i < nOut; i++, off += 4) output[i] = dv.getFloat32(off, true);
  try {
    return new FastText(header.args, header.words, header.labels, input, output);
  } catch (err) {
    return bad((err as Error).message);
  }
}
