/**
 * KenLM-compatible n-gram language models: out-of-core counting, interpolated modified
 * Kneser–Ney estimation, ARPA reading and writing, and ccnet / Thunder-LLM document scores.
 *
 * @module
 */

export * from "./vocab.ts";
export * from "./count.ts";
export * from "./estimate.ts";
export * from "./model.ts";
export * from "./train.ts";
export * from "./arpa.ts";
export * from "./perplexity.ts";
