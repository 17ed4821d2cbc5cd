/**
 * `deno task hub pull`: downloads a snapshot of a Hub repo. Every file is verified (size, and the
 * LFS SHA-256 or git blob SHA-1 of the tree listing) before it is moved into place, so a
 * half-written or corrupted file never appears at its path; a partial download resumes with an
 * HTTP range; a corrupted one is fetched again. Files already present and intact are skipped.
 *
 * @module
 */

import { dirname } from "node:path";
import { hashFile } from "./hashes.ts";
import { globToRegExp } from "./files.ts";
import { hubError } from "./errors.ts";
import { download, type HubClient, HubHttpError, listTree, repoInfo, resolveUrl } from "./api.ts";
import type { HubToken } from "./auth.ts";
import { UserError } from "../io/errors.ts";

/** Options of {@linkcode pullRepo}. */
export interface PullOptions {
  repo: string;
  type: "model" | "dataset";
  revision?: string;
  /** Globs over repo paths (`*.json`, `**\/*.safetensors`); default all. */
  include?: string[];
  to: string;
  token: HubToken | null;
  endpoint: string;
  fetch?: typeof fetch;
  /** Download attempts per file when verification fails (default 3). */
  attempts?: number;
  onProgress?: (done: number, total: number) => void;
  onLog?: (msg: string) => void;
}

/** What a pull did. */
export interface PullResult {
  downloaded: string[];
  skipped: string[];
  refetched: string[];
  resumed: string[];
  bytes: number;
}

const PARTIAL = ".jikji-partial";

/** Pulls `repo` into `to` (see the module doc). */
export async function pullRepo(o: PullOptions): Promise<PullResult> {
  const revision = o.revision ?? "main";
  const client: HubClient = { endpoint: o.endpoint, token: o.token, fetch: o.fetch };
  const fail = (err: unknown, what: string) =>
    hubError(err, what, o.endpoint, o.token, { repo: o.repo, revision });
  const log = o.onLog ?? (() => {});
  const include = (o.include ?? []).map(globToRegExp);
  const entries: { path: string; size: number; oid: string; lfs?: string }[] = [];
  // one commit for every file, even when the branch moves during the pull
  let commit: string;
  try {
    const info = await repoInfo(client, o.type, o.repo, revision);
    if (!info) throw new HubHttpError(404, "RepoNotFound", "Repository not found");
    commit = info.sha;
    for await (const e of listTree(client, o.type, o.repo, commit, { recursive: true })) {
      if (e.type !== "file") continue;
      if (include.length && !include.some((re) => re.test(e.path))) continue;
      entries.push({ path: e.path, size: e.size, oid: e.oid, lfs: e.lfs?.oid });
    }
  } catch (err) {
    throw fail(err, `listing ${o.repo}@${revision}`);
  }
  if (entries.length === 0) {
    throw new UserError(`${o.repo}@${revision}: no files match ${o.include?.join(", ") ?? "*"}`);
  }
  const total = entries.reduce((s, e) => s + e.size, 0);
  let done = 0;
  const result: PullResult = { downloaded: [], skipped: [], refetched: [], resumed: [], bytes: 0 };
  const intact = async (path: string, e: (typeof entries)[number]) => {
    const h = await hashFile(path);
    return h.size === e.size && (e.lfs ? h.sha256 === e.lfs : h.gitOid === e.oid);
  };
  for (const e of entries) {
    if (e.path.split("/").some((s) => s === ".." || s === "")) {
      throw new UserError(`${o.repo}: refusing the unsafe path "${e.path}"`);
    }
    const target = `${o.to}/${e.path}`;
    if (await Deno.stat(target).then(() => true, () => false) && await intact(target, e)) {
      result.skipped.push(e.path);
      done += e.size;
      o.onProgress?.(done, total);
      continue;
    }
    const part = `${o.to}/${PARTIAL}/${e.path}.part`;
    await Deno.mkdir(dirname(part), { recursive: true });
    const url = resolveUrl(o.endpoint, o.type, o.repo, commit, e.path);
    const attempts = o.attempts ?? 3;
    let ok = false;
    for (let attempt = 1; attempt <= attempts && !ok; attempt++) {
      const have = await Deno.stat(part).then((s) => s.size, () => 0);
      const headers: Record<string, string> = have > 0 && have < e.size
        ? { Range: `bytes=${have}-` }
        : {};
      let res: Response;
      try {
        res = await download(client, url, headers);
      } catch (err) {
        throw fail(err, `downloading ${e.path}`);
      }
      const append = res.status === 206 && have > 0;
      if (append && attempt === 1) result.resumed.push(e.path);
      const file = await Deno.open(part, { write: true, create: true, append, truncate: !append });
      try {
        for await (const chunk of res.body!) {
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
          done += chunk.length;
          result.bytes += chunk.length;
          o.onProgress?.(Math.min(done, total), total);
        }
        await file.sync();
      } finally {
        file.close();
      }
      ok = await intact(part, e);
      if (!ok) {
        log(
          `${e.path}: content does not match the Hub's hash (attempt ${attempt}); fetching it again`,
        );
        if (!result.refetched.includes(e.path)) result.refetched.push(e.path);
        await Deno.remove(part);
      }
    }
    if (!ok) {
      throw new UserError(
        `${e.path}: still corrupt after ${attempts} downloads from ${o.endpoint}`,
      );
    }
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.rename(part, target);
    result.downloaded.push(e.path);
  }
  await Deno.remove(`${o.to}/${PARTIAL}`, { recursive: true }).catch(() => {});
  return result;
}
