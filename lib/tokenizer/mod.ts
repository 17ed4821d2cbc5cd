/**
 * The tokenizer stage: a Korean vocabulary learned by a Unigram trainer on branching-entropy
 * pre-tokens, merged into Llama 3.1's byte-level BPE tokenizer as a stock Hugging Face
 * `tokenizer.json`; sentencepiece files read and encoded exactly as spm_encode does.
 *
 * @module
 */

export * from "./branching_entropy.ts";
export * from "./unigram.ts";
export * from "./unigram_trainer.ts";
export * from "./unigram_files.ts";
export * from "./sentencepiece.ts";
export * from "./byte_level.ts";
export * from "./bpe.ts";
export * from "./merge.ts";
export * from "./corpus.ts";
export * from "./report.ts";
export * from "./build.ts";
