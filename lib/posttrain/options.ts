/**
 * The options of `deno task train sft` and `deno task train dpo`, with their defaults in one
 * place: the optimizer, precision and engine options of `deno task train` (same names, same
 * defaults unless post-training needs smaller ones), plus each trainer's own.
 *
 * @module
 */

import type { OptionsSpec } from "../cli/options.ts";
import { TRAIN_OPTIONS } from "../train/options.ts";
import { PREFERENCE_LOSSES } from "./preference_loss.ts";

const shared = {
  init_from: {
    type: "string",
    default: "",
    description: "model folder to post-train (with tokenizer.json and tokenizer_config.json)",
  },
  data: { type: "string", default: "", description: "training records (JSONL)" },
  heldout: { type: "string", default: "", description: "held-out records scored before and after" },
  steps: { type: "integer", default: 100, min: 1, description: "optimizer steps" },
  batch_size: TRAIN_OPTIONS.batch_size,
  seq_len: { type: "integer", default: 256, min: 2, description: "tokens per row (T)" },
  grad_accum: TRAIN_OPTIONS.grad_accum,
  lr: { type: "number", default: 1e-5, min: 0, description: "peak learning rate" },
  warmup_steps: { type: "integer", default: 10, min: 0, description: "linear warm-up steps" },
  min_lr_ratio: TRAIN_OPTIONS.min_lr_ratio,
  beta1: TRAIN_OPTIONS.beta1,
  beta2: TRAIN_OPTIONS.beta2,
  eps: TRAIN_OPTIONS.eps,
  weight_decay: { type: "number", default: 0, min: 0, description: "AdamW decoupled weight decay" },
  clip: TRAIN_OPTIONS.clip,
  precision: TRAIN_OPTIONS.precision,
  fp8_attention: TRAIN_OPTIONS.fp8_attention,
  amax_history: TRAIN_OPTIONS.amax_history,
  fp8_margin: TRAIN_OPTIONS.fp8_margin,
  ref_ops: TRAIN_OPTIONS.ref_ops,
  seed: TRAIN_OPTIONS.seed,
  ckpt_every: TRAIN_OPTIONS.ckpt_every,
  engine: TRAIN_OPTIONS.engine,
  save_dtype: TRAIN_OPTIONS.save_dtype,
  push_to: TRAIN_OPTIONS.push_to,
  push_every: TRAIN_OPTIONS.push_every,
} as const;

/** `deno task train sft`. */
export const SFT_OPTIONS = {
  ...shared,
  loss_on: {
    type: "string",
    default: "assistant",
    choices: ["assistant", "all"],
    description: "tokens the loss covers: assistant turns (and their end token) or all",
  },
  packing: {
    type: "boolean",
    default: true,
    description: "pack several conversations per row (document masks; --no-packing pads)",
  },
  pretrain_data: {
    type: "string",
    default: "",
    description: "a token shard of pretraining text mixed into every SFT micro-batch",
  },
  pretrain_rows: {
    type: "integer",
    default: 0,
    min: 0,
    description: "rows of pretraining text (full loss) added to each micro-batch",
  },
  eos_eval: {
    type: "integer",
    default: 16,
    min: 0,
    description: "held-out prompts generated from, to count answers that end with EOS",
  },
  // unused by SFT; present so both trainers share one options type
  loss: { type: "string", default: "sigmoid", description: "(dpo only)" },
  beta: { type: "number", default: 0.1, description: "(dpo only)" },
  gamma: { type: "number", default: 0.5, description: "(dpo only)" },
} as const satisfies OptionsSpec;

/** `deno task train dpo`. */
export const DPO_OPTIONS = {
  ...shared,
  batch_size: { type: "integer", default: 2, min: 1, description: "pairs per micro-batch" },
  lr: { type: "number", default: 5e-7, min: 0, description: "peak learning rate" },
  loss: {
    type: "string",
    default: "sigmoid",
    choices: PREFERENCE_LOSSES,
    description: "sigmoid (DPO) | ipo | hinge | thunder (reference-free margin) | simpo",
  },
  beta: { type: "number", default: 0.1, min: 0, description: "β (simpo: use 2)" },
  gamma: { type: "number", default: 0.5, min: 0, description: "γ margin of thunder and simpo" },
  loss_on: { type: "string", default: "assistant", description: "(sft only)" },
  packing: { type: "boolean", default: false, description: "(sft only)" },
  eos_eval: { type: "integer", default: 0, min: 0, description: "(sft only)" },
  pretrain_data: { type: "string", default: "", description: "(sft only)" },
  pretrain_rows: { type: "integer", default: 0, min: 0, description: "(sft only)" },
} as const satisfies OptionsSpec;
