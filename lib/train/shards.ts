/**
 * Token shards: the binary format `deno task train tokenize` writes and the trainer reads.
 *
 * Layout (all little-endian), self-describing and checked against the file's real size on load:
 *
 *   offset  size  field
 *   0       8     magic "JIKJITOK"
 *   8       4     u32 version (1)
 *   12      4     u32 header bytes (64)
 *   16      8     u64 n_tokens
 *   24      8     u64 n_docs
 *   32      4     u32 vocab_size (every id is < vocab_size)
 *   36      4     i32 eos id appended after each document (-1: none)
 *   40      24    reserved, zero
 *   64      4·n_tokens        u32 token ids, documents back to back
 *   …       8·(n_docs + 1)    u64 document start offsets (in tokens); first 0, last n_tokens
 *
 * File size must equal 64 + 4·n_tokens + 8·(n_docs + 1).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { AtomicFile } from "../io/atomic.ts";

const MAGIC = "JIKJITOK";
export const SHARD_VERSION = 1;
const HEADER = 64;

/** A loaded shard. */
export interface TokenShard {
  path: string;
  tokens: Uint32Array; // (n_tokens)
  docStarts: Float64Array; // (n_docs + 1)
  vocabSize: number;
  eosId: number;
}

/** Streams documents' ids into a shard file; `close()` writes the index and renames it in place. */
export class ShardWriter {
  #file: AtomicFile;
  #starts: number[] = [0];
  #n = 0;
  #buf = new Uint32Array(1 << 16);
  #fill = 0;
  private constructor(file: AtomicFile, readonly vocabSize: number, readonly eosId: number) {
    this.#file = file;
  }

  /** Opens `path` for writing (it appears only on close). */
  static async open(path: string, vocabSize: number, eosId: number | null): Promise<ShardWriter> {
    const f = await AtomicFile.open(path);
    await f.write(new Uint8Array(HEADER)); // placeholder; rewritten on close
    return new ShardWriter(f, vocabSize, eosId ?? -1);
  }

  /** Appends one document's ids (plus the eos id, if any). */
  async addDoc(ids: ArrayLike<number>): Promise<void> {
    const all = this.eosId >= 0 ? [...Array.from(ids), this.eosId] : Array.from(ids);
    for (const id of all) {
      if (!(id >= 0 && id < this.vocabSize)) {
        throw new Error(`token id ${id} ≥ vocab ${this.vocabSize}`);
      }
      this.#buf[this.#fill++] = id;
      if (this.#fill === this.#buf.length) await this.#flush();
    }
    this.#n += all.length;
    this.#starts.push(this.#n);
  }

  async #flush() {
    await this.#file.write(new Uint8Array(this.#buf.buffer, 0, this.#fill * 4));
    this.#fill = 0;
  }

  /** Tokens written so far. */
  get tokenCount(): number {
    return this.#n;
  }

  /** Writes the index and header, syncs and renames the file into place. */
  async close(): Promise<void> {
    await this.#flush();
    const idx = new BigUint64Array(this.#starts.map((s) => BigInt(s)));
    await this.#file.write(new Uint8Array(idx.buffer));
    const f = await Deno.open(this.#file.tempPath, { write: true });
    try {
      await f.seek(0, Deno.SeekMode.Start);
      const h = _header(this.#n, this.#starts.length - 1, this.vocabSize, this.eosId);
      let off = 0;
      while (off < h.length) off += await f.write(h.subarray(off));
    } finally {
      f.close();
    }
    await this.#file.commit();
  }

  /** Deletes the unfinished file. */
  async abort(): Promise<void> {
    await this.#file.abort();
  }
}

function _header(nTokens: number, nDocs: number, vocab: number, eos: number): Uint8Array {
  const h = new Uint8Array(HEADER);
  h.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(h.buffer);
  dv.setUint32(8, SHARD_VERSION, true);
  dv.setUint32(12, HEADER, true);
  dv.setBigUint64(16, BigInt(nTokens), true);
  dv.setBigUint64(24, BigInt(nDocs), true);
  dv.setUint32(32, vocab, true);
  dv.setInt32(36, eos, true);
  return h;
}

/** Parses shard bytes, checking magic, version, sizes against the byte length, and the index. */
export function parseShard(bytes: Uint8Array, path: string): TokenShard {
  const bad = (why: string): never => {
    throw new UserError(
      `${path}: not a valid Jikji token shard: ${why} (re-run \`deno task train tokenize\`)`,
    );
  };
  if (bytes.length < HEADER) bad(`${bytes.length} bytes is shorter than the 64-byte header`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) bad("wrong magic");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SHARD_VERSION) bad(`version ${version}, this Jikji reads ${SHARD_VERSION}`);
  if (dv.getUint32(12, true) !== HEADER) bad("header size is not 64");
  const nTok = dv.getBigUint64(16, true), nDocs = dv.getBigUint64(24, true);
  const want = BigInt(HEADER) + 4n * nTok + 8n * (nDocs + 1n);
  if (want !== BigInt(bytes.length)) {
    bad(
      `header says ${nTok} tokens and ${nDocs} docs (${want} bytes) but the file has ${bytes.length}`,
    );
  }
  const n = Number(nTok), d = Number(nDocs);
  const vocabSize = dv.getUint32(32, true), eosId = dv.getInt32(36, true);
  const copy = bytes.slice(HEADER); // aligned copy
  const tokens = new Uint32Array(copy.buffer, 0, n);
  const idx = new BigUint64Array(copy.buffer.slice(4 * n, 4 * n + 8 * (d + 1)));
  const docStarts = new Float64Array(d + 1);
  for (let i = 0; i <= d; i++) docStarts[i] = Number(idx[i]);
  if (docStarts[0] !== 0 || docStarts[d] !== n) bad("document index does not span the tokens");
  for (let i = 1; i <= d; i++) {
    if (docStarts[i] < docStarts[i - 1]) bad(`document index decreases at ${i}`);
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] >= vocabSize) bad(`token ${i} id ${tokens[i]} ≥ vocab_size ${vocabSize}`);
  }
  return { path, tokens, docStarts, vocabSize, eosId };
}

/** Reads and checks a shard file. */
export async function readShard(path: string): Promise<TokenShard> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: token shard not found`);
    throw err;
  }
  return parseShard(bytes, path);
}
