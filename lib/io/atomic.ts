/**
 * Atomic file writes: data goes to a temporary file beside the target, is flushed to disk, and is
 * renamed over the target. A kill at any moment leaves either the old file or the new one, never a
 * half-written file that later reads as valid. The temporary file is created new (never opened
 * through a link planted at its name) and the rename replaces a link at the target, not its target.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { UserError } from "./errors.ts";

/** Temporary files of this process not yet committed or aborted. */
const _openTemps = new Set<string>();

/**
 * Deletes every temporary file this process still has open: called on the way out of a failed
 * task (a full disk, a bad input), so nothing half-written stays behind.
 */
export function removeOpenTempFiles(): void {
  for (const tmp of _openTemps) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
  }
  _openTemps.clear();
}

/** Creates the temporary file `tmp` for `path`; a missing folder is a one-line error. */
async function _createTemp(tmp: string, path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(tmp, { write: true, createNew: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: its folder ${dirname(path)} does not exist (create it first)`);
    }
    throw err;
  }
}

/** The name {@linkcode tempPathFor} gives: `.<name>.<pid>.<random>.tmp`. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-z]+\.tmp$/;

/** The file a temporary path of {@linkcode tempPathFor} is to become, or undefined for another path. */
export function targetOfTemp(path: string): string | undefined {
  const m = TEMP_NAME.exec(basename(path));
  return m ? join(dirname(path), m[1]) : undefined;
}

/**
 * Deletes, under `dir`, the temporary files that killed runs left behind (any but this process's
 * own open ones); call it once a resumed job has finished. Returns how many were removed.
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory) removed += await removeStaleTemps(p);
    else if (e.isFile && TEMP_NAME.test(e.name) && !_openTemps.has(p)) {
      await Deno.remove(p).catch(() => {});
      removed++;
    }
  }
  return removed;
}

/** Returns a temporary path beside `path` (same folder, so the final rename is atomic). */
export function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(path), `.${basename(path)}.${Deno.pid}.${rand}.tmp`);
}

/**
 * Writes `data` to `path` atomically (temp file, fsync, rename).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, "hello");
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await _createTemp(tmp, path);
    try {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Writes `value` as pretty JSON (with a trailing newline) to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * A file written through a temporary path and renamed into place by `commit()`; `abort()` (or a
 * crash) leaves nothing at the target. Use for streamed outputs such as JSONL shards.
 */
export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  #file: Deno.FsFile;
  #done = false;

  private constructor(path: string, tempPath: string, file: Deno.FsFile) {
    this.path = path;
    this.tempPath = tempPath;
    this.#file = file;
  }

  /** Opens a temporary file for `path`. */
  static async open(path: string): Promise<AtomicFile> {
    const tmp = tempPathFor(path);
    const file = await _createTemp(tmp, path);
    _openTemps.add(tmp);
    return new AtomicFile(path, tmp, file);
  }

  /** The writable stream of the temporary file (closing it does not commit). */
  get writable(): WritableStream<Uint8Array> {
    const file = this.#file;
    return new WritableStream({
      async write(chunk) {
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
      },
    });
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
  }

  /** Flushes, closes and renames the temporary file over the target. */
  async commit(): Promise<void> {
    if (this.#done) throw new Error(`${this.path}: already committed or aborted`);
    this.#done = true;
    await this.#file.sync();
    this.#file.close();
    await Deno.rename(this.tempPath, this.path);
    _openTemps.delete(this.tempPath);
  }

  /** Closes and deletes the temporary file; the target is untouched. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      this.#file.close();
    } catch { /* already closed */ }
    await Deno.remove(this.tempPath).catch(() => {});
    _openTemps.delete(this.tempPath);
  }
}
