import assert from "node:assert/strict";
import { createRun, readJsonlLog, timestamp } from "./run_folder.ts";
import { gitCommit, JIKJI_VERSION } from "./version.ts";

Deno.test("createRun() writes config, manifest, logs and metrics into runs/<task>-<timestamp>", async () => {
  const runsDir = await Deno.makeTempDir();
  const run = await createRun({
    task: "unit",
    config: { lr: 0.1 },
    seed: 42,
    runsDir,
    echo: false,
  });
  assert.match(run.dir, new RegExp(`^${runsDir}/unit-\\d{8}T\\d{6}Z$`));
  run.log("hello", { n: 1 });
  run.metric({ step: 1, loss: 2.5 });
  await run.finish({ ok: true });
  const manifest = JSON.parse(await Deno.readTextFile(`${run.dir}/manifest.json`));
  assert.equal(manifest.jikji_version, JIKJI_VERSION);
  assert.equal(manifest.deno_version, Deno.version.deno);
  assert.equal(manifest.seed, 42);
  assert.ok("gpu_adapter" in manifest && "git_commit" in manifest);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${run.dir}/config.json`)), { lr: 0.1 });
  const log = await readJsonlLog(`${run.dir}/log.jsonl`);
  assert.equal(log[0].msg, "hello");
  assert.equal(log[0].n, 1);
  const metrics = await readJsonlLog(`${run.dir}/metrics.jsonl`);
  assert.equal(metrics[0].loss, 2.5);
  assert.equal(JSON.parse(await Deno.readTextFile(`${run.dir}/summary.json`)).ok, true);
});

Deno.test("createRun() never reuses a folder: a second run in the same second gets a suffix", async () => {
  const runsDir = await Deno.makeTempDir();
  const a = await createRun({ task: "t", config: {}, runsDir, gpu: false, echo: false });
  const b = await createRun({ task: "t", config: {}, runsDir, gpu: false, echo: false });
  assert.notEqual(a.dir, b.dir);
  a.close();
  b.close();
});

Deno.test("readJsonlLog() skips a last line cut by a kill but not a bad line in the middle", async () => {
  const path = `${await Deno.makeTempDir()}/m.jsonl`;
  await Deno.writeTextFile(path, '{"a":1}\n{"a":2}\n{"a":');
  assert.deepEqual(await readJsonlLog(path), [{ a: 1 }, { a: 2 }]);
  await Deno.writeTextFile(path, '{"a":1}\n{"a\n{"a":3}\n');
  await assert.rejects(readJsonlLog(path), /m\.jsonl:2: invalid JSON line/);
});

Deno.test("timestamp() is compact UTC", () => {
  assert.equal(timestamp(new Date("2026-11-22T23:10:05.123Z")), "20261122T231005Z");
});

Deno.test("gitCommit() reads a branch ref, packed refs and a detached HEAD", async () => {
  const repo = await Deno.makeTempDir();
  const sha = "0123456789abcdef0123456789abcdef01234567";
  await Deno.mkdir(`${repo}/.git/refs/heads`, { recursive: true });
  await Deno.writeTextFile(`${repo}/.git/HEAD`, "ref: refs/heads/main\n");
  await Deno.writeTextFile(`${repo}/.git/refs/heads/main`, sha + "\n");
  assert.equal(await gitCommit(repo), sha);
  await Deno.remove(`${repo}/.git/refs/heads/main`);
  await Deno.writeTextFile(`${repo}/.git/packed-refs`, `# pack-refs\n${sha} refs/heads/main\n`);
  assert.equal(await gitCommit(repo), sha);
  await Deno.writeTextFile(`${repo}/.git/HEAD`, sha.replace("0", "f") + "\n");
  assert.equal(await gitCommit(repo), sha.replace("0", "f"));
  assert.equal(await gitCommit(`${repo}/nothing`), null);
});
