/**
 * Test support: a local stand-in for the Hugging Face Hub on 127.0.0.1 that speaks the Hub's
 * protocol as the official clients (`huggingface_hub` in Python, `@huggingface/hub`) read it:
 *
 * - repos: `POST /api/repos/create` (409 with the Hub's body when it exists), repo info at a
 *   revision, refs, commits, branches and tags; public, private and gated repos, each refusal
 *   with the Hub's status and `X-Error-Code` (`RepoNotFound`, `GatedRepo`, `RevisionNotFound`,
 *   `EntryNotFound`): 401 for no or a bad token, 403 for a token that may not write or has not
 *   been granted a gated repo;
 * - revisions: branches (names may contain "/", sent URL-encoded), tags, full commit ids and
 *   `refs/pr/N`; commit, tree and blob ids are git's own (see mock_hub_git.ts);
 * - tree listings paginated with a `Link` header, with folder entries, recursive or not;
 *   `paths-info`;
 * - uploads: pre-upload answers with per-file `uploadMode` and `oid`, the LFS batch API with
 *   basic and multipart transfers (signed part URLs on a storage origin, part ETags, completion),
 *   NDJSON commits with parent-commit checks (412), pull requests (`create_pr=1`);
 * - downloads: `resolve` with `X-Repo-Commit`, `ETag`, ranges, and for LFS files a 302 to a second
 *   "CDN" origin (another host name, `localhost`) carrying `X-Linked-Size`/`X-Linked-Etag`; the
 *   CDN serves signed URLs only and refuses any request that carries `Authorization`;
 * - `RateLimit`/`RateLimit-Policy` headers on every API answer, and faults to arm: 429s, 5xx,
 *   stalled answers, connections dropped (by a TCP front that closes the socket) and one
 *   corrupted download.
 *
 * Its clock and ids are deterministic, so the same requests give the same answers byte for byte
 * (which lets a recorded exchange be replayed, mock_hub_trace.ts).
 *
 * Not used by product code.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  FaultFront,
  fromBase64,
  HubError,
  json as _json,
  need as _need,
  parse as _parse,
  serveBytes,
  sha256Hex as _sha256,
  toBase64 as _b64,
} from "./mock_hub_http.ts";
import { MockLfs } from "./mock_hub_lfs.ts";
import {
  type HubRepo,
  lfsEntry,
  makeCommit,
  regularEntry,
  type RepoCommit,
  type RepoFileEntry,
  resolveRevision,
} from "./mock_hub_git.ts";

/** One request as the hub saw it. */
export interface LoggedRequest {
  origin: "hub" | "cdn";
  method: string;
  path: string;
  status: number;
  range?: string;
  /** Whether it carried an Authorization header. */
  auth?: boolean;
}

/** One exchange, kept when {@linkcode MockHub.recording} is on. */
export interface RecordedExchange {
  origin: "hub" | "cdn";
  method: string;
  /** Path and query. */
  url: string;
  headers: Record<string, string>;
  /** Request body, base64. */
  body?: string;
  status: number;
  responseHeaders: Record<string, string>;
  /** Response body, base64. */
  responseBody?: string;
}

/** Faults to inject. */
export interface MockFaults {
  /** Answer this many next API requests with 429 and `RateLimit: …;r=0;t=…`. */
  rateLimit?: number;
  /** Seconds until the window resets, sent in `RateLimit` with a 429 (default 1). */
  rateLimitReset?: number;
  /** Also send this Retry-After with the 429s. */
  retryAfter?: string;
  /** Answer this many next API requests with `serverErrorStatus` (default 503). */
  serverErrors?: number;
  serverErrorStatus?: number;
  /** Hold the answer to this many next requests for `stallMs` (default 5 s). */
  stall?: number;
  stallMs?: number;
  /** Drop the connection of this many next LFS uploads (basic PUTs and parts). */
  dropUploads?: number;
  /** Only drop the upload of this multipart part number. */
  dropPart?: number;
  /** Drop the connection of this many next requests to the hub origin. */
  dropRequests?: number;
  /** Corrupt the next download of this path (one byte flipped). */
  corruptDownload?: string;
}

/** Options of {@linkcode MockHub.start}. */
export interface MockHubOptions {
  /** The user the main token belongs to (default "jikji"). */
  user?: string;
  /** Organisations the user may write to. */
  orgs?: string[];
  /** Entries per tree page (default 1000, the Hub's page for unexpanded listings). */
  treePageSize?: number;
  /** LFS objects above this size go multipart when the client offers it (default 5 GiB). */
  singlePartLimit?: number;
  /** Multipart part size (default 64 MiB). */
  partSize?: number;
  /** `RateLimit-Policy` quota and window in seconds (default 1000 per 300 s). */
  rateLimitQuota?: number;
  rateLimitWindow?: number;
}

interface TokenInfo {
  user: string;
  write: boolean;
}

/** The repo's .gitattributes at creation: which paths the Hub stores through LFS. */
export const DEFAULT_GITATTRIBUTES = [
  "*.safetensors",
  "*.bin",
  "*.pt",
  "*.pth",
  "*.ckpt",
  "*.h5",
  "*.onnx",
  "*.gguf",
  "*.model",
  "*.npy",
  "*.npz",
  "*.parquet",
  "*.arrow",
  "*.gz",
  "*.zst",
  "*.zip",
  "*.tar",
  "*tfevents*",
].map((p) => `${p} filter=lfs diff=lfs merge=lfs -text`).join("\n") + "\n";

const REGULAR_LIMIT = 10 * 1024 * 1024; // the Hub refuses regular (non-LFS) files above 10 MB
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The test Hub. Start with {@linkcode MockHub.start}, stop with {@linkcode MockHub.close}. */
export class MockHub {
  readonly token: string;
  readonly requests: LoggedRequest[] = [];
  readonly repos = new Map<string, HubRepo>();
  /** LFS objects and their storage origin. */
  readonly storage: MockLfs;
  /** LFS store: sha256 → bytes. */
  readonly lfs: Map<string, Uint8Array>;
  readonly tokens = new Map<string, TokenInfo>();
  readonly orgs: Map<string, Set<string>> = new Map();
  faults: MockFaults = {};
  /** Keep every exchange in {@linkcode MockHub.recorded}. */
  recording = false;
  readonly recorded: RecordedExchange[] = [];
  /** The hub's address (the API and git endpoints). */
  url = "";
  /** The CDN / storage origin's address (another host name). */
  cdnUrl = "";
  readonly options: Required<MockHubOptions>;
  #fronts: FaultFront[] = [];
  #clock = 1_750_000_000;
  #ids = 0;
  #apiCalls = 0;
  /** Ends each stalled answer's wait (all of them at close). */
  #stalls = new Set<() => void>();

  constructor(token: string, options: MockHubOptions = {}) {
    this.token = token;
    this.options = {
      user: "jikji",
      orgs: [],
      treePageSize: 1000,
      singlePartLimit: 5 * 1024 ** 3,
      partSize: 64 * 1024 ** 2,
      rateLimitQuota: 1000,
      rateLimitWindow: 300,
      ...options,
    };
    this.tokens.set(token, { user: this.options.user, write: true });
    for (const org of this.options.orgs) this.orgs.set(org, new Set([this.options.user]));
    this.storage = new MockLfs({
      hubUrl: () => this.url,
      cdnUrl: () => this.cdnUrl,
      singlePartLimit: this.options.singlePartLimit,
      partSize: this.options.partSize,
    });
    this.lfs = this.storage.objects;
  }

  /** Starts the hub and CDN servers, each behind a fault-injecting TCP front. */
  static async start(token: string, options: MockHubOptions = {}): Promise<MockHub> {
    const hub = new MockHub(token, options);
    for (const origin of ["hub", "cdn"] as const) {
      hub.#fronts.push(
        new FaultFront((req) => hub.#handle(req, origin), (head) => hub.#shouldDrop(head, origin)),
      );
    }
    hub.url = `http://127.0.0.1:${hub.#fronts[0].port}`;
    hub.cdnUrl = `http://localhost:${hub.#fronts[1].port}`;
    return await Promise.resolve(hub);
  }

  /** Stops everything. */
  async close(): Promise<void> {
    for (const wake of this.#stalls) wake();
    await Promise.all(this.#fronts.map((f) => f.close()));
  }

  /** Adds a token for `user`; `write: false` makes a read-only token. */
  addToken(token: string, info: TokenInfo): void {
    this.tokens.set(token, info);
  }

  /**
   * Creates a repo owned by `id`'s namespace directly (for tests of repos Jikji cannot create:
   * others' public, private and gated repos) with `files` in one commit on main.
   */
  seedRepo(
    id: string,
    o: {
      type?: "model" | "dataset";
      private?: boolean;
      gated?: false | "auto" | "manual";
      files?: Record<string, string | Uint8Array>;
    } = {},
  ): HubRepo {
    const repo = this.#createRepo(o.type ?? "model", id, o.private ?? false);
    repo.gated = o.gated ?? false;
    if (o.files) {
      const head = repo.commits.get(repo.branches.get("main")!)!;
      const files = new Map(head.files);
      for (const [path, content] of Object.entries(o.files)) {
        const bytes = typeof content === "string" ? enc.encode(content) : content;
        files.set(path, this.#entryFor(path, bytes, files));
      }
      this.#commit(repo, "main", files, [head.id], "Upload files", "");
    }
    return repo;
  }

  /** The files of a repo at a revision (path → bytes), .gitattributes left out. */
  files(
    repoId: string,
    type: "model" | "dataset" = "model",
    revision = "main",
  ): Map<string, Uint8Array> {
    const repo = this.repos.get(`${type}:${repoId}`);
    const out = new Map<string, Uint8Array>();
    const commit = repo && resolveRevision(repo, revision);
    for (const [p, f] of commit?.files ?? []) {
      if (p !== ".gitattributes") out.set(p, this.#bytesOf(f));
    }
    return out;
  }

  /** The head commit id of a branch. */
  head(repoId: string, type: "model" | "dataset" = "model", branch = "main"): string | undefined {
    return this.repos.get(`${type}:${repoId}`)?.branches.get(branch);
  }

  #shouldDrop(head: string, origin: "hub" | "cdn"): boolean {
    const drop = this.#dropNow(head, origin);
    if (drop) {
      const [method, path] = head.split(" ");
      this.requests.push({ origin, method, path, status: 0 });
    }
    return drop;
  }

  #dropNow(head: string, origin: "hub" | "cdn"): boolean {
    if (origin === "hub" && (this.faults.dropRequests ?? 0) > 0) {
      this.faults.dropRequests!--;
      return true;
    }
    if (origin !== "cdn" || (this.faults.dropUploads ?? 0) <= 0) return false;
    const part = /^PUT \/lfs-part\/[^/]+\/(\d+)/.exec(head);
    const upload = head.startsWith("PUT /lfs-upload/") ||
      (part && (this.faults.dropPart === undefined || Number(part[1]) === this.faults.dropPart));
    if (!upload) return false;
    this.faults.dropUploads!--;
    return true;
  }

  async #handle(req: Request, origin: "hub" | "cdn"): Promise<Response> {
    const url = new URL(req.url);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    let res: Response;
    try {
      if ((this.faults.stall ?? 0) > 0) {
        this.faults.stall!--;
        await new Promise<void>((r) => {
          const wake = () => {
            clearTimeout(t);
            this.#stalls.delete(wake);
            r();
          };
          const t = setTimeout(wake, this.faults.stallMs ?? 5000);
          this.#stalls.add(wake);
        });
      }
      res = origin === "hub"
        ? this.#routeHub(req, url, body ?? new Uint8Array())
        : this.storage.route(req, url, body ?? new Uint8Array(), (oid, bytes) =>
          this.#corrupt(oid, bytes));
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      res = err.response();
    }
    if (origin === "hub") {
      const headers = new Headers(res.headers);
      headers.set("x-request-id", `Root=1-${(++this.#ids).toString(16).padStart(8, "0")}`);
      res = new Response(res.body, { status: res.status, headers });
    }
    this.requests.push({
      origin,
      method: req.method,
      path: url.pathname + url.search,
      status: res.status,
      range: req.headers.get("range") ?? undefined,
      auth: req.headers.has("authorization"),
    });
    if (!this.recording) return res;
    const out = res.body ? new Uint8Array(await res.arrayBuffer()) : undefined;
    const pick = (h: Headers, names: string[]) =>
      Object.fromEntries(names.filter((n) => h.has(n)).map((n) => [n, h.get(n)!]));
    this.recorded.push({
      origin,
      method: req.method,
      url: url.pathname + url.search,
      headers: pick(req.headers, REQUEST_HEADERS),
      body: body?.length ? _b64(body) : undefined,
      status: res.status,
      responseHeaders: pick(res.headers, RESPONSE_HEADERS),
      responseBody: out?.length ? _b64(out) : undefined,
    });
    return new Response(req.method === "HEAD" ? null : out as Uint8Array<ArrayBuffer>, {
      status: res.status,
      headers: res.headers,
    });
  }

  /** The caller: undefined when anonymous; a bad token is refused here. */
  #who(req: Request): TokenInfo | undefined {
    const auth = req.headers.get("authorization");
    if (!auth) return undefined;
    const info = this.tokens.get(auth.replace(/^Bearer /, ""));
    if (!info) throw new HubError(401, "Invalid credentials in Authorization header");
    return info;
  }

  #canWrite(who: TokenInfo | undefined, namespace: string): boolean {
    return !!who && (who.user === namespace || !!this.orgs.get(namespace)?.has(who.user));
  }

  /** The repo if the caller may read it; the Hub's refusal otherwise. */
  #readable(type: string, id: string, who: TokenInfo | undefined): HubRepo {
    const repo = this.repos.get(`${type}:${id}`);
    if (!repo || (repo.private && !this.#canWrite(who, id.split("/")[0]))) {
      // the Hub does not tell a missing repo from a private one
      throw new HubError(who ? 404 : 401, "Repository not found", "RepoNotFound");
    }
    return repo;
  }

  #writable(type: string, id: string, who: TokenInfo | undefined): HubRepo {
    const repo = this.#readable(type, id, who);
    if (!who) throw new HubError(401, "You must be authenticated to write to a repository");
    if (!this.#canWrite(who, id.split("/")[0])) {
      throw new HubError(403, `You don't have the rights to write to ${type}s/${id}`);
    }
    if (!who.write) {
      throw new HubError(403, "Forbidden: you must use a write token to write to a repository");
    }
    return repo;
  }

  #revision(repo: HubRepo, rev: string): RepoCommit {
    const commit = resolveRevision(repo, rev);
    if (!commit) throw new HubError(404, `Invalid rev id: ${rev}`, "RevisionNotFound");
    return commit;
  }

  #rateHeaders(limited = false): Record<string, string> {
    const q = this.options.rateLimitQuota, w = this.options.rateLimitWindow;
    const r = limited ? 0 : Math.max(0, q - (++this.#apiCalls % q));
    const t = limited ? (this.faults.rateLimitReset ?? 1) : w;
    return {
      ratelimit: `"api";r=${r};t=${t}`,
      "ratelimit-policy": `"fixed window";"api";q=${q};w=${w}`,
    };
  }

  #routeHub(req: Request, url: URL, body: Uint8Array): Response {
    const segs = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const isApi = segs[0] === "api" || url.pathname.includes(".git/info/lfs");
    if (isApi && (this.faults.rateLimit ?? 0) > 0) {
      this.faults.rateLimit!--;
      const headers = this.#rateHeaders(true);
      if (this.faults.retryAfter) headers["retry-after"] = this.faults.retryAfter;
      return _json({ error: "You have exceeded our API rate limit." }, 429, headers);
    }
    if (isApi && (this.faults.serverErrors ?? 0) > 0) {
      this.faults.serverErrors!--;
      return _json(
        { error: "Service temporarily unavailable" },
        this.faults.serverErrorStatus ?? 503,
      );
    }
    const res = this.#api(req, url, segs, body);
    if (!isApi) return res;
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(this.#rateHeaders())) headers.set(k, v);
    return new Response(res.body, { status: res.status, headers });
  }

  #api(req: Request, url: URL, segs: string[], body: Uint8Array): Response {
    const m = req.method;
    // multipart completion: signed, no token
    if (segs[0] === "api" && segs[1] === "complete_multipart" && m === "POST") {
      return this.storage.complete(url, body);
    }
    const who = this.#who(req);
    if (segs[0] === "api") {
      if (segs[1] === "repos" && segs[2] === "create" && m === "POST") {
        return this.#create(who, _parse(body));
      }
      if (segs[1] === "whoami-v2" && m === "GET") {
        if (!who) throw new HubError(401, "Invalid credentials in Authorization header");
        return _json({
          type: "user",
          name: who.user,
          orgs: [...this.orgs].filter(([, u]) => u.has(who.user)).map(([name]) => ({ name })),
          auth: { type: "access_token", accessToken: { role: who.write ? "write" : "read" } },
        });
      }
      if (segs[1] === "validate-yaml" && m === "POST") return this.#validateYaml(_parse(body));
      if ((segs[1] === "models" || segs[1] === "datasets") && segs.length >= 4) {
        const type = segs[1].slice(0, -1);
        const id = `${segs[2]}/${segs[3]}`;
        return this.#repoApi(req, url, type, id, segs.slice(4), who, body);
      }
    }
    // git-side endpoints: /{datasets/}OWNER/NAME.git/info/lfs/objects/(batch|verify)
    const [prefix, rest] = segs[0] === "datasets" ? ["dataset", segs.slice(1)] : ["model", segs];
    if (rest[1]?.endsWith(".git") && rest.slice(2, 5).join("/") === "info/lfs/objects") {
      const id = `${rest[0]}/${rest[1].slice(0, -4)}`;
      if (rest[5] === "batch" && m === "POST") return this.#lfsBatch(req, prefix, id, who, body);
      if (rest[5] === "verify" && m === "POST") {
        this.#readable(prefix, id, who);
        const o = _parse(body);
        const stored = this.lfs.get(String(o.oid));
        if (!stored || stored.length !== o.size) {
          throw new HubError(404, `LFS object ${o.oid} not found`);
        }
        return _json({}, 200);
      }
    }
    if (rest[2] === "resolve" && (m === "GET" || m === "HEAD") && rest.length >= 5) {
      return this.#resolve(
        req,
        prefix,
        `${rest[0]}/${rest[1]}`,
        rest[3],
        rest.slice(4).join("/"),
        who,
      );
    }
    throw new HubError(404, `no route for ${m} ${url.pathname}`);
  }

  #createRepo(type: "model" | "dataset", id: string, priv: boolean): HubRepo {
    const repo: HubRepo = {
      type,
      id,
      private: priv,
      gated: false,
      grantedUsers: new Set(),
      branches: new Map(),
      tags: new Map(),
      commits: new Map(),
      prs: 0,
      createdAt: new Date(this.#clock * 1000).toISOString(),
    };
    this.repos.set(`${type}:${id}`, repo);
    const files = new Map([[".gitattributes", regularEntry(enc.encode(DEFAULT_GITATTRIBUTES))]]);
    this.#commit(repo, "main", files, [], "initial commit", "");
    return repo;
  }

  #commit(
    repo: HubRepo,
    branch: string,
    files: Map<string, RepoFileEntry>,
    parents: string[],
    title: string,
    description: string,
  ): RepoCommit {
    const c = makeCommit(files, parents, title, description, ++this.#clock);
    repo.commits.set(c.id, c);
    repo.branches.set(branch, c.id);
    return c;
  }

  #create(who: TokenInfo | undefined, body: Record<string, unknown>): Response {
    if (!who) throw new HubError(401, "You must be authenticated to create a repo");
    const type = body.type ?? "model";
    _need(typeof body.name === "string" && /^[\w.-]+$/.test(body.name), "name");
    _need(type === "model" || type === "dataset", 'type "model" or "dataset"');
    const org = body.organization ?? who.user;
    _need(typeof org === "string", "organization");
    const id = `${org}/${body.name}`;
    if (!this.#canWrite(who, org as string)) {
      throw new HubError(
        403,
        `You don't have the rights to create a ${type} under the namespace "${org}"`,
      );
    }
    if (!who.write) {
      throw new HubError(403, "Forbidden: you must use a write token to create a repo");
    }
    const prefix = type === "dataset" ? "datasets/" : "";
    if (this.repos.has(`${type}:${id}`)) {
      return _json(
        { error: `You already created this ${type} repo`, url: `${this.url}/${prefix}${id}` },
        409,
      );
    }
    const priv = body.private === true || body.visibility === "private";
    this.#createRepo(type as "model" | "dataset", id, priv);
    return _json({ url: `${this.url}/${prefix}${id}`, name: id, id: _hexId(id) });
  }

  #validateYaml(body: Record<string, unknown>): Response {
    _need(typeof body.content === "string", "content");
    const text = body.content as string;
    if (text.startsWith("---") && !/\n---\s*(\n|$)/.test(text.slice(3))) {
      throw new HubError(400, "Invalid metadata in README.md: the YAML front matter is not closed");
    }
    return _json({ errors: [], warnings: [] });
  }

  #repoApi(
    req: Request,
    url: URL,
    type: string,
    id: string,
    rest: string[],
    who: TokenInfo | undefined,
    body: Uint8Array,
  ): Response {
    const m = req.method;
    const [op, rev] = rest;
    if (m === "GET" && (rest.length === 0 || (op === "revision" && rest.length === 2))) {
      const repo = this.#readable(type, id, who);
      return _json(this.#info(repo, this.#revision(repo, rev ?? "main")));
    }
    if (op === "tree" && m === "GET" && rev !== undefined) {
      const repo = this.#readable(type, id, who);
      return this.#tree(url, this.#revision(repo, rev), rest.slice(2).join("/"));
    }
    if (op === "paths-info" && m === "POST" && rev !== undefined) {
      const repo = this.#readable(type, id, who);
      const commit = this.#revision(repo, rev);
      const ct = req.headers.get("content-type") ?? "";
      const paths = ct.includes("json")
        ? (_parse(body).paths as string[])
        : new URLSearchParams(dec.decode(body)).getAll("paths");
      _need(Array.isArray(paths), "paths");
      return _json(paths.flatMap((p) => this.#entry(commit, p.replace(/^\/+|\/+$/g, "")) ?? []));
    }
    if (op === "refs" && m === "GET") {
      const repo = this.#readable(type, id, who);
      const ref = (kind: string) => ([name, c]: [string, string]) => ({
        name,
        ref: `refs/${kind}/${name}`,
        targetCommit: c,
      });
      const branches = [...repo.branches].filter(([b]) => !b.startsWith("refs/pr/"));
      const prs = [...repo.branches].filter(([b]) => b.startsWith("refs/pr/"));
      return _json({
        branches: branches.map(ref("heads")),
        converts: [],
        tags: [...repo.tags].map(ref("tags")),
        ...(url.searchParams.get("include_prs") === "1" && {
          pullRequests: prs.map(([name, c]) => ({
            name: name.slice(5),
            ref: name,
            targetCommit: c,
          })),
        }),
      });
    }
    if (op === "commits" && m === "GET" && rev !== undefined) {
      const repo = this.#readable(type, id, who);
      const out = [];
      for (let c: RepoCommit | undefined = this.#revision(repo, rev); c;) {
        out.push({
          id: c.id,
          title: c.title,
          message: c.message,
          authors: [{ user: this.options.user }],
          date: new Date(c.time * 1000).toISOString(),
        });
        c = c.parents[0] ? repo.commits.get(c.parents[0]) : undefined;
      }
      return _json(out);
    }
    if (op === "branch" && rest.length >= 2) {
      const repo = this.#writable(type, id, who);
      const branch = rest.slice(1).join("/");
      if (m === "DELETE") {
        if (!repo.branches.delete(branch)) {
          throw new HubError(404, `Invalid rev id: ${branch}`, "RevisionNotFound");
        }
        return _json({});
      }
      if (m === "POST") {
        const o = body.length ? _parse(body) : {};
        if (repo.branches.has(branch)) throw new HubError(409, "Reference already exists");
        if (o.emptyBranch) {
          this.#commit(repo, branch, new Map(), [], "empty branch", "");
        } else {
          const from = this.#revision(repo, (o.startingPoint as string | undefined) ?? "main");
          repo.branches.set(branch, from.id);
        }
        return _json({});
      }
    }
    if (op === "tag" && m === "POST" && rev !== undefined) {
      const repo = this.#writable(type, id, who);
      const o = _parse(body);
      _need(typeof o.tag === "string", "tag");
      if (repo.tags.has(o.tag as string)) throw new HubError(409, "Tag already exists");
      repo.tags.set(o.tag as string, this.#revision(repo, rev).id);
      return _json({});
    }
    if (op === "preupload" && m === "POST" && rev !== undefined) {
      const repo = this.#writable(type, id, who);
      const commit = this.#revision(repo, rev);
      const o = _parse(body);
      _need(Array.isArray(o.files), "files[]");
      const files = (o.files as Record<string, unknown>[]).map((f) => {
        _need(
          typeof f.path === "string" && typeof f.size === "number" && typeof f.sample === "string",
          "path, size, sample",
        );
        const sample = fromBase64(f.sample as string);
        const lfs = this.#isLfs(f.path as string, f.size as number, sample, commit.files);
        const existing = commit.files.get(f.path as string);
        return {
          path: f.path,
          uploadMode: lfs ? "lfs" : "regular",
          shouldIgnore: false,
          ...(existing && { oid: existing.lfs?.oid ?? existing.oid }),
        };
      });
      return _json({ files, commitOid: commit.id });
    }
    if (op === "commit" && m === "POST" && rev !== undefined) {
      return this.#commitApi(req, url, this.#writable(type, id, who), rev, body);
    }
    throw new HubError(404, `no route for ${m} ${url.pathname}`);
  }

  #isLfs(path: string, size: number, sample: Uint8Array, files: Map<string, RepoFileEntry>) {
    if (size >= REGULAR_LIMIT || sample.includes(0)) return true;
    const attrs = files.get(".gitattributes");
    const text = attrs?.bytes ? dec.decode(attrs.bytes) : "";
    const name = path.slice(path.lastIndexOf("/") + 1);
    return text.split("\n").some((line) => {
      const [pattern, ...flags] = line.trim().split(/\s+/);
      if (!pattern || !flags.includes("filter=lfs")) return false;
      const re = new RegExp(
        "^" +
          pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".") +
          "$",
      );
      return re.test(pattern.includes("/") ? path : name);
    });
  }

  #info(repo: HubRepo, commit: RepoCommit): Record<string, unknown> {
    const [author] = repo.id.split("/");
    return {
      _id: _hexId(repo.id),
      id: repo.id,
      author,
      sha: commit.id,
      lastModified: new Date(commit.time * 1000).toISOString(),
      createdAt: repo.createdAt,
      private: repo.private,
      gated: repo.gated,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: [],
      siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
    };
  }

  /** The tree-listing entry of a path at a commit (a file or a folder), if any. */
  #entry(commit: RepoCommit, path: string): Record<string, unknown> | undefined {
    const f = commit.files.get(path);
    if (f) {
      return {
        type: "file",
        oid: f.oid,
        size: f.size,
        path,
        ...(f.lfs && { lfs: { oid: f.lfs.oid, size: f.lfs.size, pointerSize: f.lfs.pointerSize } }),
      };
    }
    const tree = path && commit.trees.get(path);
    return tree ? { type: "directory", oid: tree, size: 0, path } : undefined;
  }

  #tree(url: URL, commit: RepoCommit, path: string): Response {
    const recursive = ["true", "1", "True"].includes(url.searchParams.get("recursive") ?? "");
    if (path && !commit.trees.has(path)) {
      throw new HubError(
        404,
        `${path} does not exist on "${url.pathname.split("/")[5]}"`,
        "EntryNotFound",
      );
    }
    const under = path ? path + "/" : "";
    const paths = new Set<string>();
    for (const p of [...commit.files.keys(), ...[...commit.trees.keys()].filter((t) => t)]) {
      if (!p.startsWith(under)) continue;
      const rel = p.slice(under.length);
      if (recursive || !rel.includes("/")) paths.add(p);
    }
    const all = [...paths].sort().map((p) => this.#entry(commit, p)!);
    const size = this.options.treePageSize;
    const start = Number(url.searchParams.get("cursor") ?? "0");
    _need(Number.isInteger(start) && start >= 0, "a cursor from the Link header");
    const page = all.slice(start, start + size);
    const headers: Record<string, string> = {};
    if (start + size < all.length) {
      const next = new URL(url.pathname + url.search, this.url);
      next.searchParams.set("cursor", String(start + size));
      headers.link = `<${next.href}>; rel="next"`;
    }
    return _json(page, 200, headers);
  }

  #commitApi(
    req: Request,
    url: URL,
    repo: HubRepo,
    rev: string,
    body: Uint8Array,
  ): Response {
    _need(
      (req.headers.get("content-type") ?? "").startsWith("application/x-ndjson"),
      "Content-Type application/x-ndjson",
    );
    const lines = dec.decode(body).split("\n").filter((l) => l.trim()).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new HubError(400, "malformed request: each line must be JSON");
      }
    });
    const header = lines[0];
    _need(
      header?.key === "header" && typeof header.value?.summary === "string",
      "a header line first",
    );
    const createPr = url.searchParams.get("create_pr") === "1";
    if (!repo.branches.has(rev) && !(createPr && resolveRevision(repo, rev))) {
      throw new HubError(404, `Invalid rev id: ${rev}`, "RevisionNotFound");
    }
    const base = createPr
      ? resolveRevision(repo, rev)!
      : repo.commits.get(repo.branches.get(rev)!)!;
    const parent = header.value.parentCommit;
    if (parent !== undefined && parent !== null) {
      _need(
        typeof parent === "string" && /^[0-9a-f]{40}$/.test(parent),
        "parentCommit, a commit id",
      );
      if (!repo.commits.has(parent)) {
        throw new HubError(404, `Invalid rev id: ${parent}`, "RevisionNotFound");
      }
      if (!createPr && parent !== base.id) {
        throw new HubError(412, "A commit has happened since. Please refresh and try again.");
      }
    }
    const files = new Map(base.files);
    for (const { key, value } of lines.slice(1)) {
      _need(value && typeof value.path === "string" && value.path.length > 0, `${key}.path`);
      const path = value.path.replace(/^\/+/, "");
      if (path.split("/").some((s: string) => s === ".." || s === "." || s === "")) {
        throw new HubError(400, `Invalid path: ${path}`);
      }
      if (key === "file") {
        _need(
          value.encoding === "base64" && typeof value.content === "string",
          "base64 file content",
        );
        const bytes = fromBase64(value.content);
        if (bytes.length >= REGULAR_LIMIT) {
          throw new HubError(400, `${path} is larger than 10 MB: upload it through LFS`);
        }
        files.set(path, regularEntry(bytes));
      } else if (key === "lfsFile") {
        _need(
          value.algo === "sha256" && /^[0-9a-f]{64}$/.test(value.oid),
          "lfsFile algo sha256, oid",
        );
        const bytes = this.lfs.get(value.oid);
        if (!bytes || bytes.length !== value.size) {
          throw new HubError(422, `LFS object ${value.oid} of ${path} was never uploaded`);
        }
        files.set(path, lfsEntry(value.oid, bytes.length));
      } else if (key === "deletedFile") {
        if (!files.delete(path)) {
          throw new HubError(404, `A file with this name doesn't exist: ${path}`, "EntryNotFound");
        }
      } else if (key === "deletedFolder") {
        const under = path.replace(/\/$/, "") + "/";
        for (const p of [...files.keys()]) if (p.startsWith(under)) files.delete(p);
      } else throw new HubError(400, `malformed request: unknown commit line ${key}`);
    }
    const summary = header.value.summary as string;
    const description = (header.value.description as string | undefined) ?? "";
    const prefix = repo.type === "dataset" ? "datasets/" : "";
    if (createPr) {
      const n = ++repo.prs;
      const c = this.#commit(repo, `refs/pr/${n}`, files, [base.id], summary, description);
      return _json({
        success: true,
        commitOid: c.id,
        commitUrl: `${this.url}/${prefix}${repo.id}/commit/${c.id}`,
        pullRequestUrl: `${this.url}/${prefix}${repo.id}/discussions/${n}`,
        hookOutput: "",
      });
    }
    const c = this.#commit(repo, rev, files, [base.id], summary, description);
    return _json({
      success: true,
      commitOid: c.id,
      commitUrl: `${this.url}/${prefix}${repo.id}/commit/${c.id}`,
      hookOutput: "",
    });
  }

  #lfsBatch(
    req: Request,
    type: string,
    id: string,
    who: TokenInfo | undefined,
    body: Uint8Array,
  ): Response {
    _need(
      (req.headers.get("content-type") ?? "").startsWith("application/vnd.git-lfs+json"),
      "Content-Type application/vnd.git-lfs+json",
    );
    const repo = this.#writable(type, id, who);
    const o = _parse(body);
    _need(o.operation === "upload" && Array.isArray(o.objects), "operation upload, objects[]");
    const transfers = (o.transfers as string[] | undefined) ?? ["basic"];
    _need(transfers.includes("basic"), 'transfers including "basic"');
    const ref = (o.ref as { name?: string } | undefined)?.name;
    if (ref !== undefined && !repo.branches.has(ref) && !resolveRevision(repo, ref)) {
      throw new HubError(404, `Invalid rev id: ${ref}`, "RevisionNotFound");
    }
    const verify = `${this.url}/${
      type === "dataset" ? "datasets/" : ""
    }${id}.git/info/lfs/objects/verify`;
    const answer = this.storage.batch(
      o.objects as { oid: string; size: number }[],
      transfers,
      verify,
    );
    return _json(answer, 200, { "content-type": "application/vnd.git-lfs+json" });
  }

  #resolve(
    req: Request,
    type: string,
    id: string,
    rev: string,
    path: string,
    who: TokenInfo | undefined,
  ): Response {
    const repo = this.#readable(type, id, who);
    if (
      repo.gated &&
      !(who && (this.#canWrite(who, id.split("/")[0]) || repo.grantedUsers.has(who.user)))
    ) {
      throw new HubError(
        who ? 403 : 401,
        `Access to ${type} ${id} is restricted and you are not in the authorized list. Visit ${this.url}/${id} to ask for access.`,
        "GatedRepo",
      );
    }
    const commit = this.#revision(repo, rev);
    const f = commit.files.get(path);
    if (!f) throw new HubError(404, "Entry not found", "EntryNotFound");
    const common = {
      "x-repo-commit": commit.id,
      "accept-ranges": "bytes",
      "content-disposition": `inline; filename="${path.slice(path.lastIndexOf("/") + 1)}"`,
    };
    if (f.lfs) {
      const cdnPath = `/lfs/${f.lfs.oid}`;
      return new Response(null, {
        status: 302,
        headers: {
          ...common,
          location: this.storage.signedUrl(cdnPath),
          etag: `"${f.oid}"`,
          "x-linked-etag": `"${f.lfs.oid}"`,
          "x-linked-size": String(f.size),
        },
      });
    }
    const bytes = req.method === "GET" && this.faults.corruptDownload === path
      ? this.#corrupt("", f.bytes!)
      : f.bytes!;
    return serveBytes(req, bytes, { ...common, etag: `"${f.oid}"` });
  }

  #entryFor(path: string, bytes: Uint8Array, files: Map<string, RepoFileEntry>): RepoFileEntry {
    if (!this.#isLfs(path, bytes.length, bytes.subarray(0, 512), files)) return regularEntry(bytes);
    const sha = _sha256(bytes);
    this.lfs.set(sha, bytes);
    return lfsEntry(sha, bytes.length);
  }

  /** The bytes to serve: one byte flipped when `faults.corruptDownload` names this file. */
  #corrupt(oid: string, bytes: Uint8Array): Uint8Array {
    const path = this.faults.corruptDownload;
    if (path === undefined) return bytes;
    if (oid) {
      const named = [...this.repos.values()].some((r) =>
        [...r.commits.values()].some((c) => c.files.get(path)?.lfs?.oid === oid)
      );
      if (!named) return bytes;
    }
    this.faults.corruptDownload = undefined;
    const out = bytes.slice();
    out[out.length >> 1] ^= 0xff;
    return out;
  }

  #bytesOf(f: RepoFileEntry): Uint8Array {
    return f.bytes ?? this.lfs.get(f.lfs!.oid)!;
  }
}

/** Request headers kept in a recording. */
export const REQUEST_HEADERS = ["authorization", "content-type", "range", "accept"];
/** Response headers kept in a recording. */
export const RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-range",
  "etag",
  "location",
  "link",
  "x-error-code",
  "x-error-message",
  "x-repo-commit",
  "x-linked-etag",
  "x-linked-size",
  "ratelimit",
  "ratelimit-policy",
  "retry-after",
];

function _hexId(id: string): string {
  return createHash("sha1").update(id).digest("hex").slice(0, 24);
}
