/**
 * Training: token shards, tokenizers, the mixed data loader, optimizer and schedule, engines,
 * checkpoints, vocabulary extension, distillation, training stages and the training loop
 * (generation: lib/model/generate.ts).
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
export * from "./options.ts";
export * from "./trainer.ts";
export * from "./distill.ts";
export * from "./stages.ts";
