/**
 * The filter stage: normalisation, Thunder-LLM rule filters, PII scrubbing, exact and
 * MinHash-LSH dedup (CPU and WebGPU), and the sharded, resumable runner.
 *
 * @module
 */

export * from "./normalize.ts";
export * from "./rules.ts";
export * from "./pii.ts";
export * from "./minhash.ts";
export * from "./minhash_wasm.ts";
export * from "./minhash_gpu.ts";
export * from "./sorted_runs.ts";
export * from "./dedup.ts";
export * from "./steps.ts";
export * from "./runner.ts";
export * from "./pipeline.ts";
