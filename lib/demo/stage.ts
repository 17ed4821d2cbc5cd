/**
 * The demo's stage interface. `deno task demo` runs the registered stages in pipeline order on the
 * embedded default corpus, each writing into its own folder of the demo's run folder and handing
 * paths to later stages through `artifacts`.
 *
 * @module
 */

import type { RunFolder } from "../run/run_folder.ts";

/** What a stage gets. */
export interface DemoContext {
  /** The demo's run folder; a stage writes under `run.path(stageName)`. */
  run: RunFolder;
  /** Where downloads live (git-ignored), e.g. `data/cache`. */
  cacheDir: string;
  /** No progress output. */
  quiet: boolean;
  /** Paths produced by earlier stages, e.g. `corpus.ko.docs` → a JSONL file. */
  artifacts: Map<string, string>;
}

/** One pipeline stage of the demo. */
export interface DemoStage {
  /** Short name, e.g. "filter". */
  name: string;
  /** One line: what the stage does in the demo. */
  summary: string;
  /** Runs the stage; returns figures for the summary. */
  run(ctx: DemoContext): Promise<Record<string, unknown>>;
}

/** A stage the pipeline has but Jikji does not implement yet: listed, not run. */
export interface PlannedStage {
  name: string;
  summary: string;
  planned: true;
}
