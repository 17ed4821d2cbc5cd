/**
 * Training: token shards, tokenizers, the mixed data loader, optimizer and schedule, engines,
 * checkpoints, vocabulary extension, generation and the training loop.
 *
 * @module
 */

export * from "./shards.ts";
export * from "./tokenizer.ts";
export * from "./tokenize.ts";
export * from "./data.ts";
export * from "./optim.ts";
export * from "./engine.ts";
export * from "./checkpoint.ts";
export * from "./extend.ts";
export * from "./generate.ts";
export * from "./options.ts";
export * from "./trainer.ts";
