/**
 * A binary cache of ARPA models, so that a model is parsed once and later loaded as typed arrays
 * straight from one file read (the job KenLM's `build_binary` does for `query`).
 *
 * The cache is written beside the ARPA, where its links lead (`ko.arpa` → `ko.arpa.jklm`). It
 * records the ARPA it was built from — size, modification time and the SHA-1 of its whole
 * content — and is used only when all three still match, so an ARPA changed in any way is parsed
 * again (and the cache rewritten), never read stale. Where the folder cannot be written, the model
 * is parsed every time.
 *
 * Layout (little-endian; every section starts at a multiple of 8 bytes):
 *
 * ```text
 * header   u32 magic "JKLM", u32 version, u32 order N, u32 vocabulary size V,
 *          f64 ARPA size, f64 ARPA mtime (ms), 20 bytes ARPA SHA-1, u32 bytes of words,
 *          f64 file size, then per order k = 1…N: u32 n-grams, u32 index slots, u32 index size
 * words    the V words, UTF-8, each followed by "\n"
 * order k  f32 prob[n], f32 backoff[n]; for k ≥ 2 also i32 ctx[n], i32 word[n] and the pair
 *          index's i32 a[slots], b[slots], v[slots]
 * ```
 *
 * Sizes are checked against the file's real size before anything is read from it; a file that does
 * not match is treated as no cache.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { AtomicFile } from "../../io/atomic.ts";
import { readArpa } from "./arpa.ts";
import { NgramModel, type OrderTable } from "./model.ts";
import { IntVec, PairIndex } from "./pair_index.ts";
import { Vocab } from "./vocab.ts";

const MAGIC = 0x4d4c4b4a; // "JKLM"
const VERSION = 1;
const FIXED = 64; // header bytes before the per-order entries

/** What identifies the ARPA a cache was built from. */
export interface ArpaKey {
  size: number;
  mtimeMs: number;
  /** SHA-1 of the whole file. */
  sha1: Uint8Array;
}

/** Options of {@linkcode loadArpa}. */
export interface LoadArpaOptions {
  /** Told whether the cache was written or could not be. */
  log?: (msg: string) => void;
}

/** The key of the ARPA file at `path`. */
export async function arpaKey(path: string): Promise<ArpaKey> {
  const info = await Deno.stat(path);
  const hash = createHash("sha1");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0, sha1: hash.digest() };
}

/** The cache file of the ARPA at `path`: beside the file its links lead to. */
export async function arpaCachePath(path: string): Promise<string> {
  return `${await Deno.realPath(path)}.jklm`;
}

/**
 * Reads an ARPA model through its binary cache: from the cache when it was built from this very
 * file, else by parsing the ARPA and writing the cache (skipped, with a log line, where it
 * cannot be written). Scores are those of {@linkcode readArpa}.
 *
 * @example
 * ```ts ignore
 * const model = await loadArpa("data/models/ko.5gram.arpa");
 * ```
 */
export async function loadArpa(path: string, options: LoadArpaOptions = {}): Promise<NgramModel> {
  const log = options.log ?? (() => {});
  let cache: string, key: ArpaKey;
  try {
    cache = await arpaCachePath(path);
    key = await arpaKey(cache.slice(0, -".jklm".length));
  } catch {
    return await readArpa(path); // readArpa names what is wrong with the file
  }
  let bytes = await Deno.readFile(cache).catch(() => undefined);
  if (bytes && bytes.byteOffset % 8) bytes = bytes.slice(); // typed views need aligned offsets
  const cached = bytes && decodeArpaCache(bytes, key);
  if (cached) return cached;
  const model = await readArpa(path);
  try {
    const out = await AtomicFile.open(cache);
    try {
      await out.write(encodeArpaCache(model, key));
      await out.commit();
    } catch (err) {
      await out.abort();
      throw err;
    }
    log(`${path}: binary cache written to ${cache}`);
  } catch (err) {
    log(`${path}: binary cache not written (${(err as Error).message})`);
  }
  return model;
}

const _align = (n: number) => Math.ceil(n / 8) * 8;

/** The cache file's bytes for `model`, built from the ARPA identified by `key`. */
export function encodeArpaCache(model: NgramModel, key: ArpaKey): Uint8Array {
  const words = new TextEncoder().encode(model.vocab.words.map((w) => w + "\n").join(""));
  const N = model.order, counts = model.counts();
  const slots = [0, ...model.tables.slice(1).map((t) => t.index.arrays().a.length)];
  let size = _align(FIXED + 12 * N) + _align(words.length);
  for (let k = 1; k <= N; k++) {
    size += _align(8 * counts[k - 1]) +
      (k >= 2 ? _align(8 * counts[k - 1] + 12 * slots[k - 1]) : 0);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, N, true);
  view.setUint32(12, model.vocab.size, true);
  view.setFloat64(16, key.size, true);
  view.setFloat64(24, key.mtimeMs, true);
  out.set(key.sha1, 32);
  view.setUint32(52, words.length, true);
  view.setFloat64(56, size, true);
  for (let k = 1; k <= N; k++) {
    const t = model.tables[k - 1];
    view.setUint32(FIXED + 12 * (k - 1), counts[k - 1], true);
    view.setUint32(FIXED + 12 * (k - 1) + 4, slots[k - 1], true);
    view.setUint32(FIXED + 12 * (k - 1) + 8, k >= 2 ? t.index.size : 0, true);
  }
  let at = _align(FIXED + 12 * N);
  out.set(words, at);
  at += _align(words.length);
  const put = (a: Float32Array | Int32Array) => {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  };
  for (let k = 1; k <= N; k++) {
    put(model.prob[k - 1]);
    put(model.backoff[k - 1]);
    at = _align(at);
    if (k < 2) continue;
    const t = model.tables[k - 1], { a, b, v } = t.index.arrays();
    put(t.ctx.view());
    put(t.word.view());
    put(a);
    put(b);
    put(v);
    at = _align(at);
  }
  return out;
}

/**
 * The model in a cache file's bytes, its arrays viewing `bytes` (not copied); undefined when the
 * bytes are not a cache of this version, do not add up to their size, or were built from another
 * ARPA than `key`.
 */
export function decodeArpaCache(bytes: Uint8Array, key: ArpaKey): NgramModel | undefined {
  if (bytes.length < FIXED || bytes.byteOffset % 8) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) return;
  if (view.getFloat64(16, true) !== key.size || view.getFloat64(24, true) !== key.mtimeMs) return;
  if (key.sha1.some((x, i) => bytes[32 + i] !== x)) return;
  if (view.getFloat64(56, true) !== bytes.length) return;
  const N = view.getUint32(8, true), V = view.getUint32(12, true);
  const wordBytes = view.getUint32(52, true);
  if (N < 1 || _align(FIXED + 12 * N) > bytes.length) return;
  const counts: number[] = [], slots: number[] = [], sizes: number[] = [];
  let size = _align(FIXED + 12 * N) + _align(wordBytes);
  for (let k = 1; k <= N; k++) {
    counts.push(view.getUint32(FIXED + 12 * (k - 1), true));
    slots.push(view.getUint32(FIXED + 12 * (k - 1) + 4, true));
    sizes.push(view.getUint32(FIXED + 12 * (k - 1) + 8, true));
    const n = counts[k - 1], s = slots[k - 1];
    if (k >= 2 && (s < 16 || s & (s - 1) || sizes[k - 1] !== n)) return;
    size += _align(8 * n) + (k >= 2 ? _align(8 * n + 12 * s) : 0);
  }
  if (size !== bytes.length || counts[0] !== V) return;
  let at = _align(FIXED + 12 * N);
  const words = new TextDecoder().decode(bytes.subarray(at, at + wordBytes)).split("\n");
  words.pop();
  if (words.length !== V) return;
  const vocab = new Vocab();
  for (let i = 3; i < V; i++) vocab.add(words[i]);
  at += _align(wordBytes);
  const buf = bytes.buffer, base = bytes.byteOffset;
  const f32 = (n: number) => {
    const a = new Float32Array(buf, base + at, n);
    at += 4 * n;
    return a;
  };
  const i32 = (n: number) => {
    const a = new Int32Array(buf, base + at, n);
    at += 4 * n;
    return a;
  };
  const prob: Float32Array[] = [], backoff: Float32Array[] = [];
  const tables: OrderTable[] = [undefined as unknown as OrderTable];
  for (let k = 1; k <= N; k++) {
    prob.push(f32(counts[k - 1]));
    backoff.push(f32(counts[k - 1]));
    at = _align(at);
    if (k < 2) continue;
    const ctx = IntVec.of(i32(counts[k - 1])), word = IntVec.of(i32(counts[k - 1]));
    const s = slots[k - 1];
    const index = PairIndex.fromArrays(i32(s), i32(s), i32(s), sizes[k - 1]);
    tables.push({ ctx, word, index });
    at = _align(at);
  }
  return new NgramModel(N, vocab, tables, prob, backoff);
}
