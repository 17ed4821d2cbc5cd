/**
 * What full training of a Llama needs in GPU memory on Jikji's GPU engine, tensor by tensor as
 * the engine holds them, so the bench can say what fits on one GPU and start the largest that
 * should.
 *
 * Per parameter (P of them): the f32 master weight (4 B), its f32 gradient (4 B) and AdamW's two
 * f32 moments (8 B): 16 B. In bf16 and fp8 each linear layer also keeps the rounded copy of its
 * weight it multiplied with until the backward has used it (2 B or 1 B per linear parameter), and
 * the LM head reads a BF16 copy of its (V, C) matrix.
 *
 * Per token and layer (what `Llama.forward` keeps for the backward, `_Layer` in llama.ts): the
 * f32 block input, normed input, post-attention residual and its norm (4·C·4 B), two rstd
 * (2·4 B), SwiGLU's gate, up and product (3·F·4 B), the attention's q, k, v and output (2·NH·HS
 * + 2·NKV·HS values in f32 for fp32, BF16 otherwise) and its log-sum-exp (NH·4 B); in bf16/fp8
 * the rounded GEMM operands each linear keeps (h three times, the attention output, h2 twice, the
 * SwiGLU product: 6·C + NH·HS + F values at 2 B or 1 B).
 *
 * With activation recomputation (a schedule Jikji's engine does not run today; stated for the
 * plan) only each layer's f32 input is kept (C·4 B per token and layer) and one layer's state is
 * rebuilt at a time during the backward.
 *
 * Workspace: one layer's backward temporaries (f32 gradients of the residual stream, the SwiGLU
 * state and the attention I/O), the LM head's logits chunk (at most 64 MiB, twice: logits and
 * their gradient) and its transposed weight.
 *
 * Each tensor is rounded as the runtime's pool allocates it (a power of two from 256 B while it
 * fits one binding; 4-byte multiples above), with the binding limit given (default 4 GiB).
 *
 * @module
 */

import { type LlamaConfig, parseLlamaConfig } from "../model/config.ts";
import { paramShapes } from "../model/params.ts";

/** Bytes by kind for one training configuration. */
export interface TrainingMemory {
  /** Parameter count. */
  params: number;
  weights: number;
  grads: number;
  adam: number;
  /** Rounded copies of weights the GEMMs read (bf16, fp8). */
  weightCopies: number;
  activations: number;
  workspace: number;
  total: number;
}

/** Options of {@linkcode trainingMemory}. */
export interface MemoryOptions {
  /** Keep only each layer's input and rebuild the rest during the backward. */
  recompute?: boolean;
  /** The device's largest binding (bytes): tensors up to it are pooled in power-of-two sizes. */
  bindingLimit?: number;
}

/** A tensor's bytes as the runtime's pool allocates them (see `GpuRuntime.buffer`). */
export function pooledBytes(bytes: number, bindingLimit = 4 * 2 ** 30): number {
  let size = 256;
  while (size < bytes) size *= 2;
  return size > bindingLimit ? Math.ceil(bytes / 4) * 4 : size;
}

/** Memory for full training of `cfg` in `precision` at micro-batch B×T (see the module doc). */
export function trainingMemory(
  cfg: LlamaConfig,
  precision: string,
  B: number,
  T: number,
  o: MemoryOptions = {},
): TrainingMemory {
  const round = (bytes: number) => pooledBytes(bytes, o.bindingLimit);
  const N = B * T, C = cfg.hidden_size, F = cfg.intermediate_size, L = cfg.num_hidden_layers;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, HS = cfg.head_dim;
  const V = cfg.vocab_size;
  const low = precision === "fp32" ? 0 : precision === "bf16" ? 2 : 1; // bytes of rounded copies
  let params = 0, weights = 0, weightCopies = 0;
  for (const [name, shape] of paramShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    weights += round(4 * n);
    if (low && /proj\.weight$/.test(name)) weightCopies += round(low * n);
  }
  if (low) weightCopies += round(2 * V * C); // the LM head's BF16 matrix
  const att = precision === "fp32" ? 4 : 2;
  const perLayer = [
    ...Array(4).fill(4 * C * N), // x, h, x2, h2
    4 * N,
    4 * N, // rstd1, rstd2
    ...Array(3).fill(4 * F * N), // g, u, a
    att * NH * HS * N,
    att * NKV * HS * N,
    att * NKV * HS * N,
    att * NH * HS * N, // qa, ka, va, att
    4 * NH * N, // lse
    ...(low
      ? [
        ...Array(3).fill(low * C * N),
        low * NH * HS * N,
        ...Array(2).fill(low * C * N),
        low * F * N,
      ]
      : []),
  ];
  const layerBytes = perLayer.reduce((a, b) => a + round(b), 0);
  const final = 3 * round(4 * C * N) + round(4 * N); // final norm input, output, rstd; embedding out
  const activations = o.recompute
    ? L * round(4 * C * N) + layerBytes + final
    : L * layerBytes + final;
  const chunk = Math.min(64 * 2 ** 20, 4 * N * V);
  const workspace = 3 * round(4 * C * N) + 3 * round(4 * F * N) +
    round(4 * (NH + 2 * NKV) * HS * N) + 2 * round(chunk) + round((low ? 2 : 4) * V * C);
  const grads = weights, adam = 2 * weights;
  return {
    params,
    weights,
    grads,
    adam,
    weightCopies,
    activations,
    workspace,
    total: weights + grads + adam + weightCopies + activations + workspace,
  };
}

/** A named config of the plan. */
export interface Preset {
  name: string;
  cfg: LlamaConfig;
}

const _llama3 = (factor: number) => ({
  rope_type: "llama3",
  factor,
  low_freq_factor: 1.0,
  high_freq_factor: 4.0,
  original_max_position_embeddings: 8192,
});

/** Meta's Llama 3.x shapes from 1B to 70B (published config.json fields). */
export const PRESETS: Preset[] = [
  ["1B", 2048, 8192, 32, 16, 64, true, 32],
  ["3B", 3072, 8192, 24, 28, 128, true, 32],
  ["8B", 4096, 14336, 32, 32, 128, false, 8],
  ["70B", 8192, 28672, 64, 80, 128, false, 8],
].map(([name, C, F, NH, L, HS, tied, factor]) => ({
  name: `Llama-3 ${name}`,
  cfg: parseLlamaConfig({
    hidden_size: C,
    intermediate_size: F,
    num_attention_heads: NH,
    num_key_value_heads: 8,
    num_hidden_layers: L,
    vocab_size: 128256,
    head_dim: HS,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    rope_scaling: _llama3(factor as number),
    tie_word_embeddings: tied,
    max_position_embeddings: 131072,
  }, `Llama-3 ${name} shape`),
}));

/**
 * The share of a GPU's memory the plan fills: the rest is for the driver, fragmentation and what
 * the plan misses (the peak measured on llvmpipe was 5–8% above it at the tiny configs).
 */
export const HEADROOM = 0.85;

/**
 * The first of `candidates` (pass them largest first) that fits `capacityBytes`·HEADROOM in some
 * precision without recomputation, with the precision that needs least; null when none fits.
 */
export function largestFitting(
  candidates: LlamaConfig[],
  capacityBytes: number,
  B: number,
  T: number,
  o: MemoryOptions = {},
): { cfg: LlamaConfig; precision: string; plan: TrainingMemory } | null {
  for (const cfg of candidates) {
    const options = ["fp32", "fp8", "bf16"].map((precision) => ({
      cfg,
      precision,
      plan: trainingMemory(cfg, precision, B, T, o),
    })).filter((x) => x.plan.total <= capacityBytes * HEADROOM);
    if (options.length) return options.reduce((a, b) => (b.plan.total < a.plan.total ? b : a));
  }
  return null;
}

/**
 * `cfg` with the most layers (at most its own) whose full training fits `capacityBytes`·HEADROOM
 * in some precision — a depth-pruned model of the same width; null when not even one layer fits.
 */
export function deepestFitting(
  cfg: LlamaConfig,
  capacityBytes: number,
  B: number,
  T: number,
  o: MemoryOptions = {},
): LlamaConfig | null {
  for (let L = cfg.num_hidden_layers; L >= 1; L--) {
    const c = { ...cfg, num_hidden_layers: L };
    if (largestFitting([c], capacityBytes, B, T, o)) return c;
  }
  return null;
}
