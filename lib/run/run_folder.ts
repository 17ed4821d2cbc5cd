/**
 * Run folders: every task run writes `runs/<task>-<timestamp>/` holding the resolved config
 * (`config.json`), a manifest (`manifest.json`: Jikji version, git commit, Deno version, GPU
 * adapter, seed, command line), `log.jsonl`, `metrics.jsonl` and, at the end, `summary.json` and
 * `report.html` (the run's figures as plots, lib/report).
 * Files that matter are written atomically; JSONL logs are appended a whole line at a time, so a
 * kill leaves at worst one unparseable last line, which readers skip.
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { gitCommit, JIKJI_VERSION } from "./version.ts";
import { describeAdapter } from "../gpu/device.ts";

/** Options of {@linkcode createRun}. */
export interface RunOptions {
  /** Task name, e.g. "filter" (the folder is `<runsDir>/<task>-<timestamp>`). */
  task: string;
  /** The resolved config (saved as config.json). */
  config: Record<string, unknown>;
  /** Seed of the run, when it has one. */
  seed?: number;
  /** Parent folder (default "runs"). */
  runsDir?: string;
  /** Use exactly this folder instead of a new timestamped one (resume). */
  dir?: string;
  /** Record the GPU adapter in the manifest (default true). */
  gpu?: boolean;
  /** Echo log lines to stderr (default true). */
  echo?: boolean;
  /** Extra manifest fields. */
  extra?: Record<string, unknown>;
}

/** The manifest written into every run folder. */
export interface Manifest {
  jikji_version: string;
  git_commit: string | null;
  deno_version: string;
  v8_version: string;
  typescript_version: string;
  os: string;
  arch: string;
  gpu_adapter: unknown;
  seed: number | null;
  task: string;
  args: string[];
  started_at: string;
  [key: string]: unknown;
}

/** A run folder with its log and metric streams. */
export class RunFolder {
  readonly dir: string;
  readonly manifest: Manifest;
  #echo: boolean;
  #log: Deno.FsFile;
  #metrics: Deno.FsFile;
  #enc = new TextEncoder();

  constructor(dir: string, manifest: Manifest, echo: boolean) {
    this.dir = dir;
    this.manifest = manifest;
    this.#echo = echo;
    this.#log = Deno.openSync(`${dir}/log.jsonl`, { append: true, create: true });
    this.#metrics = Deno.openSync(`${dir}/metrics.jsonl`, { append: true, create: true });
  }

  /** Path of `name` inside the run folder. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Appends a log line `{t, level, msg, ...fields}`; echoes `msg` to stderr unless quiet. */
  log(
    msg: string,
    fields: Record<string, unknown> = {},
    level: "info" | "warn" | "error" = "info",
  ) {
    const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields });
    this.#log.writeSync(this.#enc.encode(line + "\n"));
    if (this.#echo) console.error(level === "info" ? msg : `${level}: ${msg}`);
  }

  /** Appends one metrics record (e.g. `{step, loss, lr}`) with a timestamp. */
  metric(record: Record<string, unknown>): void {
    const line = JSON.stringify({ t: new Date().toISOString(), ...record });
    this.#metrics.writeSync(this.#enc.encode(line + "\n"));
  }

  /**
   * Drops the metric records of steps after `step` (written after the checkpoint a resume starts
   * from, and about to be written again), so `metrics.jsonl` holds each step once.
   */
  async dropMetricsAfter(step: number): Promise<number> {
    const path = this.path("metrics.jsonl");
    const records = await readJsonlLog(path);
    const keep = records.filter((r) => typeof r.step !== "number" || r.step <= step);
    if (keep.length === records.length) return 0;
    this.#metrics.close();
    await writeFileAtomic(path, keep.map((r) => JSON.stringify(r) + "\n").join(""));
    this.#metrics = Deno.openSync(path, { append: true, create: true });
    return records.length - keep.length;
  }

  /** Writes `name` (JSON) inside the run folder atomically. */
  async writeJson(name: string, value: unknown): Promise<void> {
    await writeJsonAtomic(this.path(name), value);
  }

  /** Writes `name` (text) inside the run folder atomically. */
  async writeText(name: string, text: string): Promise<void> {
    await writeFileAtomic(this.path(name), text);
  }

  /**
   * Writes `summary.json`, closes the streams and writes the run's `report.html` (lib/report); a
   * report that cannot be made is logged as a warning and does not fail the run.
   */
  async finish(summary: Record<string, unknown>): Promise<void> {
    await this.writeJson("summary.json", {
      finished_at: new Date().toISOString(),
      started_at: this.manifest.started_at,
      ...summary,
    });
    try {
      const { writeReport } = await import("../report/report.ts");
      await writeReport(this.dir);
    } catch (err) {
      this.log(`report.html not written: ${(err as Error).message}`, {}, "warn");
    }
    this.close();
  }

  /** Closes the log streams. */
  close(): void {
    try {
      this.#log.close();
      this.#metrics.close();
    } catch { /* already closed */ }
  }
}

/** A compact UTC timestamp for folder names: 20261122T231005Z. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Creates a run folder (or reopens `options.dir` to resume) and writes its config and manifest.
 *
 * @example
 * ```ts
 * import { createRun } from "./run_folder.ts";
 * const runsDir = await Deno.makeTempDir();
 * const run = await createRun({ task: "demo", config: { steps: 3 }, runsDir, gpu: false, echo: false });
 * run.metric({ step: 1, loss: 2.5 });
 * await run.finish({ ok: true });
 * ```
 */
export async function createRun(options: RunOptions): Promise<RunFolder> {
  const runsDir = options.runsDir ?? "runs";
  let dir = options.dir;
  if (dir) {
    await Deno.mkdir(dir, { recursive: true });
  } else {
    await Deno.mkdir(runsDir, { recursive: true });
    const base = `${runsDir}/${options.task}-${timestamp()}`;
    for (let i = 1;; i++) {
      dir = i === 1 ? base : `${base}-${i}`;
      try {
        await Deno.mkdir(dir);
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
    }
  }
  const manifest: Manifest = {
    jikji_version: JIKJI_VERSION,
    git_commit: await gitCommit(),
    deno_version: Deno.version.deno,
    v8_version: Deno.version.v8,
    typescript_version: Deno.version.typescript,
    os: Deno.build.os,
    arch: Deno.build.arch,
    gpu_adapter: options.gpu === false ? "not used" : await describeAdapter(),
    seed: options.seed ?? null,
    task: options.task,
    args: Deno.args,
    started_at: new Date().toISOString(),
    ...options.extra,
  };
  const name = options.dir ? `manifest-${timestamp()}.json` : "manifest.json";
  await writeJsonAtomic(`${dir}/config.json`, options.config);
  await writeJsonAtomic(`${dir}/${name}`, manifest);
  return new RunFolder(dir!, manifest, options.echo ?? true);
}

/** Reads a JSONL log or metrics file, skipping an unparseable last line left by a kill. */
export async function readJsonlLog(path: string): Promise<Record<string, unknown>[]> {
  const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim() !== "");
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < lines.length; i++) {
    try {
      out.push(JSON.parse(lines[i]));
    } catch (err) {
      if (i !== lines.length - 1) {
        throw new Error(`${path}:${i + 1}: invalid JSON line`, { cause: err });
      }
    }
  }
  return out;
}
