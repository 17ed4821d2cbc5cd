/**
 * `deno task hub pull`: downloads a snapshot of a Hub repo. Every file is verified (size, and the
 * LFS SHA-256 or git blob SHA-1 of the tree listing) before it is moved into place, so a
 * half-written or corrupted file never appears at its path; a partial download resumes with an
 * HTTP range; a corrupted one is fetched again. Files already present and intact are skipped.
 *
 * @module
 */

import { listFiles } from "@huggingface/hub";
import { dirname } from "node:path";
import { hashFile } from "./hashes.ts";
import { globToRegExp } from "./files.ts";
import { hubError } from "./errors.ts";
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
  const repo = { type: o.type, name: o.repo } as const;
  const f = o.fetch ?? fetch;
  const auth: Record<string, string> = o.token ? { Authorization: `Bearer ${o.token.token}` } : {};
  const log = o.onLog ?? (() => {});
  const include = (o.include ?? []).map(globToRegExp);
  const entries: { path: string; size: number; oid: string; lfs?: string }[] = [];
  try {
    for await (
      const e of listFiles({
        repo,
        revision,
        recursive: true,
        hubUrl: o.endpoint,
        accessToken: o.token?.token,
        fetch: f,
      })
    ) {
      if (e.type !== "file") continue;
      if (include.length && !include.some((re) => re.test(e.path))) continue;
      entries.push({ path: e.path, size: e.size, oid: e.oid ?? "", lfs: e.lfs?.oid });
    }
  } catch (err) {
    throw hubError(err, `listing ${o.repo}@${revision}`, o.endpoint, o.token);
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
    const url = `${o.endpoint}/${o.type === "dataset" ? "datasets/" : ""}${o.repo}/resolve/${
      encodeURIComponent(revision)
    }/${e.path.split("/").map(encodeURIComponent).join("/")}`;
    const attempts = o.attempts ?? 3;
    let ok = false;
    for (let attempt = 1; attempt <= attempts && !ok; attempt++) {
      const have = await Deno.stat(part).then((s) => s.size, () => 0);
      const headers = {
        ...auth,
        ...(have > 0 && have < e.size ? { Range: `bytes=${have}-` } : {}),
      };
      let res: Response;
      try {
        res = await f(url, { headers });
      } catch (err) {
        throw hubError(err, `downloading ${e.path}`, o.endpoint, o.token);
      }
      if (!res.ok) {
        throw hubError(
          Object.assign(new Error(`${res.status} ${res.statusText}`), { statusCode: res.status }),
          `downloading ${e.path}`,
          o.endpoint,
          o.token,
        );
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
