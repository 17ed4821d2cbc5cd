/**
 * A fastText-style supervised text classifier (Joulin et al. 2017, "Bag of Tricks for Efficient
 * Text Classification"): each line's features — its words, hashed word n-grams and hashed character
 * n-grams of `<word>` (lengths `minn…maxn`) — index rows of an input matrix whose average (the
 * "embedding bag") feeds a linear softmax over the labels. Training is plain SGD over the lines,
 * `epoch` times, with the learning rate decaying linearly to 0 over all tokens.
 *
 * Training files use fastText's format: labels are the tokens starting with `__label__`, the rest
 * of the line is the text; as in fastText each line ends in the word `</s>`. Words are split on
 * ASCII whitespace and hashed exactly as fastText 0.9 does, so that a model saved in fastText's
 * `.bin` format (`fasttext_bin.ts`) predicts the same labels in `fasttext predict`.
 *
 * Shapes: V = words kept in the dictionary, B = hash buckets, D = `dim`, L = labels.
 * `input` is (V + B, D), `output` is (L, D), both row-major Float32.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { mulberry32 } from "./prng.ts";
import { averageRows, type SgdData, sgdRun, softmaxRows } from "./sgd.ts";
import type { SgdJob } from "./sgd_worker.ts";

/** The label prefix of fastText's format. */
export const LABEL_PREFIX = "__label__";
/** The word fastText appends to every line. */
export const EOS = "</s>";

/** Splits a line into tokens as fastText's `readWord` does: on ASCII whitespace and NUL. */
export function splitWords(line: string): string[] {
  return line.split(/[ \t\n\v\f\r\0]+/).filter((t) => t !== "");
}

/** The loss a model was trained with; it decides how scores become probabilities. */
export type FastTextLoss = "softmax" | "ova" | "ns" | "hs";

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
  const toks = splitWords(line);
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

/**
 * fastText's 32-bit FNV-1a of the UTF-8 bytes of `s`: as in its C++ (`h ^ uint32_t(int8_t(c))`),
 * each byte is sign-extended before the xor, so bytes ≥ 0x80 (all of Hangul) hash differently
 * from textbook FNV-1a.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const b = _enc.encode(s);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ ((b[i] << 24) >> 24), 0x01000193);
  return h >>> 0;
}

const _M64 = (1n << 64n) - 1n;

/**
 * Bucket of the word n-gram starting with `hashes[i]` and ending with `hashes[j]`, in fastText's
 * arithmetic: the 32-bit word hashes are stored as int32 and widened (sign-extended) to uint64,
 * then `h = h * 116049371 + hash` wraps at 64 bits and the bucket is `h % bucket`.
 */
function _wordNgramBuckets(hashes: number[], n: number, bucket: number, V: number, out: number[]) {
  const B = BigInt(bucket);
  for (let i = 0; i < hashes.length; i++) {
    let h = BigInt(hashes[i] | 0) & _M64;
    for (let j = i + 1; j < hashes.length && j < i + n; j++) {
      h = (h * 116049371n + (BigInt(hashes[j] | 0) & _M64)) & _M64;
      out.push(V + Number(h % B));
    }
  }
}

/** A prediction: labels with probabilities, best first. */
export interface Prediction {
  label: string;
  prob: number;
}

/** What a model keeps beyond its matrices: counts and the fields of fastText's file header. */
export interface FastTextMeta {
  loss: FastTextLoss;
  /** Occurrences of each word and label in the training data (hs builds its tree from these). */
  wordCounts: number[];
  labelCounts: number[];
  /** Tokens in the training data. */
  ntokens: number;
  /** fastText's context window, negatives, learning-rate update rate and sampling threshold. */
  ws: number;
  neg: number;
  lrUpdateRate: number;
  t: number;
}

/** A trained (or loaded) classifier. */
export class FastText {
  readonly args: FastTextArgs;
  readonly words: string[];
  readonly labels: string[];
  /** (V + B, D) */
  readonly input: Float32Array;
  /** (L, D); with the hs loss row k is the tree's inner node L + k (the last row is unused). */
  readonly output: Float32Array;
  readonly meta: FastTextMeta;
  /** hs only: per tree node [left, right] children (-1 at leaves); the root is the last node. */
  readonly #tree?: Int32Array;
  readonly #wordIds: Map<string, number>;
  /** Per word: its hash and its feature rows (word id, char n-grams). */
  readonly #cache = new Map<string, { hash: number; rows: Int32Array }>();

  constructor(
    args: FastTextArgs,
    words: string[],
    labels: string[],
    input: Float32Array,
    output: Float32Array,
    meta: Partial<FastTextMeta> = {},
  ) {
    this.args = args;
    this.words = words;
    this.labels = labels;
    this.input = input;
    this.output = output;
    this.meta = {
      loss: "softmax",
      wordCounts: words.map(() => 1),
      labelCounts: labels.map(() => 1),
      ntokens: 0,
      ws: 5,
      neg: 5,
      lrUpdateRate: 100,
      t: 1e-4,
      ...meta,
    };
    this.#wordIds = new Map(words.map((w, i) => [w, i]));
    const rows = words.length + args.bucket;
    if (input.length !== rows * args.dim || output.length !== labels.length * args.dim) {
      throw new Error(
        `matrix sizes (${input.length / args.dim} and ${output.length / args.dim} rows) do not ` +
          `match the dictionary (${rows} and ${labels.length})`,
      );
    }
    if (this.meta.loss === "hs") this.#tree = _huffmanTree(this.meta.labelCounts);
  }

  /** The feature rows of `text` (word ids, word n-gram and char n-gram buckets). */
  features(text: string): Int32Array {
    const { minn, maxn, wordNgrams, bucket } = this.args;
    const V = this.words.length;
    const toks = splitWords(text);
    toks.push(EOS);
    const out: number[] = [];
    const hashes: number[] = [];
    for (const w of toks) {
      // as fastText's getLine: a label token is no word (and no part of a word n-gram)
      if (w.startsWith(LABEL_PREFIX) && !this.#wordIds.has(w)) continue;
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
    if (wordNgrams > 1) _wordNgramBuckets(hashes, wordNgrams, bucket, V, out);
    return Int32Array.from(out);
  }

  /** Label probabilities of `text`, best first (at most `k`). */
  predict(text: string, k = 1): Prediction[] {
    const p = this.probabilities(this.features(text));
    return Array.from(p, (prob, i) => ({ label: this.labels[i], prob }))
      .sort((a, b) => b.prob - a.prob)
      .slice(0, k);
  }

  /**
   * Label probabilities for the given feature rows, as the model's loss defines them: a softmax
   * (softmax), one sigmoid per label (ova, ns) or the product of sigmoids on the path through the
   * label tree (hs).
   */
  probabilities(feats: Int32Array): Float64Array {
    const D = this.args.dim, L = this.labels.length;
    const hidden = new Float64Array(D);
    averageRows(this.input, feats, 0, feats.length, D, hidden);
    const p = new Float64Array(L);
    const loss = this.meta.loss;
    if (loss === "softmax") softmaxRows(this.output, hidden, D, L, p);
    else if (loss === "hs") _treeProbabilities(this.#tree!, this.output, hidden, D, L, p);
    else for (let j = 0; j < L; j++) p[j] = _tableSigmoid(_dot(this.output, j, hidden, D));
    return p;
  }
}

function _dot(m: Float32Array, row: number, v: Float64Array, D: number): number {
  let s = 0;
  for (let d = 0, off = row * D; d < D; d++) s += m[off + d] * v[d];
  return s;
}

function _sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** fastText's binary-logistic losses read the sigmoid from a 512-step table over [-8, 8]. */
const _SIG = Float32Array.from({ length: 513 }, (_, i) => _sigmoid((i * 16) / 512 - 8));

function _tableSigmoid(x: number): number {
  if (x < -8) return 0;
  if (x > 8) return 1;
  return _SIG[Math.floor(((x + 8) * 512) / 16)];
}

/**
 * The Huffman tree fastText's hierarchical softmax builds over the labels (leaves 0…L-1 in label
 * order, sorted by falling count; inner nodes L…2L-2, the root last), as [left, right] pairs.
 */
function _huffmanTree(counts: number[]): Int32Array {
  const L = counts.length, n = 2 * L - 1;
  const tree = new Int32Array(2 * n).fill(-1);
  const count = new Float64Array(n).fill(1e15);
  for (let i = 0; i < L; i++) count[i] = counts[i];
  let leaf = L - 1, node = L;
  for (let i = L; i < n; i++) {
    const mini = [0, 0];
    for (let j = 0; j < 2; j++) {
      mini[j] = leaf >= 0 && count[leaf] < count[node] ? leaf-- : node++;
    }
    tree[2 * i] = mini[0];
    tree[2 * i + 1] = mini[1];
    count[i] = count[mini[0]] + count[mini[1]];
  }
  return tree;
}

/** Each leaf's probability: going right at inner node k has probability sigmoid(output[k-L]·h). */
function _treeProbabilities(
  tree: Int32Array,
  output: Float32Array,
  hidden: Float64Array,
  D: number,
  L: number,
  p: Float64Array,
): void {
  if (L === 1) {
    p[0] = 1;
    return;
  }
  const walk = (node: number, prob: number) => {
    if (node < L) {
      p[node] = prob;
      return;
    }
    const f = _sigmoid(_dot(output, node - L, hidden, D));
    walk(tree[2 * node], prob * (1 - f));
    walk(tree[2 * node + 1], prob * f);
  };
  walk(2 * L - 2, 1);
}

const _starts = new Int32Array(4096);

/** Appends the bucket rows of the character n-grams of `<w>` ({@linkcode fnv1a}, incremental). */
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
      for (let k = _starts[j]; k < _starts[j + 1]; k++) {
        h = Math.imul(h ^ ((b[k] << 24) >> 24), 0x01000193);
      }
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
  // as fastText: no hash rows when nothing is hashed
  if (a.wordNgrams <= 1 && a.maxn <= 0) a.bucket = 0;
  const wordCount = new Map<string, number>();
  const labelCount = new Map<string, number>();
  let ntokens = 0;
  for (const ex of examples) {
    const toks = splitWords(ex.text);
    for (const w of toks) wordCount.set(w, (wordCount.get(w) ?? 0) + 1);
    wordCount.set(EOS, (wordCount.get(EOS) ?? 0) + 1);
    for (const l of ex.labels) labelCount.set(l, (labelCount.get(l) ?? 0) + 1);
    ntokens += toks.length + 1 + ex.labels.length;
  }
  const kept = [...wordCount].filter(([, c]) => c >= a.minCount);
  const words = kept.map(([w]) => w);
  const sortedLabels = [...labelCount].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const labels = sortedLabels.map(([l]) => l);
  const D = a.dim, L = labels.length;
  const rows = words.length + a.bucket;
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
  const model = new FastText(a, words, labels, input, output, {
    wordCounts: kept.map(([, c]) => c),
    labelCounts: sortedLabels.map(([, c]) => c),
    ntokens,
  });
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
    ntok[e] = splitWords(examples[e].text).length + 1;
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
