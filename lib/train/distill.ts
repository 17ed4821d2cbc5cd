/**
 * Knowledge distillation for `deno task train distill`: the student learns the teacher's
 * next-token distribution through the model's soft-target head — row loss τ²·KL(q ‖ softmax(z/τ))
 * with q = softmax(teacher logits / τ) — optionally mixed with the cross-entropy of the data:
 * loss = (1 − α)·KD + α·CE. With `topK` > 0 the teacher keeps its k largest logits per token and
 * q is the softmax over those k; these can be cached on disk once and reused every epoch
 * ({@linkcode TopKCache}).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import { loadModel } from "../model/hf_folder.ts";
import { createLlama } from "../model/backend.ts";
import type { Llama } from "../model/llama.ts";
import type { Precision } from "../model/precision.ts";
import type { MicroBatch } from "./engine.ts";

/** Distillation settings. */
export interface DistillConfig {
  temperature: number;
  /** 0: the full distribution; else the teacher's top-k logits per token. */
  topK: number;
  /** α, the weight of the data's cross-entropy (0 = pure distillation). */
  ceWeight: number;
}

/** A window of the training stream: its source and start (for the cache). */
export interface Window {
  source: string;
  start: number;
}

const MAGIC = 0x4b544b4a; // "JKTK" little-endian
const VERSION = 1;
const HEADER = 256;

/**
 * The teacher's top-k logits per training window, in one file per source: a header (magic,
 * version, T, K, the teacher's fingerprint) then fixed-size records at start / T, each a u32
 * "written" flag, (T, K) i32 ids and (T, K) f32 logits. A record is written whole before its flag
 * is set, so a killed run leaves at worst a record that reads as absent.
 */
export class TopKCache {
  readonly #files = new Map<string, Deno.FsFile>();
  hits = 0;
  misses = 0;

  constructor(
    readonly dir: string,
    readonly T: number,
    readonly K: number,
    readonly fingerprint: string,
  ) {}

  get #rec(): number {
    return 4 + this.T * this.K * 8;
  }

  async #file(source: string): Promise<Deno.FsFile> {
    let f = this.#files.get(source);
    if (f) return f;
    await Deno.mkdir(this.dir, { recursive: true });
    const path = `${this.dir}/${source}.topk`;
    f = await Deno.open(path, { read: true, write: true, create: true });
    const st = await f.stat();
    const head = new Uint8Array(HEADER);
    const dv = new DataView(head.buffer);
    if (st.size === 0) {
      dv.setUint32(0, MAGIC, true);
      dv.setUint32(4, VERSION, true);
      dv.setUint32(8, this.T, true);
      dv.setUint32(12, this.K, true);
      const fp = new TextEncoder().encode(this.fingerprint.slice(0, 200));
      dv.setUint32(16, fp.length, true);
      head.set(fp, 20);
      await f.write(head);
    } else {
      await f.seek(0, Deno.SeekMode.Start);
      await _readFull(f, head);
      const fp = new TextDecoder().decode(head.subarray(20, 20 + dv.getUint32(16, true)));
      if (
        dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION ||
        dv.getUint32(8, true) !== this.T || dv.getUint32(12, true) !== this.K ||
        fp !== this.fingerprint.slice(0, 200)
      ) {
        f.close();
        throw new UserError(
          `${path}: a teacher cache made for another teacher, seq_len or top-k; delete it or give another --teacher-cache`,
        );
      }
    }
    this.#files.set(source, f);
    return f;
  }

  /** The cached (ids, logits) of a window, or undefined. */
  async get(w: Window): Promise<{ ids: Int32Array; logits: Float32Array } | undefined> {
    const f = await this.#file(w.source), rec = new Uint8Array(this.#rec);
    const off = HEADER + (w.start / this.T) * this.#rec;
    if (off + rec.length > (await f.stat()).size) {
      this.misses++;
      return undefined;
    }
    await f.seek(off, Deno.SeekMode.Start);
    await _readFull(f, rec);
    if (new DataView(rec.buffer).getUint32(0, true) !== 1) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const n = this.T * this.K;
    return {
      ids: new Int32Array(rec.buffer.slice(4, 4 + n * 4)),
      logits: new Float32Array(rec.buffer.slice(4 + n * 4)),
    };
  }

  /** Stores a window's (T, K) ids and logits. */
  async put(w: Window, ids: Int32Array, logits: Float32Array): Promise<void> {
    const f = await this.#file(w.source), n = this.T * this.K;
    const rec = new Uint8Array(this.#rec);
    rec.set(new Uint8Array(ids.buffer, ids.byteOffset, n * 4), 4);
    rec.set(new Uint8Array(logits.buffer, logits.byteOffset, n * 4), 4 + n * 4);
    const off = HEADER + (w.start / this.T) * this.#rec;
    await f.seek(off, Deno.SeekMode.Start);
    await _writeFull(f, rec);
    await f.seek(off, Deno.SeekMode.Start);
    await _writeFull(f, new Uint8Array([1, 0, 0, 0]));
  }

  /** Closes the files. */
  close(): void {
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
  }
}

async function _readFull(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let o = 0;
  while (o < buf.length) {
    const n = await f.read(buf.subarray(o));
    if (n === null) throw new UserError("teacher cache: truncated file");
    o += n;
  }
}

async function _writeFull(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let o = 0;
  while (o < buf.length) o += await f.write(buf.subarray(o));
}

/** The k largest logits of each row of z (N, V): ids and values, largest first (ties: lower id). */
export function topKLogits(z: Float32Array, N: number, V: number, K: number) {
  const ids = new Int32Array(N * K), logits = new Float32Array(N * K).fill(-Infinity);
  for (let r = 0; r < N; r++) {
    const id = ids.subarray(r * K, (r + 1) * K), top = logits.subarray(r * K, (r + 1) * K);
    let n = 0;
    for (let j = 0; j < V; j++) {
      const x = z[r * V + j];
      if (n === K && !(x > top[K - 1])) continue;
      let i = n < K ? n++ : K - 1; // insertion into the sorted top list
      while (i > 0 && top[i - 1] < x) {
        top[i] = top[i - 1];
        id[i] = id[i - 1];
        i--;
      }
      top[i] = x;
      id[i] = j;
    }
  }
  return { ids, logits };
}

/** softmax(z / τ) of each row of z (N, W), in place order. */
export function softmaxRows(z: Float32Array, N: number, W: number, tau: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let r = 0; r < N; r++) {
    let m = -Infinity, s = 0;
    for (let j = 0; j < W; j++) m = Math.max(m, z[r * W + j] / tau);
    for (let j = 0; j < W; j++) s += out[r * W + j] = Math.exp(z[r * W + j] / tau - m);
    for (let j = 0; j < W; j++) out[r * W + j] /= s;
  }
  return out;
}

/** The teacher side of distillation: soft targets per micro-batch, and the student's step. */
export class Distiller {
  constructor(
    readonly teacher: Llama<unknown>,
    readonly cfg: DistillConfig,
    readonly B: number,
    readonly T: number,
    readonly cache?: TopKCache,
  ) {
    if (!(cfg.temperature > 0)) {
      throw new UserError(`--distill-temperature ${cfg.temperature}: must be > 0`);
    }
    if (!(cfg.ceWeight >= 0 && cfg.ceWeight <= 1)) {
      throw new UserError(`--distill-ce-weight ${cfg.ceWeight}: expected a number in [0, 1]`);
    }
    if (cache && !(cfg.topK > 0)) throw new UserError("--teacher-cache needs --distill-top-k > 0");
  }

  /** The teacher's top-k (or full) logits of the rows of `b`, through the cache when there is one. */
  async teacherLogits(b: MicroBatch, B: number, T: number, windows?: Window[]) {
    const K = this.cfg.topK, V = this.teacher.cfg.vocab_size;
    const rows: { ids?: Int32Array; logits: Float32Array }[] = new Array(B);
    const todo: number[] = [];
    for (let r = 0; r < B; r++) {
      const hit = this.cache && windows ? await this.cache.get(windows[r]) : undefined;
      if (hit) rows[r] = hit;
      else todo.push(r);
    }
    if (todo.length) {
      const tokens = new Int32Array(todo.length * T);
      todo.forEach((r, i) => tokens.set(b.tokens.subarray(r * T, (r + 1) * T), i * T));
      const pass = await this.teacher.forward({ B: todo.length, T, tokens });
      const z = await this.teacher.logits(pass);
      this.teacher.release(pass);
      for (let i = 0; i < todo.length; i++) {
        const zr = z.subarray(i * T * V, (i + 1) * T * V);
        if (K > 0) {
          const t = topKLogits(zr, T, V, K);
          rows[todo[i]] = t;
          if (this.cache && windows) await this.cache.put(windows[todo[i]], t.ids, t.logits);
        } else rows[todo[i]] = { logits: zr.slice() };
      }
    }
    const W = K > 0 ? K : V;
    const logits = new Float32Array(B * T * W);
    const ids = K > 0 ? new Int32Array(B * T * K) : undefined;
    rows.forEach((row, r) => {
      logits.set(row.logits, r * T * W);
      if (ids) ids.set(row.ids!, r * T * K);
    });
    return { ids, logits, W };
  }

  /**
   * Adds the gradients of (1 − α)·KD + α·CE over `batches` (averaged) into `grads`; returns the
   * loss. Rows without a target (< 0) carry no soft term either.
   */
  async accumulate(
    model: Llama<unknown>,
    grads: Map<string, unknown>,
    batches: (MicroBatch & { sources?: string[]; starts?: number[] })[],
  ): Promise<number> {
    const { temperature, topK, ceWeight } = this.cfg, { B, T } = this;
    let loss = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i];
      const windows = b.sources && b.starts
        ? b.sources.map((source, r) => ({ source, start: b.starts![r] }))
        : undefined;
      const t = await this.teacherLogits(b, B, T, windows);
      const probs = softmaxRows(t.logits, B * T, t.W, temperature);
      const N = B * T;
      let count = 0;
      for (let j = 0; j < N; j++) if (b.targets[j] >= 0) count++;
      const ce = new Float32Array(N), kd = new Float32Array(N);
      for (let j = 0; j < N; j++) {
        if (b.targets[j] < 0) continue;
        ce[j] = ceWeight / count;
        kd[j] = (1 - ceWeight) / count;
      }
      const pass = await model.forward({ B, T, tokens: b.tokens, docIds: b.docIds }, {
        grad: true,
      });
      const r = await model.backward(pass, {
        targets: b.targets,
        weights: ce,
        soft: { probs, ids: t.ids, k: topK > 0 ? topK : undefined, weights: kd, temperature },
        scale: 1 / batches.length,
      }, grads);
      loss += r.loss / batches.length;
    }
    return loss;
  }

  /** The teacher cache's hit counts, for the run log. */
  describe(): string {
    const c = this.cache;
    return c ? `top-k cache ${c.dir}: ${c.hits} hits, ${c.misses} misses` : "no cache";
  }

  /** Frees the teacher and closes the cache. */
  close(): void {
    this.teacher.destroy();
    this.cache?.close();
  }
}

/**
 * The distiller of a run's options: the teacher folder loaded on the run's engine (its vocabulary
 * must be the student's), and the top-k cache in `teacher_cache` (default `defaultCacheDir`),
 * fingerprinted by a hash of the teacher's resolved path and weight file size and of the data
 * (sources and held-out fraction, which fix every window's tokens).
 */
export async function openDistiller(
  o: {
    teacher?: string;
    distill_temperature?: number;
    distill_top_k?: number;
    distill_ce_weight?: number;
    teacher_cache?: string;
    data: string[];
    val_fraction: number;
    engine: string;
    batch_size: number;
    seq_len: number;
  },
  student: LlamaConfig,
  precision: Precision,
  defaultCacheDir: string,
): Promise<Distiller> {
  const dir = o.teacher!;
  const { cfg, params } = await loadModel(dir);
  if (cfg.vocab_size !== student.vocab_size) {
    throw new UserError(
      `--teacher ${dir}: vocabulary ${cfg.vocab_size}, the student's is ${student.vocab_size}; both need one tokenizer`,
    );
  }
  const topK = o.distill_top_k ?? 0;
  if (!(Number.isInteger(topK) && topK >= 0 && topK <= cfg.vocab_size)) {
    throw new UserError(`--distill-top-k ${topK}: expected 0 (full) to ${cfg.vocab_size}`);
  }
  const teacher = await createLlama(cfg, params, { device: o.engine, precision });
  let cache: TopKCache | undefined;
  if (topK > 0 && o.teacher_cache !== "off") {
    const real = await Deno.realPath(dir);
    const size = (await Deno.stat(`${real}/model.safetensors`).catch(() => ({ size: 0 }))).size;
    const what = JSON.stringify([real, size, o.data, o.val_fraction]);
    const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(what));
    const hex = Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
    cache = new TopKCache(o.teacher_cache || defaultCacheDir, o.seq_len, topK, hex);
  }
  return new Distiller(
    teacher,
    {
      temperature: o.distill_temperature ?? 1,
      topK,
      ceWeight: o.distill_ce_weight ?? 0,
    },
    o.batch_size,
    o.seq_len,
    cache,
  );
}
