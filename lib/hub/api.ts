/**
 * The Hub's read API and repo management as Jikji calls them: repo info, paginated tree
 * listings (following the `Link` header), repo and branch creation, and downloads that follow
 * the Hub's redirects to its CDN without sending the token off the Hub's host. Revisions (branch
 * names with "/", tags, commit ids) are URL-encoded as one path segment. A refusal becomes a
 * {@linkcode HubHttpError} carrying the Hub's `X-Error-Code`.
 *
 * @module
 */

import type { HubToken } from "./auth.ts";

/** Where and as whom to call the Hub. */
export interface HubClient {
  endpoint: string;
  token: HubToken | null;
  fetch?: typeof fetch;
}

/** A Hub answer that is not a success. */
export class HubHttpError extends Error {
  constructor(
    readonly status: number,
    /** `X-Error-Code`: RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound… */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
  /** Read by errors.ts like @huggingface/hub's errors. */
  get statusCode(): number {
    return this.status;
  }
}

/** One entry of a tree listing. */
export interface TreeEntry {
  type: "file" | "directory";
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

/** `/{datasets/}OWNER/NAME` as the Hub's URLs name a repo. */
export function repoPath(type: "model" | "dataset", repo: string): string {
  return `${type === "dataset" ? "datasets/" : ""}${repo}`;
}

/** A path inside the repo, each segment encoded. */
function _encPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** The resolve URL of a file at a revision. */
export function resolveUrl(
  endpoint: string,
  type: "model" | "dataset",
  repo: string,
  revision: string,
  path: string,
): string {
  return `${endpoint}/${repoPath(type, repo)}/resolve/${encodeURIComponent(revision)}/${
    _encPath(path)
  }`;
}

function _sameHost(a: string, b: string): boolean {
  return new URL(a).host === new URL(b).host;
}

/** Sends a request to the Hub (the token only to the Hub's own host); throws on a refusal. */
export async function hubRequest(
  c: HubClient,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (c.token && _sameHost(url, c.endpoint)) {
    headers.set("authorization", `Bearer ${c.token.token}`);
  }
  const res = await (c.fetch ?? fetch)(url, { ...init, headers });
  if (res.ok || (init.redirect === "manual" && res.status >= 300 && res.status < 400)) return res;
  throw await errorFrom(res);
}

/** The {@linkcode HubHttpError} of a failed answer (its body consumed). */
export async function errorFrom(res: Response): Promise<HubHttpError> {
  let message = res.headers.get("x-error-message") ?? "";
  const text = await res.text().catch(() => "");
  try {
    message = JSON.parse(text).error || message;
  } catch {
    message = message || text.slice(0, 200);
  }
  return new HubHttpError(
    res.status,
    res.headers.get("x-error-code") ?? undefined,
    message || `HTTP ${res.status}`,
  );
}

/** Repo info at a revision (`sha` is its commit id); undefined when the repo is not found. */
export async function repoInfo(
  c: HubClient,
  type: "model" | "dataset",
  repo: string,
  revision?: string,
): Promise<{ sha: string; private: boolean; gated: unknown } | undefined> {
  const rev = revision === undefined ? "" : `/revision/${encodeURIComponent(revision)}`;
  try {
    const res = await hubRequest(c, `${c.endpoint}/api/${type}s/${repo}${rev}`);
    return await res.json();
  } catch (err) {
    if (err instanceof HubHttpError && err.code === "RepoNotFound") return undefined;
    throw err;
  }
}

/** Every entry under `path` at `revision`, page after page. */
export async function* listTree(
  c: HubClient,
  type: "model" | "dataset",
  repo: string,
  revision: string,
  o: { recursive?: boolean; path?: string } = {},
): AsyncGenerator<TreeEntry> {
  let url: string | undefined = `${c.endpoint}/api/${type}s/${repo}/tree/${
    encodeURIComponent(revision)
  }${o.path ? "/" + _encPath(o.path) : ""}?recursive=${o.recursive ? "true" : "false"}`;
  while (url) {
    const res = await hubRequest(c, url);
    const page = await res.json();
    if (!Array.isArray(page)) {
      throw new HubHttpError(res.status, undefined, "a tree page is not a list");
    }
    yield* page;
    url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
  }
}

/** Creates a repo; false when it existed already. */
export async function createRepo(
  c: HubClient,
  type: "model" | "dataset",
  repo: string,
  isPrivate: boolean,
): Promise<boolean> {
  const [organization, name] = repo.split("/");
  try {
    await hubRequest(c, `${c.endpoint}/api/repos/create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, organization, type, private: isPrivate }),
    });
    return true;
  } catch (err) {
    if (err instanceof HubHttpError && err.status === 409) return false;
    throw err;
  }
}

/** Creates `branch` from `startingPoint` (default main). */
export async function createBranch(
  c: HubClient,
  type: "model" | "dataset",
  repo: string,
  branch: string,
  startingPoint?: string,
): Promise<void> {
  await hubRequest(c, `${c.endpoint}/api/${type}s/${repo}/branch/${encodeURIComponent(branch)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(startingPoint ? { startingPoint } : {}),
  });
}

/**
 * GETs a file, following up to 5 redirects itself: the token goes to the Hub's host only, never
 * to the CDN or storage host a redirect points to (their URLs are signed).
 */
export async function download(
  c: HubClient,
  url: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  let at = url;
  for (let hop = 0; hop <= 5; hop++) {
    const res = await hubRequest(c, at, { headers, redirect: "manual" });
    if (res.status < 300 || res.status >= 400) return res;
    await res.body?.cancel();
    const location = res.headers.get("location");
    if (!location) throw new HubHttpError(res.status, undefined, "a redirect without a Location");
    at = new URL(location, at).href;
  }
  throw new HubHttpError(310, undefined, `more than 5 redirects from ${url}`);
}
