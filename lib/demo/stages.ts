/**
 * The demo's stages in pipeline order. A stage issue replaces its `planned` entry with the stage
 * it implements; the demo runs the implemented ones and lists the rest as not yet built.
 *
 * @module
 */

import { corpusStage } from "./corpus_stage.ts";
import { trainStage } from "./train_stage.ts";
import type { DemoStage, PlannedStage } from "./stage.ts";

/** Every stage of the pipeline, in order. */
export const DEMO_STAGES: (DemoStage | PlannedStage)[] = [
  corpusStage,
  { name: "crawl", summary: "polite crawl of a local mirror of the corpus", planned: true },
  { name: "filter", summary: "rule filters, PII scrubbing, MinHash-LSH dedup", planned: true },
  {
    name: "quality",
    summary: "5-gram KN perplexity filter and fastText-style classifier",
    planned: true,
  },
  { name: "tokenizer", summary: "Korean Unigram vocabulary merged into Llama 3.1", planned: true },
  trainStage,
  { name: "eval", summary: "Korean and English benchmarks before and after", planned: true },
];

/** True for stages that exist. */
export function isImplemented(stage: DemoStage | PlannedStage): stage is DemoStage {
  return !("planned" in stage);
}
