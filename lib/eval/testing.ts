/**
 * Test helpers: where the shared benchmark data lies relative to the repository (`../shared/bench`
 * beside a clone; `../../shared/bench` from a worktree under `wt/`), or `JIKJI_BENCH_DIR`.
 *
 * @module
 */

import { join, resolve } from "node:path";

/** The repository root. */
export const REPO_ROOT = resolve(
  decodeURIComponent(new URL("../..", import.meta.url).pathname),
);

/** The benchmark data folder, or undefined when there is none. */
export function benchDir(): string | undefined {
  const env = Deno.env.get("JIKJI_BENCH_DIR");
  const candidates = env ? [env] : [
    join(REPO_ROOT, "../shared/bench"),
    join(REPO_ROOT, "../../shared/bench"),
  ];
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isDirectory) return c;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * The benchmark folder for a test; a missing folder skips the test with a loud message (the data
 * is not part of the repository: a clone without `../shared/bench` beside it, or without
 * `JIKJI_BENCH_DIR`, cannot run these tests).
 */
export function requireBenchDir(): string | undefined {
  const dir = benchDir();
  if (dir) return dir;
  console.warn(
    `%cSKIPPED: no benchmark data at ${join(REPO_ROOT, "../shared/bench")}`,
    "color: red; font-weight: bold",
  );
  return undefined;
}
