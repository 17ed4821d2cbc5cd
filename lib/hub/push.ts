/**
 * `deno task hub push`: uploads a folder to a Hub repo. It creates the repo when missing (and a
 * missing branch from main), skips every file whose content is already on the Hub at that
 * revision (git blob SHA-1 or LFS SHA-256 from the tree listing), sends the rest in as few commits
 * as sensible, each naming its parent so a concurrent change is refused (412) rather than
 * overwritten (large files through the Hub's LFS path, decided by the Hub's pre-upload answer, in
 * parts when the LFS batch answer asks for multipart), and writes a model card when the folder has
 * none. Re-running after an interruption sends only what is missing: LFS objects that reached
 * the Hub are not sent again (the LFS batch answer has no upload action for them).
 *
 * @module
 */

import { commitIter } from "@huggingface/hub";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { hashFile } from "./hashes.ts";
import { listFolderFiles } from "./files.ts";
import { buildModelCard, isGeneratedCard } from "./model_card.ts";
import { hubError } from "./errors.ts";
import {
  createBranch,
  createRepo,
  download,
  type HubClient,
  HubHttpError,
  listTree,
  repoInfo,
  resolveUrl,
} from "./api.ts";
import type { HubToken } from "./auth.ts";
import { UserError } from "../io/errors.ts";

/** Options of {@linkcode pushFolder}. */
export interface PushOptions {
  folder: string;
  /** OWNER/NAME. */
  repo: string;
  type: "model" | "dataset";
  private?: boolean;
  revision?: string;
  message?: string;
  token: HubToken | null;
  endpoint: string;
  /** The fetch to use (retries, logging); default global fetch. */
  fetch?: typeof fetch;
  /** Files per commit (default 500). */
  maxFilesPerCommit?: number;
  /** Replace a hand-written README.md on the Hub with a generated card. */
  overwriteCard?: boolean;
  /** Front matter extras for a generated card. */
  license?: string;
  baseModel?: string;
  datasets?: string[];
  /** Progress in bytes: called with (sent, total). */
  onProgress?: (sent: number, total: number) => void;
  onLog?: (msg: string) => void;
}

/** What a push did. */
export interface PushResult {
  uploaded: string[];
  skipped: string[];
  commits: number;
  bytes: number;
  card: "generated" | "kept local" | "kept hand-written on the Hub" | "none";
}

/** Pushes `folder` (see the module doc). */
export async function pushFolder(o: PushOptions): Promise<PushResult> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(o.repo)) {
    throw new UserError(`--repo: expected OWNER/NAME, got "${o.repo}"`);
  }
  if (!o.token) {
    throw new UserError(
      "no Hub token: set HF_TOKEN or put the token in $HF_HOME/token (~/.cache/huggingface/token)",
    );
  }
  const revision = o.revision ?? "main";
  const repo = { type: o.type, name: o.repo } as const;
  const common = { accessToken: o.token.token, hubUrl: o.endpoint, fetch: o.fetch };
  const client: HubClient = { endpoint: o.endpoint, token: o.token, fetch: o.fetch };
  const log = o.onLog ?? (() => {});
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UserError) throw err;
      if ((err as { statusCode?: number }).statusCode === 412) {
        throw new UserError(
          `${what}: ${o.repo}@${revision} changed on the Hub during the push (412): run the push again`,
        );
      }
      throw hubError(err, what, o.endpoint, o.token, { repo: o.repo, revision });
    }
  };

  const local = await listFolderFiles(o.folder);
  if (local.length === 0) throw new UserError(`${o.folder}: nothing to push (the folder is empty)`);

  if (!(await step("checking the repo", () => repoInfo(client, o.type, o.repo)))) {
    await step("creating the repo", () => createRepo(client, o.type, o.repo, o.private ?? false));
    log(`created ${o.type} repo ${o.repo}`);
  }

  // What is on the Hub already at the revision, with content hashes. A new branch starts from
  // main, so only what main lacks is sent.
  const remote = new Map<string, { oid: string; lfs?: string }>();
  const listing = async () => {
    for await (const e of listTree(client, o.type, o.repo, revision, { recursive: true })) {
      if (e.type === "file") remote.set(e.path, { oid: e.oid, lfs: e.lfs?.oid });
    }
  };
  try {
    await listing();
  } catch (err) {
    if (!(err instanceof HubHttpError && err.code === "RevisionNotFound") || revision === "main") {
      throw hubError(err, "listing the repo", o.endpoint, o.token, { repo: o.repo, revision });
    }
    await step(`creating branch ${revision}`, () => createBranch(client, o.type, o.repo, revision));
    log(`created branch ${revision} from main`);
    await step("listing the new branch", listing);
  }
  let parent =
    (await step("reading the head commit", () => repoInfo(client, o.type, o.repo, revision)))?.sha;

  const toSend: { path: string; size: number }[] = [];
  const skipped: string[] = [];
  for (const path of local) {
    const h = await hashFile(`${o.folder}/${path}`);
    const r = remote.get(path);
    if (r && (r.lfs === h.sha256 || r.oid === h.gitOid)) skipped.push(path);
    else toSend.push({ path, size: h.size });
  }

  // The model card: the folder's own README wins; a generated one never replaces a hand-written one.
  let card: PushResult["card"] = local.includes("README.md") ? "kept local" : "none";
  let cardText: string | undefined;
  if (!local.includes("README.md")) {
    let handWritten = false;
    if (remote.has("README.md") && !o.overwriteCard) {
      const res = await step(
        "reading the Hub's README.md",
        () => download(client, resolveUrl(o.endpoint, o.type, o.repo, revision, "README.md")),
      );
      handWritten = res.ok && !isGeneratedCard(await res.text());
    }
    if (handWritten) card = "kept hand-written on the Hub";
    else {
      cardText = await buildModelCard(o.folder, {
        repo: o.repo,
        type: o.type,
        license: o.license,
        baseModel: o.baseModel,
        datasets: o.datasets,
      });
      const remoteCard = remote.get("README.md");
      const cardHashes = new TextEncoder().encode(cardText);
      const { hashBytes } = await import("./hashes.ts");
      if (remoteCard?.oid === hashBytes(cardHashes).gitOid) cardText = undefined;
      card = "generated";
    }
  }

  const total = toSend.reduce((s, f) => s + f.size, 0) + (cardText?.length ?? 0);
  const progress = new Map<string, number>();
  const report = () => o.onProgress?.([...progress.values()].reduce((a, b) => a + b, 0), total);
  const maxFiles = o.maxFilesPerCommit ?? 500;
  type Op = { operation: "addOrUpdate"; path: string; content: URL | Blob };
  const ops: Op[] = toSend.map((f) => ({
    operation: "addOrUpdate",
    path: f.path,
    content: pathToFileURL(resolve(`${o.folder}/${f.path}`)),
  }));
  if (cardText) {
    ops.push({ operation: "addOrUpdate", path: "README.md", content: new Blob([cardText]) });
  }
  const sizes = new Map(toSend.map((f) => [f.path, f.size]));
  if (cardText) sizes.set("README.md", cardText.length);
  let commits = 0;
  for (let i = 0; i < ops.length; i += maxFiles) {
    const batch = ops.slice(i, i + maxFiles);
    const title = o.message ??
      `Upload ${batch.length} file${batch.length === 1 ? "" : "s"} with Jikji`;
    await step("uploading", async () => {
      const it = commitIter({
        repo,
        operations: batch,
        title,
        branch: revision,
        parentCommit: parent,
        useXet: false,
        ...common,
      });
      for (;;) {
        const { value, done } = await it.next();
        if (done) {
          parent = value?.commit.oid ?? parent;
          break;
        }
        if (value.event === "fileProgress" && value.state === "uploading") {
          progress.set(value.path, Math.round(value.progress * (sizes.get(value.path) ?? 0)));
          report();
        }
      }
    });
    for (const op of batch) progress.set(op.path, sizes.get(op.path) ?? 0);
    report();
    commits++;
    log(`committed ${batch.length} file(s) to ${o.repo}@${revision}`);
  }
  return {
    uploaded: ops.map((op) => op.path),
    skipped,
    commits,
    bytes: total,
    card,
  };
}
