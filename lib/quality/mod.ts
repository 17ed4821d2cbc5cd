/**
 * Model-based quality filters: the KenLM-compatible n-gram perplexity filter and the
 * fastText-style educational classifier, their pipeline steps and subcommands.
 *
 * @module
 */

export * as ngram from "./ngram/mod.ts";
export * as classifier from "./classifier/mod.ts";
export * from "./steps.ts";
export * from "./commands.ts";
