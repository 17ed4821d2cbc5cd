/**
 * An evaluation run over many task files: each task runs in turn (a task that fails is listed as
 * skipped and the others go on), and the run folder gets `results.json` (config, per-task metrics
 * with standard errors, sample-level records), `results.md` and `results.html`. Model requests are
 * cached in `requests.jsonl` so a rerun with `--resume` continues where it stopped.
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
import { readTaskFile } from "./task_file.ts";
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
}

/** Runs every task file and writes the results into the run folder. */
export async function evaluateSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const cache = await RequestCache.open(opts.run.path("requests.jsonl"));
  if (cache.loaded) opts.run.log(`resuming: ${cache.loaded} cached model answers`);
  const results: TaskResult[] = [];
  const skipped: SkippedTask[] = [];
  const seen = new Set<string>();
  try {
    for (const file of opts.taskFiles) {
      try {
        const task = await readTaskFile(file);
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
    skipped_tasks: skipped,
  });
  await opts.run.writeText("results.md", markdownReport(results, skipped, title));
  await opts.run.writeText("results.html", htmlReport(results, skipped, title));
  return { results, skipped };
}
