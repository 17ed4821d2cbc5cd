/**
 * An evaluation run over many task files: each task runs in turn (a task that fails is listed as
 * skipped and the others go on), group files and tags get their averages, and the run folder gets
 * `results.json` (config, per-task metrics with standard errors, group lines, sample-level
 * records), `results.md` and `results.html`. Model requests are cached in `requests.jsonl` so a
 * rerun with `--resume` continues where it stopped. A run in which no task could be evaluated
 * ends with a one-line UserError (after writing its results).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { RunFolder } from "../run/run_folder.ts";
import { RequestCache } from "./cache.ts";
import type { DataOptions } from "./data.ts";
import type { EvalModel } from "./model.ts";
import { htmlReport, markdownReport, type SkippedTask } from "./report.ts";
import { runTask, type TaskResult } from "./runner.ts";
import { type GroupConfig, readSuiteFile } from "./task_file.ts";
import { aggregateGroups, type GroupResult } from "./groups.ts";
import type { ProgressMode } from "../cli/progress.ts";

/** Options of {@linkcode evaluateSuite}. */
export interface SuiteOptions {
  taskFiles: string[];
  model: EvalModel | "oracle";
  data: DataOptions;
  run: RunFolder;
  limit?: number;
  progress?: ProgressMode;
  title?: string;
  /** Extra config recorded in results.json. */
  config?: Record<string, unknown>;
}

/** What {@linkcode evaluateSuite} returns. */
export interface SuiteResult {
  results: TaskResult[];
  skipped: SkippedTask[];
  groups: GroupResult[];
}

/** Files that other files in the list `include` (base files, not tasks of their own). */
async function _includedFiles(files: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(f);
    } catch {
      continue; // reported when the file itself is read
    }
    const m = /^include:\s*(.+)$/m.exec(text);
    if (!m) continue;
    const dir = f.includes("/") ? f.slice(0, f.lastIndexOf("/")) : ".";
    const names = m[1].trim().startsWith("[")
      ? m[1].replace(/[[\]"']/g, "").split(",").map((x) => x.trim())
      : [m[1].trim().replace(/^["']|["']$/g, "")];
    for (const n of names) out.add(n.startsWith("/") ? n : `${dir}/${n}`);
  }
  return out;
}

/** Runs every task file and writes the results into the run folder. */
export async function evaluateSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const cache = await RequestCache.open(opts.run.path("requests.jsonl"));
  if (cache.loaded) opts.run.log(`resuming: ${cache.loaded} cached model answers`);
  const results: TaskResult[] = [];
  const skipped: SkippedTask[] = [];
  const groups: GroupConfig[] = [];
  const tags = new Map<string, string[]>();
  const seen = new Set<string>();
  const included = await _includedFiles(opts.taskFiles);
  try {
    for (const file of opts.taskFiles) {
      if (included.has(file)) continue;
      try {
        const read = await readSuiteFile(file);
        if ("group" in read) {
          groups.push(read.group);
          continue;
        }
        const task = read.task;
        if (seen.has(task.task)) {
          throw new UserError(`${file}: task name "${task.task}" used twice`);
        }
        seen.add(task.task);
        const r = await runTask(task, {
          model: opts.model,
          data: opts.data,
          cache,
          limit: opts.limit,
          progress: opts.progress,
        });
        results.push(r);
        for (const t of task.tag) tags.set(t, [...tags.get(t) ?? [], task.task]);
        const line = Object.entries(r.metrics).map(([k, v]) => `${k}=${v.value.toFixed(4)}`)
          .join(" ");
        opts.run.log(`${r.task}: ${line} (n=${r.n}, ${r.skipped_rows.length} rows skipped)`, {
          task: r.task,
          metrics: r.metrics,
        });
        opts.run.metric({ task: r.task, n: r.n, seconds: r.seconds, ...r.metrics });
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        skipped.push({ file, reason: err.message });
        opts.run.log(`skipped ${file}: ${err.message}`, {}, "warn");
      }
    }
  } finally {
    cache.close();
  }
  const agg = aggregateGroups(results, tags, groups);
  for (const m of agg.missing) opts.run.log(`group not averaged: ${m}`, {}, "warn");
  const title = opts.title ??
    `Jikji eval: ${opts.model === "oracle" ? "oracle" : opts.model.name}`;
  await opts.run.writeJson("results.json", {
    config: {
      model: opts.model === "oracle" ? "oracle" : opts.model.name,
      limit: opts.limit ?? null,
      data_root: opts.data.dataRoot,
      task_files: opts.taskFiles,
      ...opts.config,
    },
    results: results.map((r) => ({ ...r })),
    groups: agg.lines,
    groups_not_averaged: agg.missing,
    skipped_tasks: skipped,
  });
  await opts.run.writeText("results.md", markdownReport(results, skipped, title, agg.lines));
  await opts.run.writeText("results.html", htmlReport(results, skipped, title, agg.lines));
  if (results.length === 0) {
    const first = skipped[0];
    throw new UserError(
      first
        ? `no task could be evaluated: ${skipped.length} skipped (first: ${
          first.reason.startsWith(first.file) ? "" : `${first.file}: `
        }${first.reason})`
        : "no task could be evaluated: no task files among those given",
    );
  }
  return { results, skipped, groups: agg.lines };
}
