/**
 * Counting n-grams out of core. Each sentence `<s> w1 … wm </s>` yields, for every position after
 * `<s>`, the n-gram of the model's order ending there — or, near the start, the shorter n-gram
 * beginning at `<s>` (stored left-padded with {@linkcode PAD}), which is how KenLM's lmplz treats
 * sentence starts. Counts accumulate in a hash table; when it holds `maxGramsInMemory` distinct
 * n-grams, they are sorted and written to a run file on disk and the table is emptied. `finish()`
 * merges the sorted runs (k-way) into the unique n-grams with their summed counts.
 *
 * @module
 */

import { BOS, EOS } from "./vocab.ts";

/** Padding of n-grams shorter than the order (they begin at `<s>`). */
export const PAD = -1;

/** Unique n-grams of one order, left-padded, with raw counts. */
export interface GramCounts {
  order: number;
  /** `size × order` word ids, row-major; shorter n-grams are left-padded with {@linkcode PAD}. */
  rows: Int32Array;
  /** Raw count of each row. */
  counts: Float64Array;
  size: number;
  /** How many sorted runs were spilled to disk. */
  runs: number;
  /** Tokens counted (words and `</s>`). */
  tokens: number;
  sentences: number;
}

/** Options of {@linkcode NgramCounter}. */
export interface CountOptions {
  order: number;
  /** Distinct n-grams held in memory before a sorted run is spilled (default 4,000,000). */
  maxGramsInMemory?: number;
  /** Folder for run files (default: a fresh temporary folder). Run files are removed by finish(). */
  tmpDir?: string;
}

class _RowTable {
  readonly n: number;
  rows: Int32Array;
  counts: Float64Array;
  size = 0;
  #slots: Int32Array;
  #mask: number;
  constructor(n: number, capacity: number) {
    this.n = n;
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#slots = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
    this.rows = new Int32Array(Math.max(16, capacity) * n);
    this.counts = new Float64Array(Math.max(16, capacity));
  }
  #hash(src: Int32Array, off: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.n; i++) {
      h = Math.imul(h ^ src[off + i], 0x01000193);
      h ^= h >>> 13;
    }
    return Math.imul(h, 0x5bd1e995) ^ (h >>> 15);
  }
  #equal(row: number, src: Int32Array, off: number): boolean {
    const r = this.rows, base = row * this.n;
    for (let i = 0; i < this.n; i++) if (r[base + i] !== src[off + i]) return false;
    return true;
  }
  add(src: Int32Array, off: number, count: number): void {
    if ((this.size + 1) * 2 > this.#slots.length) this.#grow();
    const slots = this.#slots, mask = this.#mask;
    let i = this.#hash(src, off) & mask;
    while (true) {
      const row = slots[i];
      if (row < 0) break;
      if (this.#equal(row, src, off)) {
        this.counts[row] += count;
        return;
      }
      i = (i + 1) & mask;
    }
    if (this.size === this.counts.length) {
      const c = new Float64Array(this.counts.length * 2);
      c.set(this.counts);
      this.counts = c;
      const r = new Int32Array(this.rows.length * 2);
      r.set(this.rows);
      this.rows = r;
    }
    const row = this.size++;
    this.rows.set(src.subarray(off, off + this.n), row * this.n);
    this.counts[row] = count;
    slots[i] = row;
  }
  #grow(): void {
    const cap = this.#slots.length * 2;
    this.#slots = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
    for (let row = 0; row < this.size; row++) {
      let i = this.#hash(this.rows, row * this.n) & this.#mask;
      while (this.#slots[i] >= 0) i = (i + 1) & this.#mask;
      this.#slots[i] = row;
    }
  }
  /** Row indices in lexicographic order of their ids. */
  sortedOrder(): Uint32Array {
    const n = this.n, r = this.rows;
    const idx = new Uint32Array(this.size);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    return idx.sort((x, y) => {
      const a = x * n, b = y * n;
      for (let k = 0; k < n; k++) {
        const d = r[a + k] - r[b + k];
        if (d !== 0) return d;
      }
      return 0;
    });
  }
}

/** Reads a run file (rows of `order` ids and a count, int32) in chunks. */
class _RunReader {
  #file: Deno.FsFile;
  #buf: Int32Array;
  #bytes: Uint8Array;
  #len = 0;
  #pos = 0;
  readonly width: number;
  done = false;
  constructor(file: Deno.FsFile, width: number, rowsPerChunk = 1 << 15) {
    this.#file = file;
    this.width = width;
    this.#buf = new Int32Array(width * rowsPerChunk);
    this.#bytes = new Uint8Array(this.#buf.buffer);
  }
  /** Offset of the current row in {@linkcode buffer}, after filling as needed. */
  async fill(): Promise<void> {
    if (this.#pos < this.#len) return;
    let got = 0;
    while (got < this.#bytes.length) {
      const n = await this.#file.read(this.#bytes.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got % (this.width * 4) !== 0) throw new Error("n-gram run file truncated");
    this.#len = got / 4;
    this.#pos = 0;
    if (got === 0) {
      this.done = true;
      this.#file.close();
    }
  }
  get buffer(): Int32Array {
    return this.#buf;
  }
  get pos(): number {
    return this.#pos;
  }
  advance(): void {
    this.#pos += this.width;
  }
}

/**
 * Counts the n-grams of sentences given as word ids (without `<s>`/`</s>`), spilling sorted runs to
 * disk when the table is full.
 *
 * @example
 * ```ts
 * import { NgramCounter } from "./count.ts";
 * const c = new NgramCounter({ order: 3 });
 * await c.addSentence([3, 4]);
 * const counts = await c.finish();
 * console.log(counts.size); // 3: "<s> 3", "<s> 3 4", "3 4 </s>"
 * ```
 */
export class NgramCounter {
  readonly order: number;
  #table: _RowTable;
  #max: number;
  #tmpDir?: string;
  #ownTmp = false;
  #runs: string[] = [];
  #window: Int32Array;
  #tokens = 0;
  #sentences = 0;

  constructor(options: CountOptions) {
    if (options.order < 1) throw new Error("order must be ≥ 1");
    this.order = options.order;
    this.#max = options.maxGramsInMemory ?? 4_000_000;
    this.#tmpDir = options.tmpDir;
    this.#table = new _RowTable(this.order, Math.min(this.#max, 1 << 16));
    this.#window = new Int32Array(this.order);
  }

  /** Counts one sentence. */
  async addSentence(ids: ArrayLike<number>): Promise<void> {
    const n = this.order, w = this.#window;
    w.fill(PAD);
    w[n - 1] = BOS;
    for (let i = 0; i <= ids.length; i++) {
      w.copyWithin(0, 1);
      w[n - 1] = i < ids.length ? ids[i] : EOS;
      this.#table.add(w, 0, 1);
      if (this.#table.size >= this.#max) await this.#spill();
    }
    this.#tokens += ids.length + 1;
    this.#sentences++;
  }

  async #spill(): Promise<void> {
    if (!this.#tmpDir) {
      this.#tmpDir = await Deno.makeTempDir({ prefix: "jikji-ngram-" });
      this.#ownTmp = true;
    }
    const t = this.#table, n = this.order, width = n + 1;
    const order = t.sortedOrder();
    const out = new Int32Array(order.length * width);
    for (let i = 0; i < order.length; i++) {
      const row = order[i];
      out.set(t.rows.subarray(row * n, row * n + n), i * width);
      out[i * width + n] = t.counts[row];
    }
    const path = `${this.#tmpDir}/run-${String(this.#runs.length).padStart(5, "0")}.bin`;
    await Deno.writeFile(path, new Uint8Array(out.buffer));
    this.#runs.push(path);
    this.#table = new _RowTable(n, Math.min(this.#max, 1 << 16));
  }

  /** The unique n-grams with counts (merging the runs on disk, if any). */
  async finish(): Promise<GramCounts> {
    const n = this.order;
    const base = { order: n, tokens: this.#tokens, sentences: this.#sentences };
    if (this.#runs.length === 0) {
      const t = this.#table;
      return {
        ...base,
        rows: t.rows.subarray(0, t.size * n),
        counts: t.counts.subarray(0, t.size),
        size: t.size,
        runs: 0,
      };
    }
    if (this.#table.size > 0) await this.#spill();
    const width = n + 1;
    const readers: _RunReader[] = [];
    for (const p of this.#runs) {
      const r = new _RunReader(await Deno.open(p, { read: true }), width);
      await r.fill();
      if (!r.done) readers.push(r);
    }
    let rows = new Int32Array(1 << 16);
    let counts = new Float64Array(1 << 14);
    let size = 0;
    const cmp = (a: _RunReader, b: _RunReader) => {
      const x = a.buffer, y = b.buffer, i = a.pos, j = b.pos;
      for (let k = 0; k < n; k++) {
        const d = x[i + k] - y[j + k];
        if (d !== 0) return d;
      }
      return 0;
    };
    const last = new Int32Array(n);
    while (readers.length > 0) {
      let best = 0;
      for (let r = 1; r < readers.length; r++) if (cmp(readers[r], readers[best]) < 0) best = r;
      const rd = readers[best], buf = rd.buffer, p = rd.pos;
      let same = size > 0;
      for (let k = 0; same && k < n; k++) same = buf[p + k] === last[k];
      if (same) counts[size - 1] += buf[p + n];
      else {
        if ((size + 1) * n > rows.length) {
          const r2 = new Int32Array(rows.length * 2);
          r2.set(rows);
          rows = r2;
        }
        if (size === counts.length) {
          const c2 = new Float64Array(counts.length * 2);
          c2.set(counts);
          counts = c2;
        }
        for (let k = 0; k < n; k++) rows[size * n + k] = last[k] = buf[p + k];
        counts[size++] = buf[p + n];
      }
      rd.advance();
      await rd.fill();
      if (rd.done) readers.splice(best, 1);
    }
    for (const p of this.#runs) await Deno.remove(p).catch(() => {});
    if (this.#ownTmp && this.#tmpDir) await Deno.remove(this.#tmpDir, { recursive: true });
    return {
      ...base,
      rows: rows.subarray(0, size * n),
      counts: counts.subarray(0, size),
      size,
      runs: this.#runs.length,
    };
  }
}
