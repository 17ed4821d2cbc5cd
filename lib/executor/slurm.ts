/**
 * The Slurm executor of Jikji's sharded data stages, in the manner of datatrove's
 * `SlurmPipelineExecutor`: one `sbatch` job array per stage whose array index is the rank, only
 * the ranks without a completion marker submitted (so a resubmission runs just the ones that did
 * not finish), and a merge job chained with `--dependency=afterok` that runs once every rank
 * succeeded (stats merged by addition, per-rank logs gathered into one file).
 *
 * Each array task runs the stage's own `deno task` command line, so it keeps the task's
 * permissions from deno.json; only the submitting process runs `sbatch` and `squeue`.
 *
 * Files, under the stage's `dir` (e.g. `OUT/slurm/`):
 * - `<name>.sbatch`, `<name>-merge.sbatch` — the scripts as submitted (the latest attempt)
 * - `logs/<name>-<array job>_<rank>.out`, `logs/<name>-merge-<job>.out` — Slurm's output per task
 * - `jobs.json` — every submission: time, array job id, ranks, merge job id
 * - `ranks.log` — written by {@linkcode mergeRankLogs}: every rank's latest log, in rank order
 *
 * @module
 */

import { resolve } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import type { OptionsSpec } from "../cli/options.ts";

/** The options a sharded stage adds for its executor (flags `--executor`, `--slurm-*`). */
export const EXECUTOR_OPTIONS = {
  executor: {
    type: "string",
    default: "local",
    choices: ["local", "slurm"],
    description: "local: every rank in this process; slurm: one sbatch job array (rank = index)",
  },
  slurm_partition: { type: "string", default: "", description: "slurm: partition (-p)" },
  slurm_time: {
    type: "string",
    default: "",
    description: "slurm: time limit per rank, e.g. 4:00:00",
  },
  slurm_cpus: { type: "integer", default: 1, min: 1, description: "slurm: CPUs per rank" },
  slurm_mem: { type: "string", default: "", description: "slurm: memory per rank, e.g. 8G" },
  slurm_sbatch: {
    type: "string[]",
    default: [],
    description: "slurm: extra sbatch option, one per flag (e.g. --slurm-sbatch=--qos=low)",
  },
  slurm_after: {
    type: "string",
    default: "",
    description: "slurm: job id this stage starts after (afterok), e.g. the last stage's merge",
  },
  slurm_deno: {
    type: "string",
    default: "deno",
    description: "slurm: the deno binary on the compute nodes",
  },
  slurm_wait: {
    type: "boolean",
    default: false,
    description: "slurm: wait for the jobs to end, then report (else print the job ids)",
  },
} as const satisfies OptionsSpec;

/** sbatch settings shared by every job of a stage. */
export interface SlurmSettings {
  partition: string;
  time: string;
  cpus: number;
  mem: string;
  /** Extra sbatch options, each written as one `#SBATCH` line. */
  sbatch: string[];
  /** Job id the stage's array waits for (afterok), or "". */
  after: string;
  /** The deno binary the tasks run. */
  deno: string;
}

/** The settings from resolved {@linkcode EXECUTOR_OPTIONS}. */
export function slurmSettings(o: {
  slurm_partition: string;
  slurm_time: string;
  slurm_cpus: number;
  slurm_mem: string;
  slurm_sbatch: string[];
  slurm_after: string;
  slurm_deno: string;
}): SlurmSettings {
  for (const line of o.slurm_sbatch) {
    if (!line.startsWith("-") || /[\n\r]/.test(line)) {
      throw new UserError(
        `--slurm-sbatch: expected one sbatch option such as --qos=low, got ${JSON.stringify(line)}`,
      );
    }
  }
  if (o.slurm_after && !/^\d+(_\d+)?$/.test(o.slurm_after)) {
    throw new UserError(`--slurm-after: expected a Slurm job id (digits), got "${o.slurm_after}"`);
  }
  return {
    partition: o.slurm_partition,
    time: o.slurm_time,
    cpus: o.slurm_cpus,
    mem: o.slurm_mem,
    sbatch: o.slurm_sbatch,
    after: o.slurm_after,
    deno: o.slurm_deno,
  };
}

/** A sharded stage as the executor sees it. */
export interface SlurmStage {
  /** Short name, used in job names and file names, e.g. "filter". */
  name: string;
  /** Number of ranks (shards). */
  world: number;
  /** Folder for scripts, logs and jobs.json. */
  dir: string;
  /** `deno task` arguments of one rank; `{rank}` stands for the rank (the array index). */
  task: string[];
  /** `deno task` arguments run once after every rank succeeded (merge), if any. */
  merge?: string[];
  /** Whether rank `r` left its completion marker. */
  done(rank: number): Promise<boolean>;
}

/** One submission of a stage, as recorded in jobs.json. */
export interface Submission {
  submitted_at: string;
  /** Ranks in this array (none: every rank had finished). */
  ranks: number[];
  array_job: string | null;
  merge_job: string | null;
}

/** Runs a program and returns its exit code and outputs (sbatch, squeue). */
export type CommandRunner = (
  cmd: string,
  args: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs a program with Deno.Command (the task's --allow-run must name it). */
export const runCommand: CommandRunner = async (cmd, args) => {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${cmd}: not found; --executor slurm needs Slurm's client tools on PATH`);
    }
    throw err;
  }
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
};

/** Writes ranks as a Slurm array spec: [0,1,2,5,7,8] → "0-2,5,7-8". */
export function arraySpec(ranks: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ranks.length;) {
    let j = i;
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j] + 1) j++;
    parts.push(i === j ? `${ranks[i]}` : `${ranks[i]}-${ranks[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** Quotes one word for bash. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** One word of a rank's command line, `{rank}` becoming the array index. */
function _rankWord(s: string): string {
  return s.split("{rank}").map((p) => (p === "" ? "" : shellQuote(p))).join(
    '"$SLURM_ARRAY_TASK_ID"',
  );
}

/** What one sbatch script runs. */
export interface ScriptSpec {
  jobName: string;
  /** Array spec (job arrays only). */
  array?: string;
  /** Slurm's output file (`%A`, `%a`, `%j` allowed). */
  output: string;
  /** Folder the task runs in (the project root). */
  cwd: string;
  settings: SlurmSettings;
  /** `deno task` arguments; `{rank}` stands for the array index. */
  task: string[];
  /** Printed first, with the array index, host and job id (letters, digits, spaces, `:-`). */
  banner: string;
}

/** The text of an sbatch script. */
export function sbatchScript(s: ScriptSpec): string {
  const lines = ["#!/bin/bash", `#SBATCH --job-name=${s.jobName}`];
  if (s.array !== undefined) lines.push(`#SBATCH --array=${s.array}`);
  lines.push(`#SBATCH --output=${s.output}`, `#SBATCH --cpus-per-task=${s.settings.cpus}`);
  if (s.settings.partition) lines.push(`#SBATCH --partition=${s.settings.partition}`);
  if (s.settings.time) lines.push(`#SBATCH --time=${s.settings.time}`);
  if (s.settings.mem) lines.push(`#SBATCH --mem=${s.settings.mem}`);
  // a job whose dependency can never be met (a rank failed) is removed, not left pending
  lines.push("#SBATCH --kill-on-invalid-dep=yes");
  for (const extra of s.settings.sbatch) lines.push(`#SBATCH ${extra}`);
  lines.push(
    "set -euo pipefail",
    `cd ${shellQuote(s.cwd)}`,
    `echo "${
      s.banner.replace(/[^A-Za-z0-9 :-]/g, "")
    } \${SLURM_ARRAY_TASK_ID:-} on $(hostname), job \${SLURM_JOB_ID:-}"`,
    `exec ${[s.settings.deno, "task", "-q", ...s.task].map(_rankWord).join(" ")}`,
    "",
  );
  return lines.join("\n");
}

/** Reads the job id from `sbatch --parsable` ("123" or "123;cluster"). */
export function parseJobId(stdout: string): string {
  const id = stdout.trim().split(";")[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(stdout)}`);
  return id;
}

async function _sbatch(
  script: string,
  path: string,
  dependency: string,
  run: CommandRunner,
): Promise<string> {
  await Deno.writeTextFile(path, script);
  const args = ["--parsable"];
  if (dependency) args.push(`--dependency=${dependency}`);
  const r = await run("sbatch", [...args, path]);
  if (r.code !== 0) {
    throw new UserError(`sbatch ${path}: ${r.stderr.trim().split("\n").pop() || `exit ${r.code}`}`);
  }
  return parseJobId(r.stdout);
}

/** The ranks of `stage` without a completion marker. */
export async function unfinishedRanks(stage: SlurmStage): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < stage.world; r++) if (!(await stage.done(r))) out.push(r);
  return out;
}

/**
 * Submits the unfinished ranks of `stage` as one job array (after `settings.after`, if set) and
 * its merge job after the array (afterok); records the submission in `dir/jobs.json`.
 */
export async function submitStage(
  stage: SlurmStage,
  settings: SlurmSettings,
  run: CommandRunner = runCommand,
): Promise<Submission> {
  const dir = resolve(stage.dir);
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  const ranks = await unfinishedRanks(stage);
  const cwd = Deno.cwd();
  const after = settings.after ? `afterok:${settings.after}` : "";
  let arrayJob: string | null = null;
  if (ranks.length > 0) {
    const script = sbatchScript({
      jobName: `jikji-${stage.name}`,
      array: arraySpec(ranks),
      output: `${dir}/logs/${stage.name}-%A_%a.out`,
      cwd,
      settings,
      task: stage.task,
      banner: `jikji ${stage.name} ${stage.world} ranks: rank`,
    });
    arrayJob = await _sbatch(script, `${dir}/${stage.name}.sbatch`, after, run);
  }
  let mergeJob: string | null = null;
  if (stage.merge) {
    const script = sbatchScript({
      jobName: `jikji-${stage.name}-merge`,
      output: `${dir}/logs/${stage.name}-merge-%j.out`,
      cwd,
      settings,
      task: stage.merge,
      banner: `jikji ${stage.name} ${stage.world} ranks: merge`,
    });
    const dep = arrayJob ? `afterok:${arrayJob}` : after;
    mergeJob = await _sbatch(script, `${dir}/${stage.name}-merge.sbatch`, dep, run);
  }
  const sub: Submission = {
    submitted_at: new Date().toISOString(),
    ranks,
    array_job: arrayJob,
    merge_job: mergeJob,
  };
  const path = `${dir}/jobs.json`;
  let all: Submission[] = [];
  try {
    all = JSON.parse(await Deno.readTextFile(path));
  } catch {
    // first submission
  }
  await writeJsonAtomic(path, [...all, sub]);
  return sub;
}

/** Waits until none of `jobs` is pending or running (squeue lists none of them). */
export async function waitForJobs(
  jobs: string[],
  run: CommandRunner = runCommand,
  pollMs = 500,
): Promise<void> {
  const ids = jobs.filter((j) => j !== "");
  while (ids.length > 0) {
    const r = await run("squeue", ["-h", "-o", "%i %T", "-j", ids.join(",")]);
    // squeue fails with "Invalid job id" once every job has left the controller's memory
    if (r.code !== 0 && /invalid job id/i.test(r.stderr)) return;
    if (r.code !== 0) throw new Error(`squeue: ${r.stderr.trim()}`);
    const live = r.stdout.split("\n").filter((l) =>
      /\b(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT)\b/
        .test(l)
    );
    if (live.length === 0) return;
    await new Promise((ok) => setTimeout(ok, pollMs));
  }
}

/**
 * Gathers the per-rank logs of `dir/logs` into `dir/ranks.log`: for each rank its latest
 * attempt's log (by jobs.json), under a `==> rank R (job J) <==` header, then the merge job's.
 * Returns the path, or null when there are no logs.
 */
export async function mergeRankLogs(dir: string, name: string): Promise<string | null> {
  let subs: Submission[];
  try {
    subs = JSON.parse(await Deno.readTextFile(`${dir}/jobs.json`));
  } catch {
    return null;
  }
  const latest = new Map<number, string>();
  for (const s of subs) for (const r of s.ranks) if (s.array_job) latest.set(r, s.array_job);
  const parts: string[] = [];
  for (const [rank, job] of [...latest].sort((a, b) => a[0] - b[0])) {
    const text = await _readOr(`${dir}/logs/${name}-${job}_${rank}.out`);
    parts.push(`==> rank ${rank} (job ${job}_${rank}) <==\n${text ?? "(no log)\n"}`);
  }
  const out = `${dir}/ranks.log`;
  await writeFileAtomic(out, parts.join(""));
  return out;
}

async function _readOr(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/** What {@linkcode launchStage} reports. */
export interface Launch {
  submission: Submission;
  /** With `wait`: the ranks still without a marker once the jobs ended (empty: all finished). */
  unfinished?: number[];
}

/**
 * Submits `stage` (only its unfinished ranks, then its merge), logs the job ids and, with `wait`,
 * waits for the jobs to end and reports the ranks that did not finish.
 */
export async function launchStage(
  stage: SlurmStage,
  settings: SlurmSettings,
  opts: { wait: boolean; log: (msg: string) => void; run?: CommandRunner },
): Promise<Launch> {
  const run = opts.run ?? runCommand;
  const sub = await submitStage(stage, settings, run);
  opts.log(
    sub.ranks.length > 0
      ? `${stage.name}: ranks ${
        arraySpec(sub.ranks)
      } of ${stage.world} submitted as job array ${sub.array_job}${
        sub.merge_job ? `, merge job ${sub.merge_job} after it (afterok)` : ""
      }`
      : `${stage.name}: all ${stage.world} ranks had finished${
        sub.merge_job ? `; merge job ${sub.merge_job}` : ""
      }`,
  );
  if (!opts.wait) return { submission: sub };
  await waitForJobs([sub.array_job ?? "", sub.merge_job ?? ""], run);
  const unfinished = await unfinishedRanks(stage);
  if (unfinished.length > 0) {
    opts.log(
      `${stage.name}: ranks ${
        arraySpec(unfinished)
      } of ${stage.world} did not finish (logs: ${stage.dir}/logs); the same command resubmits only them`,
    );
  }
  return { submission: sub, unfinished };
}
