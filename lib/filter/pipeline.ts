/**
 * The default filter pipeline (the same as `data/configs/filter.yaml`).
 *
 * @module
 */

import type { PipelineSpec } from "./runner.ts";

/** normalize → line_punctuation → rules → pii → exact_dedup → minhash_dedup, paper defaults. */
export const DEFAULT_PIPELINE: PipelineSpec = [
  { normalize: {} },
  { line_punctuation: {} },
  { rules: {} },
  { pii: {} },
  { exact_dedup: {} },
  { minhash_dedup: {} },
];
