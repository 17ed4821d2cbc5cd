/**
 * Test support: the repository model behind {@linkcode MockHub} — commits, branches, tags and
 * trees named by real git object ids (blob, tree and commit SHA-1s computed as git does, LFS files
 * stored as their pointer blob), so the ids the test Hub answers are the ones the real Hub would
 * give for the same content, author, time and message.
 *
 * Not used by product code.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** One file of a commit. LFS contents live in the hub's LFS store under `lfs.oid`. */
export interface RepoFileEntry {
  /** git blob id (of the pointer file for LFS files). */
  oid: string;
  /** Content size in bytes. */
  size: number;
  /** Contents of a regular file. */
  bytes?: Uint8Array;
  lfs?: { oid: string; size: number; pointerSize: number };
}

/** A commit: its id, parents, message, time and full file list. */
export interface RepoCommit {
  id: string;
  parents: string[];
  title: string;
  message: string;
  /** Seconds since the epoch. */
  time: number;
  files: Map<string, RepoFileEntry>;
  /** path → tree id, for every folder ("" is the root). */
  trees: Map<string, string>;
}

/** A repository: refs and commits. */
export interface HubRepo {
  type: "model" | "dataset";
  /** OWNER/NAME. */
  id: string;
  private: boolean;
  /** false, or the gating mode; access is granted per user. */
  gated: false | "auto" | "manual";
  grantedUsers: Set<string>;
  branches: Map<string, string>;
  tags: Map<string, string>;
  commits: Map<string, RepoCommit>;
  /** Number of the last pull request opened (refs/pr/N). */
  prs: number;
  createdAt: string;
}

const enc = new TextEncoder();

function _sha1(parts: (string | Uint8Array)[]): Uint8Array {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function _hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** git's id of a blob with these bytes. */
export function gitBlobId(bytes: Uint8Array): string {
  return _hex(_sha1([`blob ${bytes.length}\0`, bytes]));
}

/** The git-lfs pointer file text for an object. */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** A file entry for regular bytes. */
export function regularEntry(bytes: Uint8Array): RepoFileEntry {
  return { oid: gitBlobId(bytes), size: bytes.length, bytes };
}

/** A file entry for an LFS object. */
export function lfsEntry(sha256: string, size: number): RepoFileEntry {
  const pointer = enc.encode(lfsPointer(sha256, size));
  return {
    oid: gitBlobId(pointer),
    size,
    lfs: { oid: sha256, size, pointerSize: pointer.length },
  };
}

/** Tree ids of every folder of `files` (git's tree objects, sorted as git sorts them). */
export function gitTrees(files: Map<string, RepoFileEntry>): Map<string, string> {
  const children = new Map<string, Map<string, { tree: boolean; oid?: string }>>();
  const dirOf = (path: string) => path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  const ensure = (dir: string) => {
    if (children.has(dir)) return;
    children.set(dir, new Map());
    if (dir !== "") {
      ensure(dirOf(dir));
      children.get(dirOf(dir))!.set(dir.slice(dir.lastIndexOf("/") + 1), { tree: true });
    }
  };
  ensure("");
  for (const [path, f] of files) {
    ensure(dirOf(path));
    children.get(dirOf(path))!.set(path.slice(path.lastIndexOf("/") + 1), {
      tree: false,
      oid: f.oid,
    });
  }
  const ids = new Map<string, string>();
  const build = (dir: string): string => {
    const entries = [...children.get(dir)!].map(([name, e]) => ({ name, ...e }));
    // git orders a tree's entries by name, a folder's name compared as if it ended with "/"
    const key = (e: { name: string; tree: boolean }) => e.tree ? e.name + "/" : e.name;
    entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const parts: Uint8Array[] = [];
    for (const e of entries) {
      const oid = e.tree ? build(dir ? `${dir}/${e.name}` : e.name) : e.oid!;
      parts.push(enc.encode(`${e.tree ? "40000" : "100644"} ${e.name}\0`));
      parts.push(Uint8Array.from(oid.match(/../g)!.map((h) => parseInt(h, 16))));
    }
    const size = parts.reduce((s, p) => s + p.length, 0);
    const id = _hex(_sha1([`tree ${size}\0`, ...parts]));
    ids.set(dir, id);
    return id;
  };
  build("");
  return ids;
}

/** Makes a commit object (its id is git's commit id for this tree, parents, time and message). */
export function makeCommit(
  files: Map<string, RepoFileEntry>,
  parents: string[],
  title: string,
  description: string,
  time: number,
): RepoCommit {
  const trees = gitTrees(files);
  const message = description ? `${title}\n\n${description}` : title;
  const who = `Jikji Test Hub <hub@127.0.0.1> ${time} +0000`;
  const body = [
    `tree ${trees.get("")}`,
    ...parents.map((p) => `parent ${p}`),
    `author ${who}`,
    `committer ${who}`,
    "",
    message,
    "",
  ].join("\n");
  const bytes = enc.encode(body);
  const id = _hex(_sha1([`commit ${bytes.length}\0`, bytes]));
  return { id, parents, title, message, time, files, trees };
}

/**
 * The commit a revision names: a branch (which may contain "/"), a tag, a full commit id, or
 * `refs/pr/N`; undefined when none.
 */
export function resolveRevision(repo: HubRepo, revision: string): RepoCommit | undefined {
  const id = repo.branches.get(revision) ?? repo.tags.get(revision) ??
    (/^[0-9a-f]{40}$/.test(revision) ? revision : undefined);
  return id ? repo.commits.get(id) : undefined;
}
