/**
 * `deno task demo`: runs every implemented pipeline stage in order on the embedded default corpus,
 * writing one run folder with a summary (`summary.json`, `summary.md`) that says what ran, and the
 * run's `report.html` (written by the run folder when it finishes).
 *
 * @module
 */

import { createRun } from "../run/run_folder.ts";
import { formatDuration } from "../cli/progress.ts";
import { summaryMarkdown } from "./summary.ts";
import { DEMO_STAGES, isImplemented } from "./stages.ts";
import type { DemoContext } from "./stage.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  cacheDir: string;
  runsDir: string;
  quiet: boolean;
  /** Run only these stages (and stop after the last one named). */
  only?: string[];
  config: Record<string, unknown>;
}

/** One stage's outcome. */
export interface StageResult {
  stage: string;
  status: "ran" | "not built yet" | "skipped";
  seconds?: number;
  figures?: Record<string, unknown>;
}

/** Runs the demo; returns the run folder and per-stage results. */
export async function runDemo(
  options: DemoOptions,
): Promise<{ dir: string; results: StageResult[] }> {
  const run = await createRun({
    task: "demo",
    config: options.config,
    runsDir: options.runsDir,
    echo: !options.quiet,
  });
  const ctx: DemoContext = {
    run,
    cacheDir: options.cacheDir,
    quiet: options.quiet,
    artifacts: new Map(),
  };
  const results: StageResult[] = [];
  for (const stage of DEMO_STAGES) {
    if (options.only && !options.only.includes(stage.name)) {
      results.push({ stage: stage.name, status: "skipped" });
      continue;
    }
    if (!isImplemented(stage)) {
      run.log(`stage ${stage.name}: not built yet (${stage.summary})`);
      results.push({ stage: stage.name, status: "not built yet" });
      continue;
    }
    run.log(`stage ${stage.name}: ${stage.summary}`);
    const t0 = performance.now();
    const figures = await stage.run(ctx);
    const seconds = (performance.now() - t0) / 1000;
    run.metric({ stage: stage.name, seconds, ...figures });
    run.log(`stage ${stage.name}: done in ${formatDuration(seconds)}`, { figures });
    results.push({ stage: stage.name, status: "ran", seconds, figures });
  }
  const artifacts = Object.fromEntries(ctx.artifacts);
  await run.writeText("summary.md", summaryMarkdown(run.dir, results));
  await run.finish({ stages: results, artifacts });
  return { dir: run.dir, results };
}
