/**
 * Every benchmark suite, by name. Stage issues add theirs here.
 *
 * @module
 */

import type { BenchSuite } from "./harness.ts";
import { ioBench } from "./io_bench.ts";
import { gemmBench } from "./gemm_bench.ts";
import { trainBench } from "./train_bench.ts";

/** The suites `deno task bench` knows. */
export const BENCH_SUITES: BenchSuite[] = [ioBench, gemmBench, trainBench];
