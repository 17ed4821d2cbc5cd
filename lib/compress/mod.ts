/**
 * Model compression and growth: depth up-scaling (SOLAR), activation importance (Minitron) and
 * structured, GQA-aligned pruning (Kanana), and the `train upscale` / `train prune` commands.
 * Distillation and staged pretraining are training modes (lib/train/distill.ts, stages.ts).
 *
 * @module
 */

export * from "./upscale.ts";
export * from "./importance.ts";
export * from "./prune.ts";
export * from "./cli.ts";
