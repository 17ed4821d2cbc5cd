/**
 * The hashes the Hub uses to name file contents: the git blob SHA-1 of regular files
 * (`sha1("blob <size>\0" + bytes)`) and the SHA-256 of LFS files — computed by streaming, so
 * checkpoints larger than memory hash fine.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Both hashes of one file. */
export interface FileHashes {
  size: number;
  /** git blob SHA-1 (hex), the `oid` of a regular file in a Hub tree listing. */
  gitOid: string;
  /** SHA-256 (hex), the `lfs.oid` of an LFS file. */
  sha256: string;
}

/** Hashes a file by streaming it once. */
export async function hashFile(path: string): Promise<FileHashes> {
  const { size } = await Deno.stat(path);
  const sha1 = createHash("sha1");
  sha1.update(`blob ${size}\0`);
  const sha256 = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) {
    sha1.update(chunk);
    sha256.update(chunk);
  }
  return { size, gitOid: sha1.digest("hex"), sha256: sha256.digest("hex") };
}

/** Hashes bytes in memory. */
export function hashBytes(bytes: Uint8Array): FileHashes {
  const sha1 = createHash("sha1");
  sha1.update(`blob ${bytes.length}\0`);
  sha1.update(bytes);
  return {
    size: bytes.length,
    gitOid: sha1.digest("hex"),
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}
