/**
 * Every benchmark suite, by name. Stage issues add theirs here.
 *
 * @module
 */

import type { BenchSuite } from "./harness.ts";
import { crawlBench, extractBench } from "./crawl_bench.ts";
import { ioBench } from "./io_bench.ts";
import { gemmBench } from "./gemm_bench.ts";
import { attentionBench } from "./attention_bench.ts";
import { gpuBench } from "./gpu_bench.ts";
import { qualityBench } from "../quality/quality_bench.ts";
import { filterBench } from "./filter_bench.ts";
import { train124mBench, trainBench } from "./train_bench.ts";
import { evalBench } from "./eval_bench.ts";
import { sftBench } from "./sft_bench.ts";
import { tokenizerBench } from "../tokenizer/tokenizer_bench.ts";

/** The suites `deno task bench` knows. */
export const BENCH_SUITES: BenchSuite[] = [
  crawlBench,
  extractBench,
  ioBench,
  gemmBench,
  attentionBench,
  gpuBench,
  qualityBench,
  filterBench,
  trainBench,
  train124mBench,
  evalBench,
  sftBench,
  tokenizerBench,
];
