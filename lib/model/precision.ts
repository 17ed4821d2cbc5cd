/**
 * The one precision policy of a Llama run, read by the model code (lib/model/llama.ts) and so
 * identical on both backends. Rounding points:
 *
 * | where | fp32 | bf16 | fp8 |
 * |-------|------|------|-----|
 * | 7 linear layers per block: x, W (forward) | f32 | BF16 | E4M3, delayed scaling |
 * | their output gradient dy (backward) | f32 | BF16 | E5M2, delayed scaling |
 * | attention q, k, v, o and dO | f32 | BF16 | BF16 (E4M3 with `fp8Attention`) |
 * | LM head h, W | f32 | BF16 | BF16 |
 *
 * Everything else — RMSNorm, RoPE, SwiGLU, the residual stream, softmax statistics, GEMM
 * accumulation, master weights, gradients and AdamW state — is f32. Under fp8 the LM head stays in
 * BF16 as Megatron-LM + Transformer Engine keep the output layer out of FP8 (Thunder-LLM's setup);
 * delayed scaling (Transformer Engine's `DelayedScaling`): the scale used at step t is
 * fp8_max / max(amax history) / 2^margin over the `amaxHistory` previous steps (scales start at 1).
 * The fp8-attention ablation (Thunder-LLM found it unstable) also rounds q, k, v through E4M3 with
 * delayed per-tensor scales and the probabilities through E4M3 inside the attention kernel.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** The three training precisions. */
export type PrecisionMode = "fp32" | "bf16" | "fp8";

/** A precision policy. */
export interface Precision {
  mode: PrecisionMode;
  /** fp8 only: the attention ablation. */
  fp8Attention: boolean;
  /** Amax history length of delayed scaling (Transformer Engine's default 16). */
  amaxHistory: number;
  /** Scale margin in powers of two (default 0). */
  margin: number;
}

/**
 * A validated policy (a one-line UserError names the bad option).
 *
 * @example
 * ```ts
 * import { precisionPolicy } from "./precision.ts";
 * const p = precisionPolicy("fp8", { amaxHistory: 4 });
 * if (p.amaxHistory !== 4 || p.fp8Attention || p.margin !== 0) throw new Error("defaults");
 * ```
 */
export function precisionPolicy(
  mode: string,
  o: Partial<Omit<Precision, "mode">> = {},
): Precision {
  if (mode !== "fp32" && mode !== "bf16" && mode !== "fp8") {
    throw new UserError(`precision: expected fp32, bf16 or fp8, got ${mode}`);
  }
  const p: Precision = {
    mode,
    fp8Attention: o.fp8Attention ?? false,
    amaxHistory: o.amaxHistory ?? 16,
    margin: o.margin ?? 0,
  };
  if (p.fp8Attention && mode !== "fp8") {
    throw new UserError("--fp8-attention needs --precision fp8");
  }
  if (!Number.isInteger(p.amaxHistory) || p.amaxHistory < 1) {
    throw new UserError(`amax_history: expected an integer ≥ 1, got ${p.amaxHistory}`);
  }
  if (!Number.isInteger(p.margin) || p.margin < 0) {
    throw new UserError(`fp8_margin: expected an integer ≥ 0, got ${p.margin}`);
  }
  return p;
}
