/**
 * Out-of-core sorting for dedup: records of four u32 words `(key_hi, key_lo, shard, seq)` are
 * buffered, sorted and spilled to disk as runs; {@linkcode mergeRuns} streams the union of many
 * runs in sorted order (a k-way merge), so equal keys — LSH buckets, exact-duplicate groups — come
 * out together however large the corpus is.
 *
 * Run file: a 16-byte header (magic "JKRN", version 1, record count, 0) then the records, 16 bytes
 * each, little-endian; the header is checked against the file's real size when read.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";

const MAGIC = 0x4e524b4a; // "JKRN" little-endian
const VERSION = 1;
const HEADER = 16;

/** Buffers records and spills them as sorted run files `DIR/NAME-00000.run`, …. */
export class RunWriter {
  readonly dir: string;
  readonly name: string;
  readonly paths: string[] = [];
  #buf: Uint32Array;
  #n = 0;
  #max: number;

  /** `maxRecords` records (16 bytes each) are held in memory before a spill. */
  constructor(dir: string, name: string, maxRecords = 1 << 18) {
    this.dir = dir;
    this.name = name;
    this.#max = maxRecords;
    this.#buf = new Uint32Array(4 * Math.min(maxRecords, 1024));
  }

  /** Adds one record. */
  async add(keyHi: number, keyLo: number, shard: number, seq: number): Promise<void> {
    if (4 * (this.#n + 1) > this.#buf.length) {
      if (this.#n >= this.#max) await this.spill();
      else {
        const bigger = new Uint32Array(Math.min(2 * this.#buf.length, 4 * this.#max));
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const o = 4 * this.#n++;
    this.#buf[o] = keyHi;
    this.#buf[o + 1] = keyLo;
    this.#buf[o + 2] = shard;
    this.#buf[o + 3] = seq;
  }

  /** Sorts the buffered records and writes them as one run. */
  async spill(): Promise<void> {
    if (this.#n === 0) return;
    const sorted = sortRecords(this.#buf.subarray(0, 4 * this.#n));
    const bytes = new Uint8Array(HEADER + sorted.byteLength);
    new Uint32Array(bytes.buffer, 0, 4).set([MAGIC, VERSION, this.#n, 0]);
    bytes.set(new Uint8Array(sorted.buffer, sorted.byteOffset, sorted.byteLength), HEADER);
    const path = `${this.dir}/${this.name}-${String(this.paths.length).padStart(5, "0")}.run`;
    await writeFileAtomic(path, bytes);
    this.paths.push(path);
    this.#n = 0;
  }

  /** Spills what is left; returns every run written. */
  async close(): Promise<string[]> {
    await this.spill();
    return this.paths;
  }
}

/** Returns the records (4 words each) sorted by all four words. */
export function sortRecords(recs: Uint32Array): Uint32Array {
  const n = recs.length / 4;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => {
    for (let w = 0; w < 4; w++) {
      const d = recs[4 * a + w] - recs[4 * b + w];
      if (d !== 0) return d;
    }
    return 0;
  });
  const out = new Uint32Array(recs.length);
  for (let i = 0; i < n; i++) out.set(recs.subarray(4 * idx[i], 4 * idx[i] + 4), 4 * i);
  return out;
}

class _Cursor {
  file: Deno.FsFile;
  path: string;
  left: number;
  buf = new Uint32Array(0);
  pos = 0;

  constructor(file: Deno.FsFile, path: string, count: number) {
    this.file = file;
    this.path = path;
    this.left = count;
  }

  /** Makes sure a record is at `pos`; false at the end. */
  async fill(): Promise<boolean> {
    if (this.pos < this.buf.length) return true;
    if (this.left === 0) return false;
    const n = Math.min(this.left, 8192);
    const bytes = new Uint8Array(16 * n);
    let got = 0;
    while (got < bytes.length) {
      const r = await this.file.read(bytes.subarray(got));
      if (r === null) throw new UserError(`${this.path}: run file is truncated (rerun the shard)`);
      got += r;
    }
    this.buf = new Uint32Array(bytes.buffer);
    this.pos = 0;
    this.left -= n;
    return true;
  }
}

/** Opens a run file and checks its header against its size. */
async function _open(path: string): Promise<_Cursor> {
  const file = await Deno.open(path, { read: true });
  const head = new Uint8Array(HEADER);
  const r = await file.read(head);
  const h = new Uint32Array(head.buffer);
  const size = (await file.stat()).size;
  if (r !== HEADER || h[0] !== MAGIC || h[1] !== VERSION || size !== HEADER + 16 * h[2]) {
    file.close();
    throw new UserError(`${path}: not a complete sorted-run file (rerun the shard that wrote it)`);
  }
  return new _Cursor(file, path, h[2]);
}

/**
 * Streams the records of all `paths` in sorted order to `visit(keyHi, keyLo, shard, seq)`.
 */
export async function mergeRuns(
  paths: string[],
  visit: (keyHi: number, keyLo: number, shard: number, seq: number) => void,
): Promise<number> {
  const cursors: _Cursor[] = [];
  try {
    for (const p of paths) {
      const c = await _open(p);
      cursors.push(c);
      if (!(await c.fill())) c.file.close();
    }
    let live = cursors.filter((c) => c.pos < c.buf.length);
    let count = 0;
    while (live.length > 0) {
      let best = live[0];
      for (let i = 1; i < live.length; i++) {
        const c = live[i];
        if (_less(c.buf, c.pos, best.buf, best.pos)) best = c;
      }
      const b = best.buf;
      const o = best.pos;
      visit(b[o], b[o + 1], b[o + 2], b[o + 3]);
      count++;
      best.pos += 4;
      if (!(await best.fill())) live = live.filter((c) => c !== best);
    }
    return count;
  } finally {
    for (const c of cursors) {
      try {
        c.file.close();
      } catch { /* closed */ }
    }
  }
}

function _less(a: Uint32Array, i: number, b: Uint32Array, j: number): boolean {
  for (let w = 0; w < 4; w++) {
    if (a[i + w] !== b[j + w]) return a[i + w] < b[j + w];
  }
  return false;
}
