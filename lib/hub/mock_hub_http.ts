/**
 * Test support: the HTTP plumbing of {@linkcode MockHub} — an HTTP server behind a TCP front that
 * can drop a connection on a request's first bytes, the Hub's error answers, JSON bodies and
 * ranged byte answers.
 *
 * Not used by product code.
 *
 * @module
 */

import { createHash } from "node:crypto";

const dec = new TextDecoder();

/** A refusal, answered with the Hub's JSON body, `X-Error-Message` and `X-Error-Code`. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }

  /** The answer the Hub gives for this refusal. */
  response(): Response {
    const headers: Record<string, string> = { "x-error-message": this.message };
    if (this.code) headers["x-error-code"] = this.code;
    return json({ error: this.message }, this.status, headers);
  }
}

/** An HTTP server on 127.0.0.1 behind a TCP front that drops the requests `drop` picks. */
export class FaultFront {
  readonly port: number;
  #server: Deno.HttpServer;
  #front: Deno.Listener;
  #conns = new Set<Deno.Conn>();

  /** `drop` sees the first bytes of each request (`PUT /path …`); true closes the connection. */
  constructor(handler: (req: Request) => Promise<Response>, drop: (head: string) => boolean) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    const back = (this.#server.addr as Deno.NetAddr).port;
    const front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#front = front;
    this.port = (front.addr as Deno.NetAddr).port;
    (async () => {
      for await (const conn of front) this.#proxy(conn, back, drop);
    })().catch(() => {});
  }

  /** Stops the front and the server (after answers in progress end). */
  async close(): Promise<void> {
    this.#front.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#server.shutdown();
  }

  async #proxy(client: Deno.Conn, port: number, drop: (head: string) => boolean): Promise<void> {
    this.#conns.add(client);
    let server: Deno.Conn | undefined;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port });
      this.#conns.add(server);
      const up = (async () => {
        const buf = new Uint8Array(64 * 1024);
        for (;;) {
          const n = await client.read(buf);
          if (n === null) break;
          const chunk = buf.subarray(0, n);
          const head = dec.decode(chunk.subarray(0, 64));
          // a chunk that opens a request (a keep-alive connection carries several)
          if (/^(GET|HEAD|POST|PUT|DELETE) \//.test(head) && drop(head)) {
            throw new Error("dropped by fault injection");
          }
          let off = 0;
          while (off < n) off += await server!.write(chunk.subarray(off));
        }
      })();
      const down = (async () => {
        const buf = new Uint8Array(64 * 1024);
        for (;;) {
          const n = await server!.read(buf);
          if (n === null) break;
          let off = 0;
          while (off < n) off += await client.write(buf.subarray(off, n));
        }
      })();
      await Promise.race([up, down]);
    } catch {
      /* dropped */
    } finally {
      for (const c of [client, server]) {
        if (!c) continue;
        try {
          c.close();
        } catch { /* closed */ }
        this.#conns.delete(c);
      }
    }
  }
}

/** A JSON answer. */
export function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A request's JSON object body; 400 otherwise. */
export function parse(body: Uint8Array): Record<string, unknown> {
  try {
    const v = JSON.parse(dec.decode(body));
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* below */ }
  throw new HubError(400, "malformed request: the body must be a JSON object");
}

/** 400 unless `ok`. */
export function need(ok: unknown, what: string): void {
  if (!ok) throw new HubError(400, `malformed request: expected ${what}`);
}

/** Hex SHA-256. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64. */
export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** `bytes` as a GET/HEAD answer, honouring a `Range: bytes=a-[b]` header (206, 416). */
export function serveBytes(
  req: Request,
  bytes: Uint8Array,
  headers: Record<string, string>,
): Response {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.get("range") ?? "");
  const head = req.method === "HEAD";
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
    if (start >= bytes.length) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${bytes.length}` },
      });
    }
    return new Response(head ? null : bytes.slice(start, end + 1) as Uint8Array<ArrayBuffer>, {
      status: 206,
      headers: {
        ...headers,
        "content-range": `bytes ${start}-${end}/${bytes.length}`,
        "content-length": String(end + 1 - start),
      },
    });
  }
  return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, {
    headers: { ...headers, "content-length": String(bytes.length) },
  });
}
