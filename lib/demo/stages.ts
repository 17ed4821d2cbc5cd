/**
 * The demo's stages in pipeline order. A stage issue replaces its `planned` entry with the stage
 * it implements; the demo runs the implemented ones and lists the rest as not yet built.
 *
 * @module
 */

import { corpusStage } from "./corpus_stage.ts";
import { crawlStage } from "./crawl_stage.ts";
import { qualityStage } from "../quality/demo_stage.ts";
import { evalStage } from "../eval/demo_stage.ts";
import { filterStage } from "./filter_stage.ts";
import { trainStage } from "./train_stage.ts";
import { posttrainStage } from "../posttrain/demo_stage.ts";
import { tokenizerStage } from "../tokenizer/demo_stage.ts";
import type { DemoStage, PlannedStage } from "./stage.ts";

/** Every stage of the pipeline, in order. */
export const DEMO_STAGES: (DemoStage | PlannedStage)[] = [
  corpusStage,
  crawlStage,
  filterStage,
  qualityStage,
  tokenizerStage,
  trainStage,
  posttrainStage,
  evalStage,
];

/** True for stages that exist. */
export function isImplemented(stage: DemoStage | PlannedStage): stage is DemoStage {
  return !("planned" in stage);
}
