import assert from "node:assert/strict";
import {
  arraySpec,
  type CommandRunner,
  mergeRankLogs,
  sbatchScript,
  shellQuote,
  type SlurmSettings,
  submitStage,
} from "./slurm.ts";
import { UserError } from "../io/errors.ts";
import { slurmSettings } from "./slurm.ts";

const SETTINGS: SlurmSettings = {
  partition: "cpu",
  time: "1:00:00",
  cpus: 2,
  mem: "4G",
  sbatch: ["--qos=low"],
  after: "",
  deno: "deno",
};

Deno.test("arraySpec() writes ranks as Slurm ranges", () => {
  assert.equal(arraySpec([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
  assert.equal(arraySpec([3]), "3");
  assert.equal(arraySpec([]), "");
});

Deno.test("shellQuote() leaves plain words and quotes the rest", () => {
  assert.equal(shellQuote("data/x.jsonl"), "data/x.jsonl");
  assert.equal(shellQuote("it's a b"), `'it'\\''s a b'`);
});

Deno.test("sbatchScript() writes the directives and the rank's deno task line", () => {
  const s = sbatchScript({
    jobName: "jikji-filter",
    array: "1,3",
    output: "/o/logs/filter-%A_%a.out",
    cwd: "/proj ect",
    settings: SETTINGS,
    task: ["filter", "run", "--shard", "{rank}/4", "--input", "my docs"],
    banner: "jikji filter: rank",
  });
  const lines = s.split("\n");
  assert.equal(lines[0], "#!/bin/bash");
  for (
    const d of [
      "#SBATCH --array=1,3",
      "#SBATCH --partition=cpu",
      "#SBATCH --time=1:00:00",
      "#SBATCH --cpus-per-task=2",
      "#SBATCH --mem=4G",
      "#SBATCH --qos=low",
      "#SBATCH --output=/o/logs/filter-%A_%a.out",
      "#SBATCH --kill-on-invalid-dep=yes",
    ]
  ) assert.ok(lines.includes(d), `${d} missing in\n${s}`);
  assert.ok(lines.includes("cd '/proj ect'"));
  assert.ok(
    lines.includes(
      `exec deno task -q filter run --shard "$SLURM_ARRAY_TASK_ID"/4 --input 'my docs'`,
    ),
    s,
  );
  // the script is valid bash
  const check = new Deno.Command("bash", { args: ["-n", "-c", s] }).outputSync();
  assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
});

Deno.test("slurmSettings() refuses an sbatch line that is not an option, and a bad job id", () => {
  const o = {
    slurm_partition: "",
    slurm_time: "",
    slurm_cpus: 1,
    slurm_mem: "",
    slurm_sbatch: ["qos=low"],
    slurm_after: "",
    slurm_deno: "deno",
  };
  assert.throws(() => slurmSettings(o), UserError);
  assert.throws(() => slurmSettings({ ...o, slurm_sbatch: [], slurm_after: "abc" }), UserError);
  assert.equal(slurmSettings({ ...o, slurm_sbatch: [], slurm_after: "42" }).after, "42");
});

Deno.test("submitStage() submits only unfinished ranks, then the merge after them (afterok)", async () => {
  const dir = await Deno.makeTempDir();
  const calls: string[][] = [];
  let next = 100;
  const fake: CommandRunner = (cmd, args) => {
    calls.push([cmd, ...args]);
    return Promise.resolve({ code: 0, stdout: `${next++};cluster\n`, stderr: "" });
  };
  const done = new Set([0, 2]);
  const stage = {
    name: "filter",
    world: 4,
    dir,
    task: ["filter", "run", "--shard", "{rank}/4"],
    merge: ["filter", "merge"],
    done: (r: number) => Promise.resolve(done.has(r)),
  };
  const sub = await submitStage(stage, { ...SETTINGS, after: "7" }, fake);
  assert.deepEqual(sub.ranks, [1, 3]);
  assert.equal(sub.array_job, "100");
  assert.equal(sub.merge_job, "101");
  assert.deepEqual(calls[0], [
    "sbatch",
    "--parsable",
    "--dependency=afterok:7",
    `${dir}/filter.sbatch`,
  ]);
  assert.deepEqual(calls[1], [
    "sbatch",
    "--parsable",
    "--dependency=afterok:100",
    `${dir}/filter-merge.sbatch`,
  ]);
  assert.match(await Deno.readTextFile(`${dir}/filter.sbatch`), /#SBATCH --array=1,3\n/);
  // every rank done: only the merge is submitted; jobs.json keeps both submissions
  done.add(1).add(3);
  const again = await submitStage(stage, SETTINGS, fake);
  assert.deepEqual([again.ranks, again.array_job, again.merge_job], [[], null, "102"]);
  assert.deepEqual(calls[2].slice(0, 2), ["sbatch", "--parsable"]);
  const jobs = JSON.parse(await Deno.readTextFile(`${dir}/jobs.json`));
  assert.equal(jobs.length, 2);
  // logs: each rank's latest attempt, in rank order
  await Deno.writeTextFile(`${dir}/logs/filter-100_1.out`, "one\n");
  await Deno.writeTextFile(`${dir}/logs/filter-100_3.out`, "three\n");
  const log = await mergeRankLogs(dir, "filter");
  assert.equal(
    await Deno.readTextFile(log!),
    "==> rank 1 (job 100_1) <==\none\n==> rank 3 (job 100_3) <==\nthree\n",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("submitStage() names sbatch's own complaint in one line", async () => {
  const dir = await Deno.makeTempDir();
  const fake: CommandRunner = () =>
    Promise.resolve({
      code: 1,
      stdout: "",
      stderr: "sbatch: error: invalid partition specified: gpu\n",
    });
  const stage = { name: "filter", world: 1, dir, task: ["x"], done: () => Promise.resolve(false) };
  await assert.rejects(
    () => submitStage(stage, SETTINGS, fake),
    (e: Error) => e instanceof UserError && /invalid partition specified: gpu$/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
