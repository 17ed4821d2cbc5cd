/**
 * The options of `deno task train sft`, `dpo` and `reward`, with their defaults in one
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
  reference: {
    type: "string",
    default: "",
    description: "frozen reference model folder (default: --init-from)",
  },
  rpo_alpha: {
    type: "number",
    default: 0,
    min: 0,
    description: "α of an NLL term on the chosen answers, per token (TRL's rpo_alpha; 0 = none)",
  },
} as const satisfies OptionsSpec;

/** `deno task train reward`: a Bradley–Terry reward model on preference pairs. */
export const REWARD_OPTIONS = {
  ...shared,
  init_from: {
    type: "string",
    default: "",
    description: "model folder to start from (causal: gets a value head; or a reward model)",
  },
  batch_size: { type: "integer", default: 4, min: 1, description: "pairs per micro-batch" },
  lr: { type: "number", default: 1e-5, min: 0, description: "peak learning rate" },
  center_rewards: {
    type: "number",
    default: 0,
    min: 0,
    description: "reward centring coefficient c: + c·(r_chosen + r_rejected)² (TRL's; e.g. 0.01)",
  },
  eval_every: {
    type: "integer",
    default: 0,
    min: 0,
    description: "held-out accuracy and margin every N steps (0 = before and after only)",
  },
  // unused by the reward trainer; present so all trainers share one options type
  loss: { type: "string", default: "sigmoid", description: "(dpo only)" },
  beta: { type: "number", default: 0.1, description: "(dpo only)" },
  gamma: { type: "number", default: 0.5, description: "(dpo only)" },
  loss_on: { type: "string", default: "assistant", description: "(sft only)" },
  packing: { type: "boolean", default: false, description: "(sft only)" },
  eos_eval: { type: "integer", default: 0, min: 0, description: "(sft only)" },
  pretrain_data: { type: "string", default: "", description: "(sft only)" },
  pretrain_rows: { type: "integer", default: 0, min: 0, description: "(sft only)" },
} as const satisfies OptionsSpec;

const { init_from: _i, data: _d, heldout: _h, ...dpoTraining } = DPO_OPTIONS;

/** `deno task train online-dpo`: rounds of sample → score → pair → DPO (the DPO options per round). */
export const ONLINE_DPO_OPTIONS = {
  ...dpoTraining,
  policy: { type: "string", default: "", description: "the starting policy's model folder" },
  reward_model: {
    type: "string",
    default: "",
    description: "reward model folder (LlamaForSequenceClassification, `train reward`)",
  },
  prompts: {
    type: "string",
    default: "",
    description: "prompts to sample from: pairs or conversations JSONL (their prompts)",
  },
  heldout_prompts: {
    type: "string",
    default: "",
    description: "held-out prompts: each round's fresh samples are scored on these",
  },
  rounds: { type: "integer", default: 3, min: 1, description: "sample → DPO rounds" },
  prompts_per_round: { type: "integer", default: 64, min: 1, description: "prompts per round" },
  samples_per_prompt: {
    type: "integer",
    default: 4,
    min: 2,
    description: "answers sampled per prompt (best vs worst becomes a pair)",
  },
  temperature: { type: "number", default: 1, min: 0, description: "sampling temperature" },
  top_p: { type: "number", default: 0.9, min: 0, max: 1, description: "nucleus sampling mass" },
  max_new_tokens: { type: "integer", default: 64, min: 1, description: "tokens per answer" },
  eval_samples: {
    type: "integer",
    default: 4,
    min: 1,
    description: "samples per held-out prompt each round (mean reward, length, KL)",
  },
  steps: { type: "integer", default: 20, min: 1, description: "DPO steps per round" },
  reference: {
    type: "string",
    default: "",
    description: "the fixed reference model folder (default: --policy)",
  },
} as const satisfies OptionsSpec;

/** `deno task train sample --best-of N`: N answers per prompt, the reward model's best kept. */
export const BEST_OF_OPTIONS = {
  best_of: {
    type: "integer",
    default: 0,
    min: 0,
    description: "answers per prompt (with --reward-model)",
  },
  reward_model: { type: "string", default: "", description: "reward model folder for --best-of" },
  prompts: {
    type: "string",
    default: "",
    description: "JSONL of prompts (pairs or conversations) for --best-of",
  },
  output: { type: "string", default: "", description: "JSONL of the best answers (for --best-of)" },
  seq_len: { type: "integer", default: 512, min: 2, description: "tokens per scored row" },
} as const satisfies OptionsSpec;
