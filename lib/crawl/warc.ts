/**
 * WARC/1.1 output of the raw responses (ISO 28500): one `warcinfo` record per file, then one
 * `response` record per fetched page, each record its own gzip member (the `.warc.gz` convention
 * that lets readers seek record by record). Every process start opens a new file, so a resumed
 * crawl never appends to a file a kill may have cut short.
 *
 * The body stored is the decoded body Deno's fetch returns, so `Content-Encoding` and
 * `Content-Length` headers are rewritten to match it.
 *
 * @module
 */

import type { FetchResult } from "./fetcher.ts";
import { timestamp } from "../run/run_folder.ts";

const CRLF = "\r\n";

async function _gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function _record(headers: [string, string][], block: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const head = enc.encode(
    "WARC/1.1" + CRLF + headers.map(([k, v]) => `${k}: ${v}`).join(CRLF) + CRLF +
      `Content-Length: ${block.length}` + CRLF + CRLF,
  );
  const tail = enc.encode(CRLF + CRLF);
  const out = new Uint8Array(head.length + block.length + tail.length);
  out.set(head);
  out.set(block, head.length);
  out.set(tail, head.length + block.length);
  return out;
}

/** Builds the HTTP response block (status line, headers, body) of a fetch result. */
export function httpBlock(res: FetchResult): Uint8Array {
  const enc = new TextEncoder();
  const body = res.body ?? new Uint8Array();
  const lines = [`HTTP/1.1 ${res.status} ${res.statusText ?? ""}`.trimEnd()];
  for (const [k, v] of res.headers ?? new Headers()) {
    if (k === "content-encoding" || k === "content-length" || k === "transfer-encoding") continue;
    lines.push(`${k}: ${v}`);
  }
  lines.push(`content-length: ${body.length}`);
  const head = enc.encode(lines.join(CRLF) + CRLF + CRLF);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** Appends gzip-compressed WARC records to `DIR/crawl-<timestamp>.warc.gz`. */
export class WarcWriter {
  readonly path: string;
  #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Opens a new WARC file in `dir` and writes its `warcinfo` record. */
  static async open(dir: string): Promise<WarcWriter> {
    await Deno.mkdir(dir, { recursive: true });
    let path = `${dir}/crawl-${timestamp()}.warc.gz`;
    for (let i = 2; await Deno.stat(path).then(() => true, () => false); i++) {
      path = `${dir}/crawl-${timestamp()}-${i}.warc.gz`;
    }
    const w = new WarcWriter(path, await Deno.open(path, { create: true, append: true }));
    const info = new TextEncoder().encode(
      "software: Jikji crawl\r\nformat: WARC File Format 1.1\r\n",
    );
    await w.#append(_record([
      ["WARC-Type", "warcinfo"],
      ["WARC-Record-ID", `<urn:uuid:${crypto.randomUUID()}>`],
      ["WARC-Date", new Date().toISOString().replace(/\.\d+Z$/, "Z")],
      ["WARC-Filename", path.split("/").pop()!],
      ["Content-Type", "application/warc-fields"],
    ], info));
    return w;
  }

  async #append(record: Uint8Array): Promise<void> {
    const gz = await _gzip(record);
    let off = 0;
    while (off < gz.length) off += this.#file.writeSync(gz.subarray(off));
  }

  /** Appends the `response` record of a fetched page. */
  async write(res: FetchResult, fetchedAt: string): Promise<void> {
    const block = httpBlock(res);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-1", block as Uint8Array<ArrayBuffer>),
    );
    await this.#append(_record([
      ["WARC-Type", "response"],
      ["WARC-Record-ID", `<urn:uuid:${crypto.randomUUID()}>`],
      ["WARC-Date", fetchedAt.replace(/\.\d+Z$/, "Z")],
      ["WARC-Target-URI", res.finalUrl],
      ["WARC-Block-Digest", `sha1:${_base32(digest)}`],
      ["Content-Type", "application/http;msgtype=response"],
    ], block));
  }

  /** Closes the file. */
  close(): Promise<void> {
    this.#file.close();
    return Promise.resolve();
  }
}

function _base32(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
