/**
 * The crawl journal: an append-only JSONL file recording, one whole line per event, every URL
 * added to the frontier, every robots.txt and sitemap fetched, every page's outcome (with its
 * document and the new links it contributed) and every output shard committed. A line is written
 * with a single `write` before anything depends on it, so `kill -9` loses at most a torn last line
 * (skipped on replay); replaying the journal restores the seen-set, the frontier, the robots
 * cache, the per-host figures and the documents not yet in a committed shard.
 *
 * @module
 */

import { tempPathFor } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import type { Doc } from "../io/jsonl.ts";
import type { RobotsEntry } from "./robots.ts";

/** A URL waiting in the frontier, with its link depth from a seed. */
export type QueuedUrl = [url: string, depth: number];

/** One journal line. */
export type JournalEvent =
  | { k: "add"; urls: QueuedUrl[] }
  | ({ k: "robots" } & RobotsEntry)
  | { k: "sitemap"; url: string; outcome: string; urls: QueuedUrl[]; sitemaps: string[] }
  | PageEvent
  | { k: "shard"; index: number; docs: number };

/** The outcome of one frontier URL. */
export interface PageEvent {
  k: "page";
  url: string;
  host: string;
  /** "doc" (kept), "skipped" (with reason) or "error" (with reason). */
  result: "doc" | "skipped" | "error";
  reason?: string;
  /** A message for errors (e.g. why extraction failed). */
  detail?: string;
  status: number;
  final_url?: string;
  /** URLs the redirects went through (all marked seen). */
  redirects?: string[];
  bytes: number;
  requests: number;
  fetched_at: string;
  /** The document kept; dropped by {@linkcode JournalWriter.compact} once it is in a shard. */
  doc?: Doc;
  /** Links first discovered on this page, with their depth. */
  links?: QueuedUrl[];
}

/** Appends journal lines to a file, one `write` per line. */
export class JournalWriter {
  readonly path: string;
  #file: Deno.FsFile;
  #enc = new TextEncoder();
  /** Bytes at the start of the file already compacted, and the document pages among them. */
  #doneBytes = 0;
  #doneDocs = 0;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Opens `path` for appending (created when missing). */
  static async open(path: string): Promise<JournalWriter> {
    const file = await Deno.open(path, { append: true, create: true });
    return new JournalWriter(path, file);
  }

  /** Appends one event as a whole line. */
  append(event: JournalEvent): void {
    const bytes = this.#enc.encode(JSON.stringify(event) + "\n");
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
  }

  /**
   * Drops the documents of the first `docsInShards` document pages from the journal (their shards
   * are committed), so the journal does not hold the whole output a second time. The file is
   * rewritten to a temporary file, synced and renamed — synchronously, so no append can slip in
   * between — and a kill leaves either the old or the new journal.
   */
  compact(docsInShards: number): void {
    const bytes = Deno.readFileSync(this.path);
    // the part compacted last time is copied as it is
    const lines = new TextDecoder().decode(bytes.subarray(this.#doneBytes)).split("\n");
    if (lines.at(-1) === "") lines.pop();
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [bytes.subarray(0, this.#doneBytes)];
    let docs = this.#doneDocs;
    let offset = this.#doneBytes;
    let changed = false;
    let doneBytes = this.#doneBytes;
    for (let line of lines) {
      if (docs < docsInShards && line.startsWith('{"k":"page"')) {
        const ev = JSON.parse(line) as PageEvent;
        if (ev.result === "doc") {
          docs++;
          if (ev.doc) {
            delete ev.doc;
            line = JSON.stringify(ev);
            changed = true;
          }
          if (docs === docsInShards) doneBytes = -1;
        }
      }
      const piece = enc.encode(line + "\n");
      parts.push(piece);
      offset += piece.length;
      if (doneBytes === -1) doneBytes = offset; // the prefix ends after the last committed doc
    }
    if (!changed) return;
    const tmp = tempPathFor(this.path);
    const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    for (const part of parts) {
      let off = 0;
      while (off < part.length) off += file.writeSync(part.subarray(off));
    }
    file.syncSync();
    file.close();
    Deno.renameSync(tmp, this.path);
    this.#file.close();
    this.#file = Deno.openSync(this.path, { append: true });
    if (docs >= docsInShards) {
      this.#doneBytes = doneBytes;
      this.#doneDocs = docsInShards;
    }
  }

  /** Flushes to disk. */
  sync(): void {
    this.#file.syncSync();
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* closed */ }
  }
}

/** Reads every whole event of a journal; a torn last line (kill mid-write) is dropped, and the
 * file is cut back to its last whole line so later appends start on a fresh line. */
export async function readJournal(path: string): Promise<JournalEvent[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const lastNl = bytes.lastIndexOf(0x0a);
  if (lastNl + 1 !== bytes.length) await Deno.truncate(path, lastNl + 1);
  const text = new TextDecoder().decode(bytes.subarray(0, lastNl + 1));
  const events: JournalEvent[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (line === "") continue;
    let ev: unknown;
    let why: string | undefined;
    try {
      ev = JSON.parse(line);
      why = _eventProblem(ev);
    } catch {
      why = "not JSON";
    }
    if (why) {
      throw new UserError(
        `${path}:${lineNo}: unreadable journal line (${why}); the journal was edited or damaged: ` +
          `remove that line, or crawl into a new --out folder`,
      );
    }
    events.push(ev as JournalEvent);
  }
  return events;
}

const _isQueued = (u: unknown) =>
  Array.isArray(u) && typeof u[0] === "string" && Number.isSafeInteger(u[1]) && u[1] >= 0;

/** What is wrong with a parsed journal line, or undefined when it has the fields replay uses. */
function _eventProblem(ev: unknown): string | undefined {
  if (ev === null || typeof ev !== "object" || Array.isArray(ev)) return "not an object";
  const e = ev as Record<string, unknown>;
  const urls = (k: string) =>
    Array.isArray(e[k]) && (e[k] as unknown[]).every(_isQueued)
      ? undefined
      : `"${k}" is not a URL list`;
  switch (e.k) {
    case "add":
      return urls("urls");
    case "robots":
      return typeof e.origin === "string" && Number.isFinite(e.status)
        ? undefined
        : "a robots entry without its origin or status";
    case "sitemap":
      if (typeof e.url !== "string") return `"url" is not a string`;
      if (!Array.isArray(e.sitemaps) || e.sitemaps.some((x) => typeof x !== "string")) {
        return `"sitemaps" is not a list of URLs`;
      }
      return urls("urls");
    case "page":
      if (typeof e.url !== "string" || typeof e.host !== "string") return "a page without url/host";
      if (!["doc", "skipped", "error"].includes(e.result as string)) return `bad "result"`;
      if (e.links !== undefined) return urls("links");
      return undefined;
    case "shard":
      return Number.isSafeInteger(e.index) && (e.index as number) >= 0 &&
          Number.isSafeInteger(e.docs)
        ? undefined
        : "a shard without index/docs";
    default:
      return `unknown kind ${JSON.stringify(e.k)?.slice(0, 20)}`;
  }
}
