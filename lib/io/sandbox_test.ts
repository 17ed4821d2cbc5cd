import assert from "node:assert/strict";
import { dirname } from "node:path";
import { checkPath, resolveReal } from "./sandbox.ts";
import { UserError } from "./errors.ts";

async function tree() {
  const root = Deno.realPathSync(await Deno.makeTempDir());
  const outside = Deno.realPathSync(await Deno.makeTempDir());
  await Deno.mkdir(`${root}/runs`);
  await Deno.symlink(outside, `${root}/runs/evil-link`);
  await Deno.writeTextFile(`${outside}/log.jsonl`, "");
  await Deno.symlink(`${outside}/log.jsonl`, `${root}/runs/log.jsonl`);
  return { root, outside };
}

Deno.test("resolveReal() follows links in the existing prefix and appends the rest", async () => {
  const { root, outside } = await tree();
  assert.equal(resolveReal(`${root}/runs/evil-link/a/b.jsonl`), `${outside}/a/b.jsonl`);
  assert.equal(resolveReal(`${root}/runs/log.jsonl`), `${outside}/log.jsonl`);
  // `..` after a link goes up from where the link leads, as the OS does
  assert.equal(resolveReal(`${root}/runs/evil-link/../x`), `${dirname(outside)}/x`);
  // rename and remove act on the link itself
  assert.equal(resolveReal(`${root}/runs/log.jsonl`, false), `${root}/runs/log.jsonl`);
  assert.equal(resolveReal(`${root}/runs/new/deeper`), `${root}/runs/new/deeper`);
});

Deno.test("checkPath() refuses in one line what leads outside the granted folders", async () => {
  const { root, outside } = await tree();
  const grants = (_: string, real: string) => real.startsWith(`${root}/`);
  assert.equal(checkPath(`${root}/runs/ok.jsonl`, "write", true, grants), `${root}/runs/ok.jsonl`);
  for (const p of [`${root}/runs/evil-link/x`, `${root}/runs/log.jsonl`]) {
    assert.throws(() => checkPath(p, "write", true, grants), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.message.split("\n").length, 1);
      assert.ok(err.message.includes(`leads to ${outside}/`), err.message);
      return true;
    });
  }
  await Deno.symlink(`${root}/loop-b`, `${root}/loop-a`);
  await Deno.symlink(`${root}/loop-a`, `${root}/loop-b`);
  assert.throws(
    () => checkPath(`${root}/loop-a/x`, "read", true, grants),
    /loop of symbolic links/,
  );
});
