/**
 * Jikji's version and the git commit of the working tree, for run manifests.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** Jikji's version, from `deno.json`. */
export const JIKJI_VERSION: string = denoJson.version;

/**
 * The commit checked out in `repoDir` (reading `.git` directly, so no subprocess permission is
 * needed), with `-dirty` unknown; null when it cannot be read.
 */
export async function gitCommit(repoDir = "."): Promise<string | null> {
  try {
    let gitDir = `${repoDir}/.git`;
    const info = await Deno.stat(gitDir);
    if (info.isFile) {
      // a worktree: ".git" holds "gitdir: PATH"
      const m = /^gitdir:\s*(.+)$/m.exec(await Deno.readTextFile(gitDir));
      if (!m) return null;
      gitDir = m[1].trim();
    }
    const head = (await Deno.readTextFile(`${gitDir}/HEAD`)).trim();
    if (!head.startsWith("ref:")) return /^[0-9a-f]{40}$/.test(head) ? head : null;
    const ref = head.slice(4).trim();
    const commonDir = await Deno.readTextFile(`${gitDir}/commondir`).then(
      (d) => d.trim().startsWith("/") ? d.trim() : `${gitDir}/${d.trim()}`,
      () => gitDir,
    );
    for (const dir of [gitDir, commonDir]) {
      try {
        const sha = (await Deno.readTextFile(`${dir}/${ref}`)).trim();
        if (/^[0-9a-f]{40}$/.test(sha)) return sha;
      } catch { /* try packed refs */ }
      try {
        const packed = await Deno.readTextFile(`${dir}/packed-refs`);
        for (const line of packed.split("\n")) {
          const [sha, name] = line.split(" ");
          if (name === ref && /^[0-9a-f]{40}$/.test(sha)) return sha;
        }
      } catch { /* none */ }
    }
    return null;
  } catch {
    return null;
  }
}
