/**
 * The one reader and writer of Jikji's document records: JSONL, one object a line with `id`, `text`
 * and a `meta` object, optionally gzip-compressed (by the `.gz` extension). Every data stage reads
 * and writes through this module.
 *
 * @module
 */

import { createGunzip } from "node:zlib";
import { AtomicFile } from "./atomic.ts";
import { UserError } from "./errors.ts";

/** A document record, the unit every data stage reads and writes. */
export interface Doc {
  /** Stable identifier, unique within a dataset. */
  id: string;
  /** The document's text. */
  text: string;
  /** Anything else: source url, language, scores, the reason it was removed, … */
  meta: Record<string, unknown>;
}

/** A line that could not be read as a record, with where it came from. */
export interface BadLine {
  file: string;
  line: number;
  raw: string;
  reason: string;
}

/** Options for the readers. */
export interface ReadOptions {
  /**
   * Called for each malformed line. Without it, the first malformed line throws a
   * {@linkcode UserError} naming `file:line`.
   */
  onBadLine?: (bad: BadLine) => void | Promise<void>;
  /** Skip this many lines first (resume). */
  skipLines?: number;
}

/** What the readers do with lines that are too long or not UTF-8 (set once per task). */
export interface LineLimits {
  /** A line longer than this many bytes is a bad line (its size reported), never decoded. */
  maxLineBytes: number;
  /**
   * `replace`: invalid bytes become U+FFFD and the file's count of such lines is reported on
   * stderr; `reject`: such a line is a bad line (JSONL: it goes to rejects/).
   */
  encodingErrors: "replace" | "reject";
}

/** The default line limits: 16 MiB a line, invalid UTF-8 replaced and counted. */
export const DEFAULT_LINE_LIMITS: Readonly<LineLimits> = {
  maxLineBytes: 16 << 20,
  encodingErrors: "replace",
};

const _limits: LineLimits = { ...DEFAULT_LINE_LIMITS };

/** Sets the line limits of every reader in this process (tasks: `--max-line-bytes`, `--encoding-errors`). */
export function setLineLimits(limits: Partial<LineLimits>): void {
  Object.assign(_limits, limits);
}

/** True when `path` names a gzip file. */
export function isGzipPath(path: string): boolean {
  return path.endsWith(".gz");
}

/**
 * A gunzip transform that reads every member of a multi-member file (`cat a.gz b.gz`), as gzip
 * itself does; the web DecompressionStream stops at the first.
 */
export function gunzipStream(): TransformStream<Uint8Array, Uint8Array> {
  const z = createGunzip();
  let ctrl!: TransformStreamDefaultController<Uint8Array>;
  let failed: Error | undefined;
  z.on("data", (c: Uint8Array) => ctrl.enqueue(new Uint8Array(c)));
  z.on("error", (e: Error) => failed ??= e);
  return new TransformStream({
    start(c) {
      ctrl = c;
    },
    transform(chunk) {
      if (failed) throw failed;
      return new Promise<void>((res, rej) =>
        z.write(chunk, (e) => (e ?? failed) ? rej(e ?? failed) : res())
      );
    },
    flush() {
      if (failed) throw failed;
      return new Promise<void>((res, rej) => {
        z.once("end", () => res());
        z.once("error", rej);
        z.end();
      });
    },
  });
}

/** A raw line: its bytes, or (when over the limit) only its length. */
type RawLine = [number, Uint8Array | number];

async function* _rawLines(path: string): AsyncGenerator<RawLine> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: no such file (check the path)`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(`${path}: a folder, not a file`);
    }
    throw err;
  }
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (isGzipPath(path)) stream = stream.pipeThrough(gunzipStream());
  const max = _limits.maxLineBytes;
  let carry: Uint8Array[] = [];
  let carryLen = 0;
  let lineNo = 0;
  const take = (piece: Uint8Array): RawLine => {
    const len = carryLen + piece.length;
    const out: RawLine = [++lineNo, len > max ? len : _concat(carry, piece)];
    carry = [];
    carryLen = 0;
    return out;
  };
  try {
    for await (const chunk of stream) {
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(10, start)) >= 0) {
        yield take(chunk.subarray(start, nl));
        start = nl + 1;
      }
      const rest = chunk.subarray(start);
      if (carryLen + rest.length <= max) carry.push(rest.slice());
      else carry = [];
      carryLen += rest.length;
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (isGzipPath(path) && !(err instanceof Deno.errors.NotCapable)) {
      throw new UserError(`${path}: corrupt or truncated gzip data after line ${lineNo}`);
    }
    throw err;
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
  if (carryLen > 0) yield take(new Uint8Array(0));
}

function _concat(parts: Uint8Array[], last: Uint8Array): Uint8Array {
  if (parts.length === 0) return last;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, last.length));
  let off = 0;
  for (const p of [...parts, last]) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const _strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const _lenient = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Yields the lines of a text file (gzip by extension, every member), without line terminators,
 * with 1-based line numbers. A trailing empty line is not yielded; a UTF-8 BOM is dropped. A line
 * over the byte limit, or (with `encodingErrors: "reject"`) not valid UTF-8, goes to `onBadLine`
 * or throws a one-line {@linkcode UserError}; with `replace`, the file's count of lines holding
 * invalid UTF-8 is reported on stderr.
 */
export async function* readLines(
  path: string,
  options: Pick<ReadOptions, "onBadLine"> = {},
): AsyncGenerator<[number, string]> {
  let invalid = 0;
  for await (const [lineNo, raw] of _rawLines(path)) {
    if (typeof raw === "number") {
      await _bad(options, {
        file: path,
        line: lineNo,
        raw: "",
        reason:
          `a line of ${raw} bytes, over the limit of ${_limits.maxLineBytes} (--max-line-bytes)`,
      });
      continue;
    }
    let bytes = raw;
    if (lineNo === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      bytes = bytes.subarray(3);
    }
    if (bytes.at(-1) === 13) bytes = bytes.subarray(0, -1);
    let line: string;
    try {
      line = _strict.decode(bytes);
    } catch {
      line = _lenient.decode(bytes);
      if (_limits.encodingErrors === "reject") {
        await _bad(options, {
          file: path,
          line: lineNo,
          raw: line,
          reason: "not valid UTF-8 (--encoding-errors replace reads it with U+FFFD)",
        });
        continue;
      }
      invalid++;
    }
    yield [lineNo, line];
  }
  if (invalid > 0) {
    console.error(
      `warn: ${path}: ${invalid} line(s) not valid UTF-8, read with U+FFFD for the bad bytes ` +
        `(--encoding-errors reject sends them to rejects/)`,
    );
  }
}

/**
 * Yields the JSON objects of a JSONL file with their line numbers. Blank lines are skipped;
 * malformed lines go to `onBadLine` or throw.
 */
export async function* readJsonl(
  path: string,
  options: ReadOptions = {},
): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  const skip = options.skipLines ?? 0;
  const skipping: ReadOptions = {
    onBadLine: (bad) => bad.line <= skip ? undefined : _bad(options, bad),
  };
  for await (const [line, raw] of readLines(path, skipping)) {
    if (line <= skip || raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      await _bad(options, {
        file: path,
        line,
        raw,
        reason: `invalid JSON (${(err as Error).message.split("\n")[0]})`,
      });
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      await _bad(options, { file: path, line, raw, reason: "expected a JSON object" });
      continue;
    }
    yield { line, value: value as Record<string, unknown> };
  }
}

/** Checks a parsed object against the document record shape; returns the reason it fails. */
export function validateDoc(value: Record<string, unknown>): string | undefined {
  if (typeof value.id !== "string" && typeof value.id !== "number") {
    return `field "id": expected a string, got ${_typeName(value.id)}`;
  }
  if (value.id === "") return `field "id": empty (every document needs an identifier)`;
  if (typeof value.text !== "string") {
    return `field "text": expected a string, got ${_typeName(value.text)}`;
  }
  if (
    value.meta !== undefined &&
    (value.meta === null || typeof value.meta !== "object" || Array.isArray(value.meta))
  ) {
    return `field "meta": expected an object, got ${_typeName(value.meta)}`;
  }
  return undefined;
}

/**
 * Yields the documents of one JSONL file (gzip by extension). Numeric ids become strings and a
 * missing `meta` becomes `{}`. Malformed lines go to `onBadLine` or throw a one-line
 * {@linkcode UserError} naming `file:line`.
 *
 * @example
 * ```ts
 * import { readDocs, writeDocs } from "./jsonl.ts";
 * const path = `${await Deno.makeTempDir()}/docs.jsonl.gz`;
 * await writeDocs(path, [{ id: "1", text: "안녕하세요.", meta: {} }]);
 * for await (const doc of readDocs(path)) console.log(doc.text);
 * ```
 */
export async function* readDocs(path: string, options: ReadOptions = {}): AsyncGenerator<Doc> {
  for await (const { line, value } of readJsonl(path, options)) {
    const reason = validateDoc(value);
    if (reason) {
      await _bad(options, { file: path, line, raw: JSON.stringify(value), reason });
      continue;
    }
    yield {
      id: String(value.id),
      text: value.text as string,
      meta: (value.meta as Record<string, unknown> | undefined) ?? {},
    };
  }
}

/** Reads the documents of several files in order (see {@linkcode listDocFiles}). */
export async function* readDocsFrom(
  paths: string[],
  options: ReadOptions = {},
): AsyncGenerator<Doc> {
  for (const path of paths) yield* readDocs(path, options);
}

/**
 * Expands an input — a file, or a folder holding `*.jsonl` / `*.jsonl.gz` files — into a sorted
 * list of JSONL files.
 */
export async function listDocFiles(input: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(input);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${input}: no such file or folder`);
    }
    throw err;
  }
  if (info.isFile) return [input];
  const files: string[] = [];
  for await (const entry of Deno.readDir(input)) {
    if (entry.isFile && /\.jsonl(\.gz)?$/.test(entry.name) && !entry.name.startsWith(".")) {
      files.push(`${input.replace(/\/$/, "")}/${entry.name}`);
    }
  }
  if (files.length === 0) {
    throw new UserError(`${input}: folder holds no .jsonl or .jsonl.gz files`);
  }
  return files.sort();
}

/**
 * Writes JSON lines to a file atomically: nothing appears at `path` until {@linkcode close}
 * succeeds, so a killed run never leaves a truncated shard that reads as complete. Gzip when the
 * path ends in `.gz`.
 */
export class JsonlWriter {
  readonly path: string;
  #file: AtomicFile;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #piped: Promise<void>;
  #encoder = new TextEncoder();
  #pending: string[] = [];
  #pendingChars = 0;
  /** Lines written so far. */
  count = 0;

  private constructor(path: string, file: AtomicFile) {
    this.path = path;
    this.#file = file;
    if (isGzipPath(path)) {
      const gz = new CompressionStream("gzip") as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >;
      this.#piped = gz.readable.pipeTo(file.writable);
      this.#writer = gz.writable.getWriter();
    } else {
      const ts = new TransformStream<Uint8Array, Uint8Array>();
      this.#piped = ts.readable.pipeTo(file.writable);
      this.#writer = ts.writable.getWriter();
    }
    // a failed write (a full disk) surfaces through write() and close(); never as an unhandled
    // rejection of the pipe that ends the process with a stack trace
    this.#piped.catch(() => {});
  }

  /** Opens a writer for `path` (its folder must exist). */
  static async open(path: string): Promise<JsonlWriter> {
    return new JsonlWriter(path, await AtomicFile.open(path));
  }

  /** Appends one value as a JSON line. */
  async write(value: unknown): Promise<void> {
    const line = JSON.stringify(value);
    this.#pending.push(line);
    this.#pendingChars += line.length + 1;
    this.count++;
    if (this.#pendingChars >= 1 << 16) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#encoder.encode(this.#pending.join("\n") + "\n");
    this.#pending = [];
    this.#pendingChars = 0;
    await this.#writer.write(chunk);
  }

  /** Finishes the file and moves it into place. */
  async close(): Promise<void> {
    await this.#flush();
    await this.#writer.close();
    await this.#piped;
    await this.#file.commit();
  }

  /** Drops everything written; the target path is untouched. */
  async abort(): Promise<void> {
    await this.#writer.abort().catch(() => {});
    await this.#piped.catch(() => {});
    await this.#file.abort();
  }
}

/** Writes `docs` to `path` (gzip by extension) atomically; returns how many were written. */
export async function writeDocs(
  path: string,
  docs: Iterable<Doc> | AsyncIterable<Doc>,
): Promise<number> {
  const w = await JsonlWriter.open(path);
  try {
    for await (const doc of docs) await w.write(doc);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.close();
  return w.count;
}

/** Options for {@linkcode ShardedDocWriter}. */
export interface ShardOptions {
  /** Documents per shard before a new one starts (default 100,000). */
  docsPerShard?: number;
  /** Gzip the shards (default true). */
  gzip?: boolean;
  /** Shard file name prefix (default "part"). */
  prefix?: string;
}

/**
 * Writes documents into numbered shards `DIR/PREFIX-00000.jsonl[.gz]`, each committed atomically
 * when full or on {@linkcode close}. Returns the finished shard paths.
 */
export class ShardedDocWriter {
  readonly dir: string;
  readonly shards: string[] = [];
  #opts: Required<ShardOptions>;
  #current?: JsonlWriter;
  #index: number;
  /** Documents written so far. */
  count = 0;

  constructor(dir: string, options: ShardOptions = {}, firstIndex = 0) {
    this.dir = dir;
    this.#opts = { docsPerShard: 100_000, gzip: true, prefix: "part", ...options };
    this.#index = firstIndex;
  }

  /** The path of shard `index`. */
  shardPath(index: number): string {
    const ext = this.#opts.gzip ? ".jsonl.gz" : ".jsonl";
    return `${this.dir}/${this.#opts.prefix}-${String(index).padStart(5, "0")}${ext}`;
  }

  /** Appends one document. */
  async write(doc: Doc): Promise<void> {
    if (!this.#current) {
      await Deno.mkdir(this.dir, { recursive: true });
      this.#current = await JsonlWriter.open(this.shardPath(this.#index));
    }
    await this.#current.write(doc);
    this.count++;
    if (this.#current.count >= this.#opts.docsPerShard) await this.#finishShard();
  }

  async #finishShard(): Promise<void> {
    if (!this.#current) return;
    await this.#current.close();
    this.shards.push(this.#current.path);
    this.#current = undefined;
    this.#index++;
  }

  /** Commits the open shard. */
  async close(): Promise<string[]> {
    await this.#finishShard();
    return this.shards;
  }

  /** Drops the open shard (finished shards stay). */
  async abort(): Promise<void> {
    await this.#current?.abort();
    this.#current = undefined;
  }
}

async function _bad(options: ReadOptions, bad: BadLine): Promise<void> {
  if (options.onBadLine) return await options.onBadLine(bad);
  throw new UserError(`${bad.file}:${bad.line}: ${bad.reason}`);
}

function _typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v === undefined) return "nothing (field missing)";
  return typeof v;
}
