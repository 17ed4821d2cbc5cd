/**
 * Test support: a local stand-in for the Hugging Face Hub on 127.0.0.1, implementing the subset
 * of its HTTP API that `@huggingface/hub` uses for `deno task hub` — repo existence and creation,
 * pre-upload, LFS batch and basic transfers, NDJSON commits, tree listings with oids and LFS
 * hashes, and downloads with ranges — strictly: a request of the wrong shape gets 400, a missing
 * or wrong token 401. Faults can be armed: 429 answers, connections dropped during an LFS upload
 * (by a TCP front that closes the socket), and one corrupted download.
 *
 * Not used by product code.
 *
 * @module
 */

import { hashBytes } from "./hashes.ts";

interface StoredFile {
  bytes: Uint8Array;
  lfs: boolean;
}

interface Repo {
  type: "model" | "dataset";
  id: string;
  private: boolean;
  /** branch → path → file */
  branches: Map<string, Map<string, StoredFile>>;
  commits: number;
}

/** One request as the mock saw it. */
export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  range?: string;
  bytes?: number;
}

/** Faults to inject. */
export interface MockFaults {
  /** Answer this many next API requests with 429 and Retry-After. */
  rateLimit?: number;
  /** Retry-After seconds sent with 429 (default "1"). */
  retryAfter?: string;
  /** Drop the connection of this many next LFS uploads (PUT). */
  dropUploads?: number;
  /** Corrupt the next download of this path (one byte flipped). */
  corruptDownload?: string;
}

const LFS_EXT = /\.(safetensors|bin|pt|gz|zst|parquet|arrow|model|npy)$/;

/** The mock Hub. Start with {@linkcode MockHub.start}, stop with {@linkcode MockHub.close}. */
export class MockHub {
  readonly token: string;
  readonly requests: LoggedRequest[] = [];
  readonly repos = new Map<string, Repo>();
  /** LFS store: sha256 → bytes. */
  readonly lfs = new Map<string, Uint8Array>();
  faults: MockFaults = {};
  url = "";
  #server?: Deno.HttpServer;
  #front?: Deno.Listener;
  #conns = new Set<Deno.Conn>();

  constructor(token: string) {
    this.token = token;
  }

  /** Starts the HTTP server behind a fault-injecting TCP front; `url` is the front's address. */
  static start(token: string): Promise<MockHub> {
    const hub = new MockHub(token);
    hub.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => hub.#handle(req),
    );
    const back = hub.#server.addr as Deno.NetAddr;
    hub.#front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    hub.url = `http://127.0.0.1:${(hub.#front.addr as Deno.NetAddr).port}`;
    (async () => {
      for await (const conn of hub.#front!) hub.#proxy(conn, back.port);
    })().catch(() => {});
    return Promise.resolve(hub);
  }

  /** Stops everything. */
  async close(): Promise<void> {
    this.#front?.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#server?.shutdown();
  }

  /** The files of a repo at a branch (path → bytes). */
  files(
    repoId: string,
    type: "model" | "dataset" = "model",
    branch = "main",
  ): Map<string, Uint8Array> {
    const repo = this.repos.get(`${type}:${repoId}`);
    const out = new Map<string, Uint8Array>();
    for (const [p, f] of repo?.branches.get(branch) ?? []) out.set(p, f.bytes);
    return out;
  }

  async #proxy(client: Deno.Conn, port: number): Promise<void> {
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
          const head = new TextDecoder().decode(chunk.subarray(0, 32));
          if (head.startsWith("PUT /lfs-upload/") && (this.faults.dropUploads ?? 0) > 0) {
            this.faults.dropUploads!--;
            this.requests.push({ method: "PUT", path: head.split(" ")[1], status: 0 });
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

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    let res: Response;
    try {
      res = await this.#route(req, url);
    } catch (err) {
      const status = (err as { status?: number }).status ?? 400;
      res = _json({ error: `mock hub: ${(err as Error).message}` }, status);
    }
    this.requests.push({
      method: req.method,
      path: url.pathname + url.search,
      status: res.status,
      range: req.headers.get("range") ?? undefined,
    });
    return res;
  }

  #authorized(req: Request): boolean {
    return req.headers.get("authorization") === `Bearer ${this.token}`;
  }

  async #route(req: Request, url: URL): Promise<Response> {
    const p = decodeURIComponent(url.pathname);
    const isApi = p.startsWith("/api/") || p.includes(".git/info/lfs");
    if (isApi && (this.faults.rateLimit ?? 0) > 0) {
      this.faults.rateLimit!--;
      return _json({ error: "Too many requests" }, 429, {
        "Retry-After": this.faults.retryAfter ?? "1",
      });
    }
    // LFS storage (pre-signed: no token needed)
    let m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(p);
    if (m && req.method === "PUT") {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const h = hashBytes(bytes);
      if (h.sha256 !== m[1]) return _json({ error: "content does not match oid" }, 400);
      this.lfs.set(m[1], bytes);
      return new Response(null, { status: 200 });
    }
    if (!this.#authorized(req)) {
      return _json({ error: "Invalid credentials in Authorization header" }, 401);
    }

    if (p === "/api/repos/create" && req.method === "POST") {
      const body = await req.json();
      _need(
        typeof body.name === "string" && typeof body.organization === "string",
        "name and organization",
      );
      _need(body.type === "model" || body.type === "dataset", "type model|dataset");
      const id = `${body.organization}/${body.name}`;
      const key = `${body.type}:${id}`;
      if (this.repos.has(key)) return _json({ error: "You already created this repo" }, 409);
      this.repos.set(key, {
        type: body.type,
        id,
        private: body.visibility === "private",
        branches: new Map([["main", new Map()]]),
        commits: 0,
      });
      return _json({ url: `${this.url}/${id}`, name: id });
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)$/.exec(p);
    if (m && req.method === "GET") {
      const repo = this.repos.get(`${m[1].slice(0, -1)}:${m[2]}`);
      return repo
        ? _json({ id: repo.id, private: repo.private })
        : _json({ error: "Repository not found" }, 404);
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/branch\/([^/]+)$/.exec(p);
    if (m && req.method === "POST") {
      const repo = this.#repo(m[1], m[2]);
      if (repo.branches.has(m[3])) return _json({ error: "Branch already exists" }, 409);
      repo.branches.set(m[3], new Map(repo.branches.get("main")));
      return _json({});
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(p);
    if (m && req.method === "POST") {
      this.#repo(m[1], m[2]);
      const body = await req.json();
      _need(Array.isArray(body.files), "files[]");
      return _json({
        files: body.files.map((f: { path: unknown; size: unknown; sample: unknown }) => {
          _need(
            typeof f.path === "string" && typeof f.size === "number" &&
              typeof f.sample === "string",
            "path, size, sample",
          );
          const sample = Uint8Array.from(atob(f.sample as string), (c) => c.charCodeAt(0));
          const lfs = (f.size as number) >= 10 * 1024 * 1024 || LFS_EXT.test(f.path as string) ||
            sample.includes(0);
          return { path: f.path, uploadMode: lfs ? "lfs" : "regular", shouldIgnore: false };
        }),
      });
    }
    m = /^\/(datasets\/)?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(p);
    if (m && req.method === "POST") {
      this.#repo(m[1] ? "datasets" : "models", m[2]);
      _need(
        req.headers.get("content-type") === "application/vnd.git-lfs+json",
        "git-lfs content type",
      );
      const body = await req.json();
      _need(
        body.operation === "upload" && Array.isArray(body.objects),
        "operation upload, objects[]",
      );
      _need(Array.isArray(body.transfers) && body.transfers.includes("basic"), "basic transfer");
      return _json(
        {
          transfer: "basic",
          objects: body.objects.map((o: { oid: string; size: number }) => {
            _need(/^[0-9a-f]{64}$/.test(o.oid) && typeof o.size === "number", "oid, size");
            return this.lfs.has(o.oid) ? { oid: o.oid, size: o.size } : {
              oid: o.oid,
              size: o.size,
              actions: { upload: { href: `${this.url}/lfs-upload/${o.oid}` } },
            };
          }),
        },
        200,
        { "content-type": "application/vnd.git-lfs+json" },
      );
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(p);
    if (m && req.method === "POST") {
      const repo = this.#repo(m[1], m[2]);
      _need(req.headers.get("content-type") === "application/x-ndjson", "x-ndjson content type");
      const lines = (await req.text()).split("\n").filter((l) => l).map((l) => JSON.parse(l));
      _need(
        lines[0]?.key === "header" && typeof lines[0].value.summary === "string",
        "a header line first",
      );
      const branch = new Map(repo.branches.get(m[3]) ?? []);
      for (const { key, value } of lines.slice(1)) {
        if (key === "file") {
          _need(
            value.encoding === "base64" && typeof value.content === "string",
            "base64 file content",
          );
          branch.set(value.path, {
            bytes: Uint8Array.from(atob(value.content), (c) => c.charCodeAt(0)),
            lfs: false,
          });
        } else if (key === "lfsFile") {
          const bytes = this.lfs.get(value.oid);
          if (!bytes) return _json({ error: `LFS object ${value.oid} was never uploaded` }, 422);
          _need(bytes.length === value.size && value.algo === "sha256", "lfs size and algo");
          branch.set(value.path, { bytes, lfs: true });
        } else if (key === "deletedFile") {
          branch.delete(value.path);
        } else throw new Error(`unknown commit line ${key}`);
      }
      repo.branches.set(m[3], branch);
      repo.commits++;
      return _json({
        commitOid: crypto.randomUUID().replaceAll("-", "") + "00000000",
        commitUrl: `${this.url}/${repo.id}`,
      });
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(p);
    if (m && req.method === "GET") {
      const repo = this.#repo(m[1], m[2]);
      const branch = repo.branches.get(m[3]);
      if (!branch) return _json({ error: "Revision not found" }, 404);
      const prefix = m[4] ? m[4] + "/" : "";
      const entries = [...branch].filter(([path]) => path.startsWith(prefix)).sort().map(
        ([path, f]) => {
          const h = hashBytes(f.bytes);
          return f.lfs
            ? {
              type: "file",
              path,
              size: f.bytes.length,
              oid: h.gitOid,
              lfs: { oid: h.sha256, size: f.bytes.length, pointerSize: 130 },
            }
            : { type: "file", path, size: f.bytes.length, oid: h.gitOid };
        },
      );
      return _json(entries);
    }
    m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m && (req.method === "GET" || req.method === "HEAD")) {
      const repo = this.#repo(m[1] ? "datasets" : "models", m[2]);
      const f = repo.branches.get(m[3])?.get(m[4]);
      if (!f) return _json({ error: "Entry not found" }, 404);
      let bytes = f.bytes;
      if (this.faults.corruptDownload === m[4]) {
        this.faults.corruptDownload = undefined;
        bytes = bytes.slice();
        bytes[bytes.length >> 1] ^= 0xff;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
      if (range) {
        const start = Number(range[1]);
        if (start >= bytes.length) return new Response(null, { status: 416 });
        return new Response(bytes.slice(start) as Uint8Array<ArrayBuffer>, {
          status: 206,
          headers: {
            "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
            "content-length": String(bytes.length - start),
          },
        });
      }
      return new Response(req.method === "HEAD" ? null : bytes as Uint8Array<ArrayBuffer>, {
        headers: { "content-length": String(bytes.length) },
      });
    }
    return _json({ error: `mock hub: no route for ${req.method} ${p}` }, 404);
  }

  #repo(types: string, id: string): Repo {
    const repo = this.repos.get(`${types.slice(0, -1)}:${id}`);
    if (!repo) throw Object.assign(new Error("Repository not found"), { status: 404 });
    return repo;
  }
}

function _need(ok: unknown, what: string): void {
  if (!ok) throw new Error(`malformed request: expected ${what}`);
}

function _json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
