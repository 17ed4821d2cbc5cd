/**
 * The CLI convention through the tasks' real command lines (`deno task NAME …`, so the
 * permissions of deno.json apply): `--help` works, and a config with a misspelt key or a wrong
 * type fails with exit status 2 and one line naming the file and the field.
 */

import assert from "node:assert/strict";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

async function task(args: string[]): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const out = await runTask(args);
  return { code: out.code, stdout: out.stdout, stderr: taskStderrLines(out.stderr) };
}

async function configFile(text: string): Promise<string> {
  await Deno.mkdir(`${ROOT}/runs/test-tmp`, { recursive: true });
  const rel = `runs/test-tmp/cfg-${crypto.randomUUID().slice(0, 8)}.yaml`;
  await Deno.writeTextFile(`${ROOT}/${rel}`, text);
  return rel;
}

for (const name of ["demo", "bench"]) {
  Deno.test(`deno task ${name} --help lists its options`, async () => {
    const { code, stdout } = await task([name, "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^deno task ${name} — `));
    assert.match(stdout, /--config <string>/);
    assert.match(stdout, /--cache-dir <string>/);
  });

  Deno.test(`deno task ${name} refuses a misspelt config key in one line naming file and field`, async () => {
    const cfg = await configFile("cache_dirr: data/cache\n");
    const { code, stderr } = await task([name, "--config", cfg]);
    assert.equal(code, 2);
    assert.deepEqual(stderr, [
      `error: ${cfg}: unknown field "cache_dirr" (did you mean "cache_dir"?)`,
    ]);
    await Deno.remove(`${ROOT}/${cfg}`);
  });

  Deno.test(`deno task ${name} refuses a config value of the wrong type in one line`, async () => {
    const cfg = await configFile("cache_dir: 12\n");
    const { code, stderr } = await task([name, "--config", cfg]);
    assert.equal(code, 2);
    assert.deepEqual(stderr, [`error: ${cfg}: field "cache_dir": expected a string, got 12`]);
    await Deno.remove(`${ROOT}/${cfg}`);
  });
}

Deno.test("deno task demo refuses an unknown flag and an unknown stage", async () => {
  const a = await task(["demo", "--cache-dri", "x"]);
  assert.equal(a.code, 2);
  assert.deepEqual(a.stderr, [
    "error: unknown flag --cache-dri (did you mean --cache-dir?) (see --help)",
  ]);
  const b = await task(["demo", "--only", "nosuchstage"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr.join("\n"), /^error: --only: unknown stage "nosuchstage"/);
});
