/**
 * The options of `deno task train` with their defaults in one place (Thunder-LLM's optimizer
 * settings; the tiny preset's shapes). The YAML presets in data/configs/ set the same keys.
 *
 * @module
 */

import type { OptionsSpec } from "../cli/options.ts";
import type { TrainOptions } from "./trainer.ts";
import { validateStages } from "./stages.ts";

/** Every training option, its type and default. */
export const TRAIN_OPTIONS = {
  model_config: { type: "string", default: "", description: "config.json to train from scratch" },
  init_from: { type: "string", default: "", description: "model folder to continue pretraining" },
  tokenizer: {
    type: "string",
    default: "",
    description: "tokenizer.json carried into checkpoints",
  },
  data: {
    type: "string[]",
    default: [],
    description: "sources NAME=FILE.tok[,FILE.tok] (repeatable)",
  },
  mix: {
    type: "string[]",
    default: [],
    description: "mixing weights NAME=W (default 1 each: en:ko 1:1)",
  },
  steps: { type: "integer", default: 200, min: 1, description: "optimizer steps" },
  batch_size: {
    type: "integer",
    default: 4,
    min: 1,
    max: 1 << 16,
    description: "sequences per micro-batch (B)",
  },
  seq_len: {
    type: "integer",
    default: 64,
    min: 2,
    max: 1 << 20,
    description: "tokens per sequence (T)",
  },
  grad_accum: {
    type: "integer",
    default: 1,
    min: 1,
    max: 1 << 16,
    description: "micro-batches per step",
  },
  lr: { type: "number", default: 3e-3, min: 0, max: 10, description: "peak learning rate" },
  warmup_steps: { type: "integer", default: 20, min: 0, description: "linear warm-up steps" },
  min_lr_ratio: {
    type: "number",
    default: 0.1,
    min: 0,
    max: 1,
    description: "cosine floor (× peak)",
  },
  beta1: { type: "number", default: 0.9, min: 0, max: 1, description: "AdamW β1" },
  beta2: { type: "number", default: 0.95, min: 0, max: 1, description: "AdamW β2" },
  eps: { type: "number", default: 1e-5, min: 0, description: "AdamW epsilon" },
  weight_decay: {
    type: "number",
    default: 0.1,
    min: 0,
    description: "AdamW decoupled weight decay",
  },
  clip: {
    type: "number",
    default: 1.0,
    min: 0,
    description: "global gradient-norm clip (0 = off)",
  },
  precision: {
    type: "string",
    default: "bf16",
    choices: ["fp32", "bf16", "fp8"],
    description: "fp32 | bf16 | fp8 (lib/model/precision.ts: where each rounds)",
  },
  fp8_attention: {
    type: "boolean",
    default: false,
    description: "fp8 ablation: attention in FP8 too",
  },
  amax_history: {
    type: "integer",
    default: 16,
    min: 1,
    description: "fp8: delayed scaling's amax history length (Transformer Engine's default)",
  },
  fp8_margin: {
    type: "integer",
    default: 0,
    min: 0,
    description: "fp8: scale margin in powers of two",
  },
  ref_ops: {
    type: "string",
    default: "",
    description: "debug: ops of a GPU run sent to the CPU reference, e.g. attention,rmsnorm",
  },
  seed: { type: "integer", default: 0, description: "seed of init and data sampling" },
  eval_every: {
    type: "integer",
    default: 50,
    min: 0,
    description: "validation every N steps (0 = end only)",
  },
  eval_batches: {
    type: "integer",
    default: 4,
    min: 1,
    description: "validation batches per source",
  },
  ckpt_every: { type: "integer", default: 50, min: 0, description: "checkpoint every N steps" },
  push_to: {
    type: "string",
    default: "",
    description: "push checkpoints to this Hub model repo (OWNER/NAME) in the background",
  },
  push_every: {
    type: "integer",
    default: 0,
    min: 0,
    description: "with --push-to: push checkpoints at multiples of N steps (0: final model only)",
  },
  val_fraction: {
    type: "number",
    default: 0.05,
    min: 0,
    max: 0.5,
    description: "held-out documents per source",
  },
  engine: {
    type: "string",
    default: "auto",
    choices: ["auto", "cpu", "gpu"],
    description: "gpu = WebGPU; cpu = TypeScript reference; auto = gpu when an adapter exists",
  },
  save_dtype: {
    type: "string",
    default: "f32",
    choices: ["f32", "bf16", "f16"],
    description: "dtype of the final model",
  },
  stages: {
    type: "any",
    default: [],
    validate: validateStages,
    description:
      "staged pretraining: a list of { name, tokens, mix, lr_start, lr_end, schedule } (sets the steps)",
  },
} as const satisfies OptionsSpec;

/** The options `train distill` adds: the teacher and the distillation loss. */
export const DISTILL_OPTIONS = {
  teacher: { type: "string", required: true, description: "teacher model folder (same tokenizer)" },
  distill_temperature: { type: "number", default: 1, min: 0, description: "softmax temperature τ" },
  distill_top_k: {
    type: "integer",
    default: 32,
    min: 0,
    description: "teacher logits kept per token (0 = the full distribution, no cache)",
  },
  distill_ce_weight: {
    type: "number",
    default: 0,
    min: 0,
    max: 1,
    description: "α: loss = (1 − α)·τ²·KL + α·cross-entropy",
  },
  teacher_cache: {
    type: "string",
    default: "",
    description: 'folder of cached teacher top-k logits ("" = the run folder\'s, off = none)',
  },
} as const satisfies OptionsSpec;

/** The defaults as a TrainOptions object, with `overrides`. */
export function trainOptions(overrides: Partial<TrainOptions> = {}): TrainOptions {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(TRAIN_OPTIONS)) o[k] = (v as { default: unknown }).default;
  return { ...(o as unknown as TrainOptions), ...overrides };
}
