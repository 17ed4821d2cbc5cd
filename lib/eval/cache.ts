/**
 * The request cache: every answered model request is appended to a JSONL file as soon as its batch
 * returns, so an interrupted evaluation resumes where it stopped. Identical requests share one
 * entry (de-duplication within and across tasks).
 *
 * @module
 */

/** A persistent map from request keys to results. */
export class RequestCache {
  #map = new Map<string, unknown>();
  #file?: Deno.FsFile;
  #enc = new TextEncoder();
  /** Entries loaded from disk at open. */
  loaded = 0;

  private constructor(readonly path?: string) {}

  /** Opens (or creates) a cache file; `undefined` keeps the cache in memory only. */
  static async open(path?: string): Promise<RequestCache> {
    const c = new RequestCache(path);
    if (path) {
      try {
        const text = await Deno.readTextFile(path);
        for (const line of text.split("\n")) {
          if (!line.trim()) continue;
          try {
            const { k, v } = JSON.parse(line);
            c.#map.set(k, v);
          } catch { /* a line cut by a kill: recomputed */ }
        }
        c.loaded = c.#map.size;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      c.#file = await Deno.open(path, { append: true, create: true });
    }
    return c;
  }

  /** The key of a request. */
  static key(model: string, kind: string, args: unknown): string {
    return JSON.stringify([model, kind, args]);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  get<T>(key: string): T {
    return this.#map.get(key) as T;
  }

  /** Stores results and appends them to the file in one write. */
  putMany(entries: [string, unknown][]): void {
    let lines = "";
    for (const [k, v] of entries) {
      this.#map.set(k, v);
      lines += JSON.stringify({ k, v }) + "\n";
    }
    this.#file?.writeSync(this.#enc.encode(lines));
  }

  get size(): number {
    return this.#map.size;
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}
