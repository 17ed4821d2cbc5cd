/**
 * The path guard: Deno checks a task's read and write permissions on a path as written, not on
 * where a symbolic link in it leads, so a link planted under `runs/` or `data/` would let a task
 * read or write outside its folders. {@linkcode checkPath} resolves a path the way the OS will
 * (the real path of its longest existing prefix, the rest appended) and refuses it with a one-line
 * {@linkcode UserError} unless the task's own permissions grant the place it really leads to.
 * {@linkcode installPathGuard} (called by every task's `runMain`) puts that check in front of every
 * `Deno.*` file-system call, so inputs, outputs, logs and caches are all covered in one place; the
 * same wrapper turns a full or read-only disk into one line naming the path
 * ({@linkcode diskError}).
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.ts";
import { targetOfTemp } from "./atomic.ts";

/** What a call does to a path: read it, or create, change or delete it. */
export type Access = "read" | "write";

/** Answers whether the task may `access` the absolute, resolved path `real`. */
export type Grants = (access: Access, real: string) => boolean;

const _realPathSync = Deno.realPathSync;
const _lstatSync = Deno.lstatSync;
const _cwd = Deno.cwd;

/** The task's own Deno permissions, asked for the resolved path. */
export const denoGrants: Grants = (access, real) =>
  Deno.permissions.querySync({ name: access, path: real }).state === "granted";

/**
 * Where `path` really leads: the real path of its longest existing prefix with the rest appended.
 * With `followLast` false the last component is not resolved (rename, remove and lstat act on a
 * link itself, not on its target).
 *
 * @example
 * ```ts
 * import { resolveReal } from "./sandbox.ts";
 * const dir = Deno.realPathSync(await Deno.makeTempDir());
 * await Deno.symlink("/", `${dir}/root-link`);
 * console.log(resolveReal(`${dir}/root-link/etc/nothing-here`)); // "/etc/nothing-here"
 * ```
 */
export function resolveReal(path: string, followLast = true): string {
  const abs = path.startsWith("/") ? path : `${_cwd()}/${path}`;
  const trimmed = abs.replace(/\/+$/, "") || "/";
  const last = basename(trimmed);
  if (!followLast && last !== "" && last !== "." && last !== "..") {
    return join(resolveReal(dirname(trimmed)), last);
  }
  // one component at a time: `..` after a link climbs from where the link leads, as the OS does
  let cur = "/";
  let exists = true;
  for (const comp of trimmed.split("/")) {
    if (comp === "" || comp === ".") continue;
    if (comp === "..") {
      cur = dirname(cur);
      continue;
    }
    const next = cur === "/" ? `/${comp}` : `${cur}/${comp}`;
    if (!exists) {
      cur = next;
      continue;
    }
    try {
      cur = _lstatSync(next).isSymlink ? _realPathSync(next) : next;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        exists = false;
        cur = next;
      } else if (err instanceof Deno.errors.FilesystemLoop) {
        throw new UserError(`${path}: a loop of symbolic links (remove the link)`);
      } else {
        // a folder above the task's read roots: taken as written, as Deno does
        cur = next;
      }
    }
  }
  return cur;
}

/**
 * Refuses `path` unless the place it really leads to may be accessed; returns the resolved path.
 *
 * @example
 * ```ts
 * import { checkPath } from "./sandbox.ts";
 * const inside = (_: string, real: string) => real.startsWith("/tmp/");
 * console.log(checkPath("/tmp/x.jsonl", "write", true, inside)); // "/tmp/x.jsonl"
 * ```
 */
export function checkPath(
  path: string | URL,
  access: Access,
  followLast = true,
  grants: Grants = denoGrants,
): string {
  const p = path instanceof URL ? fileURLToPath(path) : path;
  if (p === "") throw new UserError("an empty path was given (name a file or folder)");
  const real = resolveReal(p, followLast);
  if (!grants(access, real)) {
    const linked = real !== resolve(p);
    throw new SandboxRefusal(
      linked
        ? `${p}: leads to ${real}, outside the folders this task may ${access} (its permissions in ` +
          `deno.json); remove the symbolic link or give a path inside them`
        : `${p}: outside the folders this task may ${access} (its permissions in deno.json); ` +
          `give a path inside them`,
    );
  }
  return real;
}

/** The guard's refusal of a path outside the task's permissions (a {@linkcode UserError}). */
export class SandboxRefusal extends UserError {}

/**
 * The one-line error for a write the disk refused (full, over quota, read-only), naming `path`;
 * undefined for any other error.
 */
export function diskError(err: unknown, path: string | URL): UserError | undefined {
  const code = (err as { code?: string })?.code;
  let p = path instanceof URL ? fileURLToPath(path) : path;
  // a temporary file of lib/io/atomic.ts: name the file it was to become
  p = targetOfTemp(p) ?? p;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new UserError(`${p}: no space left on the device (free some space or write elsewhere)`);
  }
  if (code === "EROFS") {
    return new UserError(`${p}: the file system is read-only (write elsewhere)`);
  }
  return undefined;
}

/** Makes the write methods of an open file name its path when the disk refuses them. */
function _nameDiskErrors(file: Deno.FsFile, path: string | URL): Deno.FsFile {
  const f = file as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const m of ["write", "sync", "syncData", "truncate"]) {
    const orig = f[m]?.bind(file);
    if (!orig) continue;
    f[m] = (...a: unknown[]) =>
      (orig(...a) as Promise<unknown>).catch((err) => {
        throw diskError(err, path) ?? err;
      });
  }
  for (const m of ["writeSync", "syncSync", "syncDataSync", "truncateSync"]) {
    const orig = f[m]?.bind(file);
    if (!orig) continue;
    f[m] = (...a: unknown[]) => {
      try {
        return orig(...a);
      } catch (err) {
        throw diskError(err, path) ?? err;
      }
    };
  }
  return file;
}

type Fn = (...args: never[]) => unknown;

let _installed = false;

/**
 * Puts {@linkcode checkPath} in front of every `Deno.*` call that opens, reads, writes, creates,
 * renames or removes a path. Outputs are opened as written (the check already resolved the link);
 * calls that act on a link itself (rename, remove, lstat, symlink) resolve only its folder.
 */
export function installPathGuard(grants: Grants = denoGrants): void {
  if (_installed) return;
  _installed = true;
  const d = Deno as unknown as Record<string, Fn>;
  const wrap = (
    name: string,
    check: (args: unknown[]) => void,
  ) => {
    const orig = d[name];
    if (typeof orig !== "function") return;
    const sync = name.endsWith("Sync");
    d[name] = function (this: unknown, ...args: unknown[]) {
      try {
        check(args);
      } catch (err) {
        if (sync) throw err;
        // the async calls fail the way they always do: a rejected promise (readDir: its iterator)
        if (name === "readDir") {
          return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }) };
        }
        return Promise.reject(err);
      }
      const path = args[0] as string | URL;
      const named = (v: unknown) =>
        name.startsWith("open") || name.startsWith("create")
          ? _nameDiskErrors(v as Deno.FsFile, path)
          : v;
      if (sync) {
        try {
          return named((orig as (...a: unknown[]) => unknown).apply(this, args));
        } catch (err) {
          throw diskError(err, path) ?? err;
        }
      }
      const out = (orig as (...a: unknown[]) => unknown).apply(this, args);
      if (!(out instanceof Promise)) return out;
      return out.then(named, (err) => {
        throw diskError(err, path) ?? err;
      });
    } as Fn;
  };
  const p = (v: unknown) => v as string | URL;
  const read = (follow = true) => (a: unknown[]) => void checkPath(p(a[0]), "read", follow, grants);
  const write = (follow = true) => (a: unknown[]) =>
    void checkPath(p(a[0]), "write", follow, grants);
  const openCheck = (a: unknown[]) => {
    const o = (a[1] ?? {}) as Deno.OpenOptions;
    const writes = o.write || o.append || o.create || o.truncate || o.createNew;
    checkPath(p(a[0]), writes ? "write" : "read", true, grants);
    if (writes && o.read) checkPath(p(a[0]), "read", true, grants);
  };
  for (const sfx of ["", "Sync"]) {
    wrap(`open${sfx}`, openCheck);
    for (const n of ["readFile", "readTextFile", "readDir", "stat", "realPath", "readLink"]) {
      wrap(`${n}${sfx}`, read(n !== "readLink"));
    }
    wrap(`lstat${sfx}`, read(false));
    for (
      const n of ["writeFile", "writeTextFile", "create", "mkdir", "truncate", "chmod", "utime"]
    ) {
      wrap(`${n}${sfx}`, write());
    }
    wrap(`remove${sfx}`, write(false));
    wrap(`rename${sfx}`, (a) => {
      checkPath(p(a[0]), "write", false, grants);
      checkPath(p(a[1]), "write", false, grants);
    });
    wrap(`copyFile${sfx}`, (a) => {
      checkPath(p(a[0]), "read", true, grants);
      checkPath(p(a[1]), "write", true, grants);
    });
    wrap(`symlink${sfx}`, (a) => void checkPath(p(a[1]), "write", false, grants));
    wrap(`link${sfx}`, (a) => {
      checkPath(p(a[0]), "read", true, grants);
      checkPath(p(a[1]), "write", false, grants);
    });
    for (const n of ["makeTempDir", "makeTempFile"]) {
      wrap(`${n}${sfx}`, (a) => {
        const dir = (a[0] as { dir?: string } | undefined)?.dir;
        if (dir) checkPath(dir, "write", true, grants);
      });
    }
  }
}
