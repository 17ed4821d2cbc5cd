/**
 * Deduplication, exact then near: documents get a 64-bit content hash and, for MinHash-LSH, one
 * 64-bit key per band of their signature. Each shard writes these keys as sorted runs on disk
 * ({@linkcode DedupSigner}); {@linkcode clusterRuns} merges the runs of all shards, removes every
 * exact copy but the first, joins documents that share a band bucket with union-find, and removes
 * every member of a cluster but the first (lowest shard, then position). Memory holds one byte and
 * one u32 per document (the decision and the union-find parent), never the keys.
 *
 * @module
 */

import { type Doc, readDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { emptyStats, type PipelineStep, type StepContext } from "../pipeline/step.ts";
import {
  bandKeys,
  fmix32,
  fnv1a,
  makePermutations,
  MINHASH_DEFAULTS,
  type MinhashOptions,
  shingleHashes,
} from "./minhash.ts";
import { WasmMinhasher } from "./minhash_wasm.ts";
import { GpuMinhasher } from "./minhash_gpu.ts";
import { WasmPool } from "./minhash_pool.ts";
import { mergeRuns, RunWriter } from "./sorted_runs.ts";

/** Where signatures are computed. */
export type DedupDevice = "auto" | "cpu" | "gpu";

/** What to deduplicate and how. */
export interface DedupOptions {
  exact: boolean;
  /** MinHash-LSH settings; null for exact dedup only. */
  minhash: MinhashOptions | null;
  device: DedupDevice;
  /** Documents per GPU batch. */
  batch_docs?: number;
  /** Records per band held in memory before a sorted run is spilled. */
  run_records?: number;
  /** CPU worker threads for signatures (default 1: the WebAssembly loop in this thread). */
  threads?: number;
  /**
   * When > 0, a pair of bucket mates is joined only if their signatures agree on at least this
   * share of permutations (the MinHash estimate of Jaccard); signatures are then kept on disk
   * (`signatures.bin`, 4·bands·rows bytes per document) and read back by position at merge time.
   * 0 (default, as datatrove): every bucket mate is joined.
   */
  verify?: number;
}

/** Decision codes of {@linkcode clusterRuns}. */
export const KEEP = 0;
export const EXACT_DUPLICATE = 1;
export const NEAR_DUPLICATE = 2;
/** The removal reason of each code. */
export const DEDUP_REASONS = ["", "exact_duplicate", "near_duplicate"];

/** A 64-bit content hash (two independent 32-bit hashes) of `text`. */
export function contentHash(text: string): [number, number] {
  let h = 0x1b873593 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return [fnv1a(text), fmix32(h >>> 0)];
}

interface _Index {
  version: 1;
  shard: number;
  count: number;
  exact: boolean;
  minhash: MinhashOptions | null;
  backend: string;
  verify: number;
  exact_runs: string[];
  band_runs: string[][];
}

/** Stage 1 of dedup for one shard: writes its content hashes and band keys as sorted runs. */
export class DedupSigner {
  #ids = "";
  readonly dir: string;
  readonly shard: number;
  readonly options: DedupOptions;
  /** "gpu", "cpu-wasm", "cpu-wasm×N" (N workers) or "none". */
  readonly backend: string;
  count = 0;
  #exact?: RunWriter;
  #bands: RunWriter[] = [];
  #wasm?: WasmMinhasher;
  #batcher?: GpuMinhasher | WasmPool;
  #pending: { seq: number; shingles: Uint32Array }[] = [];
  #sigFile?: _SignatureFile;

  private constructor(
    dir: string,
    shard: number,
    options: DedupOptions,
    backend: string,
    wasm?: WasmMinhasher,
    batcher?: GpuMinhasher | WasmPool,
  ) {
    this.dir = dir;
    this.shard = shard;
    this.options = options;
    this.backend = backend;
    this.#wasm = wasm;
    this.#batcher = batcher;
    const recs = options.run_records ?? 1 << 18;
    if (options.exact) this.#exact = new RunWriter(dir, "exact", recs);
    for (let b = 0; b < (options.minhash?.bands ?? 0); b++) {
      this.#bands.push(new RunWriter(dir, `band${String(b).padStart(2, "0")}`, recs));
    }
    if (options.minhash && (options.verify ?? 0) > 0) {
      this.#sigFile = new _SignatureFile(
        `${dir}/signatures.bin`,
        options.minhash.bands * options.minhash.rows,
      );
    }
  }

  /** Opens a signer writing into `dir` (created; old runs there are replaced). */
  static async open(dir: string, shard: number, options: DedupOptions): Promise<DedupSigner> {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    const mh = options.minhash;
    if (!mh) return new DedupSigner(dir, shard, options, "none");
    const perms = makePermutations(mh.bands * mh.rows, mh.seed);
    if (options.device !== "cpu") {
      try {
        const gpu = await GpuMinhasher.create(perms);
        return new DedupSigner(dir, shard, options, "gpu", undefined, gpu);
      } catch (err) {
        if (options.device === "gpu") {
          throw new UserError(
            `device: gpu was asked for but WebGPU is not available (${
              (err as Error).message
            }); use device: cpu or auto`,
          );
        }
      }
    }
    const threads = options.threads ?? 1;
    if (threads > 1) {
      const pool = new WasmPool(perms, threads);
      return new DedupSigner(dir, shard, options, `cpu-wasm×${threads}`, undefined, pool);
    }
    return new DedupSigner(dir, shard, options, "cpu-wasm", new WasmMinhasher(perms));
  }

  /** Adds the next document of the shard (its position is the order of calls). */
  async add(doc: Doc): Promise<void> {
    const seq = this.count++;
    this.#ids += JSON.stringify(doc.id) + "\n";
    if (this.#ids.length >= 1 << 20) await this.#flushIds();
    if (this.#exact) {
      const [h1, h2] = contentHash(doc.text);
      await this.#exact.add(h1, h2, this.shard, seq);
    }
    const mh = this.options.minhash;
    if (!mh) return;
    const shingles = shingleHashes(doc.text, mh.ngram, mh.shingle);
    if (shingles.length === 0) return; // nothing to compare: never a near duplicate
    if (this.#wasm) {
      await this.#writeBands(seq, this.#wasm.signature(shingles));
      return;
    }
    this.#pending.push({ seq, shingles });
    if (this.#pending.length >= (this.options.batch_docs ?? 2048)) await this.#flushBatch();
  }

  async #flushBatch(): Promise<void> {
    if (this.#pending.length === 0) return;
    const k = this.#batcher!.numPerm;
    const sigs = await this.#batcher!.signatures(this.#pending.map((p) => p.shingles));
    for (let i = 0; i < this.#pending.length; i++) {
      await this.#writeBands(this.#pending[i].seq, sigs.subarray(i * k, (i + 1) * k));
    }
    this.#pending = [];
  }

  async #writeBands(seq: number, sig: Uint32Array): Promise<void> {
    const mh = this.options.minhash!;
    await this.#sigFile?.write(seq, sig);
    const keys = bandKeys(sig, mh.bands, mh.rows);
    for (let b = 0; b < mh.bands; b++) {
      await this.#bands[b].add(keys[2 * b], keys[2 * b + 1], this.shard, seq);
    }
  }

  /** Appends the buffered ids to `ids.jsonl` (one JSON string per document, in order). */
  async #flushIds(): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/ids.jsonl`, this.#ids, { append: true });
    this.#ids = "";
  }

  /** Writes the remaining runs and `index.json` (the shard's completion record). */
  async close(): Promise<void> {
    await this.#flushBatch();
    await this.#flushIds();
    await this.#sigFile?.close(this.count);
    this.#batcher?.close();
    const index: _Index = {
      version: 1,
      shard: this.shard,
      count: this.count,
      exact: this.options.exact,
      minhash: this.options.minhash,
      backend: this.backend,
      verify: this.options.minhash ? this.options.verify ?? 0 : 0,
      exact_runs: (await this.#exact?.close() ?? []).map(_base),
      band_runs: await Promise.all(this.#bands.map(async (w) => (await w.close()).map(_base))),
    };
    await writeJsonAtomic(`${this.dir}/index.json`, index);
  }

  /** Gives up (on an error): stops worker threads, frees GPU buffers; no `index.json` is written. */
  abort(): void {
    this.#batcher?.close();
  }
}

/**
 * Stage 2: merges the runs of every shard folder (in shard order) and returns, per shard, one
 * decision per document (`verifyThreshold` overrides the shards' `verify` setting): {@linkcode KEEP}, {@linkcode EXACT_DUPLICATE}, {@linkcode NEAR_DUPLICATE}.
 */
export async function clusterRuns(
  shardDirs: string[],
  verifyThreshold?: number,
  targets?: Int32Array[],
): Promise<Uint8Array[]> {
  const indexes: _Index[] = [];
  for (const dir of shardDirs) {
    const idx = await Deno.readTextFile(`${dir}/index.json`).then(JSON.parse, () => null) as
      | _Index
      | null;
    if (!idx) {
      throw new UserError(`${dir}/index.json: missing; that shard did not finish (rerun it)`);
    }
    indexes.push(idx);
  }
  const first = indexes[0];
  for (const idx of indexes) {
    if (
      JSON.stringify(idx.minhash) !== JSON.stringify(first.minhash) || idx.exact !== first.exact
    ) {
      throw new UserError(
        `${
          shardDirs[indexes.indexOf(idx)]
        }: written with other dedup settings than shard 0 (rerun all shards with one config)`,
      );
    }
  }
  const offsets = [0];
  for (const idx of indexes) offsets.push(offsets[offsets.length - 1] + idx.count);
  const total = offsets[offsets.length - 1];
  const decision = new Uint8Array(total);
  // the kept document each removed one duplicates (global index; -1 while kept)
  const target = new Int32Array(total).fill(-1);
  const runs = (pick: (i: _Index) => string[]) =>
    indexes.flatMap((idx, s) => pick(idx).map((f) => `${shardDirs[s]}/${f}`));
  if (first.exact) {
    let lastHi = -1;
    let lastLo = -1;
    let first = -1;
    await mergeRuns(runs((i) => i.exact_runs), (hi, lo, shard, seq) => {
      const doc = offsets[shard] + seq;
      if (hi === lastHi && lo === lastLo) {
        decision[doc] = EXACT_DUPLICATE;
        target[doc] = first;
      } else first = doc;
      lastHi = hi;
      lastLo = lo;
    });
  }
  if (first.minhash) {
    const uf = new UnionFind(total);
    const verify = verifyThreshold ?? first.verify ?? 0;
    const k = first.minhash.bands * first.minhash.rows;
    const readers = verify > 0
      ? shardDirs.map((d) => new _SignatureReader(`${d}/signatures.bin`, k))
      : [];
    try {
      for (let b = 0; b < first.minhash.bands; b++) {
        let lastHi = -1;
        let lastLo = -1;
        let head = -1;
        let headSig: Uint32Array | null = null;
        await mergeRuns(runs((i) => i.band_runs[b]), (hi, lo, shard, seq) => {
          const doc = offsets[shard] + seq;
          if (hi !== lastHi || lo !== lastLo) {
            lastHi = hi;
            lastLo = lo;
            head = -1;
          }
          if (decision[doc] === EXACT_DUPLICATE) return;
          if (head < 0) {
            head = doc;
            headSig = verify > 0 ? readers[shard].read(seq).slice() : null;
            return;
          }
          if (uf.find(head) === uf.find(doc)) return;
          if (verify > 0 && agreement(headSig!, readers[shard].read(seq)) < verify) return;
          uf.union(head, doc);
        });
      }
    } finally {
      for (const r of readers) r.close();
    }
    for (let d = 0; d < total; d++) {
      if (decision[d] === KEEP && uf.find(d) !== d) {
        decision[d] = NEAR_DUPLICATE;
        target[d] = uf.find(d);
      } else if (decision[d] === EXACT_DUPLICATE) target[d] = uf.find(target[d]);
    }
  }
  targets?.push(...indexes.map((_, s) => target.slice(offsets[s], offsets[s + 1])));
  return indexes.map((_, s) => decision.slice(offsets[s], offsets[s + 1]));
}

/**
 * The ids of the documents that removed ones duplicate: `targets` as {@linkcode clusterRuns}
 * fills it (global indexes over the shards in order), read from each shard's `ids.jsonl`.
 */
export async function duplicateIds(
  shardDirs: string[],
  targets: Int32Array[],
): Promise<Map<number, string>> {
  const wanted = new Set<number>();
  for (const t of targets) for (const g of t) if (g >= 0) wanted.add(g);
  const out = new Map<number, string>();
  let base = 0;
  for (const dir of shardDirs) {
    const idx = JSON.parse(await Deno.readTextFile(`${dir}/index.json`)) as _Index;
    let need = false;
    for (const g of wanted) if (g >= base && g < base + idx.count) need = true;
    if (need) {
      const lines = (await Deno.readTextFile(`${dir}/ids.jsonl`)).split("\n");
      for (const g of wanted) {
        if (g >= base && g < base + idx.count) out.set(g, JSON.parse(lines[g - base]));
      }
    }
    base += idx.count;
  }
  return out;
}

/** Union-find over 0…n−1 with path halving; the root of a set is its smallest member. */
export class UnionFind {
  readonly parent: Uint32Array;

  constructor(n: number) {
    this.parent = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }

  /** The root (smallest member) of `x`'s set. */
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }

  /** Joins the sets of `a` and `b`. */
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }
}

/**
 * The dedup steps `exact_dedup` and `minhash_dedup` as pipeline steps. Run alone (one process),
 * a step spools its input to `workDir`, signs, clusters and yields the kept documents; the filter
 * runner instead runs the signing per shard and the clustering in its merge step.
 */
export class DedupStep implements PipelineStep {
  readonly name: string;
  readonly options: DedupOptions;
  readonly stats = emptyStats();

  constructor(name: "exact_dedup" | "minhash_dedup", options: DedupOptions) {
    this.name = name;
    this.options = options;
  }

  async *run(docs: AsyncIterable<Doc>, ctx: StepContext): AsyncIterable<Doc> {
    const base = ctx.workDir ?? await Deno.makeTempDir({ prefix: "jikji-dedup-" });
    const dir = `${base}/${this.name}`;
    const signer = await DedupSigner.open(`${dir}/sig`, 0, this.options);
    const spool = `${dir}/spool.jsonl`;
    const file = await Deno.open(spool, { write: true, create: true, truncate: true });
    const enc = new TextEncoder();
    try {
      for await (const doc of docs) {
        this.stats.docs_in++;
        this.stats.chars_in += doc.text.length;
        await file.write(enc.encode(JSON.stringify(doc) + "\n"));
        await signer.add(doc);
      }
    } catch (err) {
      signer.abort();
      throw err;
    } finally {
      file.close();
    }
    await signer.close();
    const targets: Int32Array[] = [];
    const [decisions] = await clusterRuns([`${dir}/sig`], undefined, targets);
    const ids = await duplicateIds([`${dir}/sig`], targets);
    let seq = 0;
    for await (const doc of readDocs(spool)) {
      const t = targets[0][seq];
      const d = decisions[seq++];
      if (d === KEEP) {
        this.stats.docs_out++;
        this.stats.chars_out += doc.text.length;
        yield doc;
      } else {
        const reason = DEDUP_REASONS[d];
        this.stats.removed[reason] = (this.stats.removed[reason] ?? 0) + 1;
        await ctx.onRemoved?.(doc, this.name, reason, { duplicate_of: ids.get(t)! });
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** The default MinHash settings with `over` applied, validated. */
export function minhashOptions(over: Partial<MinhashOptions>): MinhashOptions {
  const d = MINHASH_DEFAULTS;
  const o: MinhashOptions = {
    bands: over.bands ?? d.bands,
    rows: over.rows ?? d.rows,
    ngram: over.ngram ?? d.ngram,
    shingle: over.shingle ?? d.shingle,
    seed: over.seed ?? d.seed,
  };
  if (o.bands * o.rows > 4096) throw new UserError(`minhash: bands × rows must be ≤ 4096`);
  return o;
}

/** Share of positions where two signatures agree: the MinHash estimate of their Jaccard. */
export function agreement(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

const _SIG_MAGIC = 0x47534b4a; // "JKSG"

/** Signatures in document order: header (magic, version 1, count, k), then count × k u32. */
class _SignatureFile {
  readonly path: string;
  readonly k: number;
  #file?: Deno.FsFile;
  #next = 0;
  #buf: Uint32Array;
  #used = 0;

  constructor(path: string, k: number) {
    this.path = path;
    this.k = k;
    this.#buf = new Uint32Array(k * 1024);
  }

  async #open(): Promise<Deno.FsFile> {
    if (!this.#file) {
      this.#file = await Deno.open(`${this.path}.partial`, {
        write: true,
        create: true,
        truncate: true,
      });
      await this.#file.write(new Uint8Array(16)); // header written at close
    }
    return this.#file;
  }

  /** Writes the signature of `seq` (documents in between, without shingles, get all-ones). */
  async write(seq: number, sig: Uint32Array): Promise<void> {
    while (this.#next < seq) await this.#push(null);
    await this.#push(sig);
  }

  async #push(sig: Uint32Array | null): Promise<void> {
    const row = this.#buf.subarray(this.#used * this.k, (this.#used + 1) * this.k);
    if (sig) row.set(sig);
    else row.fill(0xffffffff);
    this.#used++;
    this.#next++;
    if (this.#used * this.k === this.#buf.length) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    const f = await this.#open();
    const part = this.#buf.subarray(0, this.#used * this.k);
    await f.write(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    this.#used = 0;
  }

  /** Pads to `count` documents, writes the header and moves the file into place. */
  async close(count: number): Promise<void> {
    while (this.#next < count) await this.#push(null);
    await this.#flush();
    const f = await this.#open();
    await f.seek(0, Deno.SeekMode.Start);
    await f.write(new Uint8Array(new Uint32Array([_SIG_MAGIC, 1, count, this.k]).buffer));
    await f.syncData();
    f.close();
    await Deno.rename(`${this.path}.partial`, this.path);
  }
}

/** Random access to a signature file by document position. */
class _SignatureReader {
  #file: Deno.FsFile;
  #row: Uint32Array;
  #bytes: Uint8Array;
  #count: number;
  #path: string;

  constructor(path: string, k: number) {
    this.#path = path;
    try {
      this.#file = Deno.openSync(path, { read: true });
    } catch {
      throw new UserError(`${path}: missing (the shard ran without verify; rerun it)`);
    }
    const head = new Uint32Array(4);
    this.#file.readSync(new Uint8Array(head.buffer));
    const size = this.#file.statSync().size;
    if (head[0] !== _SIG_MAGIC || head[1] !== 1 || head[3] !== k || size !== 16 + 4 * k * head[2]) {
      this.#file.close();
      throw new UserError(`${path}: not a complete signature file (rerun the shard)`);
    }
    this.#count = head[2];
    this.#row = new Uint32Array(k);
    this.#bytes = new Uint8Array(this.#row.buffer);
  }

  /** The signature of document `seq` (a view reused by the next call). */
  read(seq: number): Uint32Array {
    if (seq >= this.#count) throw new UserError(`${this.#path}: no document ${seq}`);
    this.#file.seekSync(16 + seq * this.#bytes.length, Deno.SeekMode.Start);
    let got = 0;
    while (got < this.#bytes.length) {
      const r = this.#file.readSync(this.#bytes.subarray(got));
      if (r === null) throw new UserError(`${this.#path}: truncated`);
      got += r;
    }
    return this.#row;
  }

  close(): void {
    this.#file.close();
  }
}

function _base(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}
