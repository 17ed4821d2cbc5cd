/**
 * Obtains files from a Debian package without installing it or needing root: `apt-get download`
 * then `dpkg -x` into a cache folder. Used for the demo corpus (LibreOffice help in Korean and
 * English) and test fixtures.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/**
 * Downloads and unpacks `pkg` into `cacheDir/debian/<pkg>/` (once; a `.complete` marker makes
 * later calls free) and returns the unpacked root.
 */
export async function obtainDebianPackage(pkg: string, cacheDir: string): Promise<string> {
  const root = `${cacheDir}/debian/${pkg}`;
  const marker = `${root}/.complete`;
  try {
    await Deno.stat(marker);
    return root;
  } catch { /* not yet */ }
  const work = `${cacheDir}/debian/.download-${pkg}-${Deno.pid}`;
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true });
  try {
    await _run(["apt-get", "download", "-qq", pkg], work, pkg);
    const debs = [...Deno.readDirSync(work)].filter((e) => e.name.endsWith(".deb"));
    if (debs.length !== 1) {
      throw new UserError(`apt-get download ${pkg}: expected one .deb, got ${debs.length}`);
    }
    await _run(["dpkg", "-x", `${work}/${debs[0].name}`, `${work}/root`], ".", pkg);
    await Deno.rename(`${work}/root`, root);
    await Deno.writeTextFile(marker, debs[0].name + "\n");
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return root;
}

async function _run(cmd: string[], cwd: string, pkg: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      cwd,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${cmd[0]} not found: obtaining Debian package ${pkg} needs a Debian/Ubuntu machine`,
      );
    }
    throw err;
  }
  if (!out.success) {
    const msg = new TextDecoder().decode(out.stderr).split("\n").filter((l) => /^E:/.test(l))[0] ??
      `exit ${out.code}`;
    throw new UserError(
      `${
        cmd.join(" ")
      } failed (${msg.trim()}); if the package lists are missing run: apt-get update`,
    );
  }
}
