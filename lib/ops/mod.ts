/**
 * Jikji's GPU ops: everything a Llama forward and backward needs, as typed functions on
 * {@linkcode Tensor}s that check shapes and dtypes before dispatching (a `GpuUsageError` names the
 * op, the operand and the expected shape). Get the runtime with `getRuntime()`; results are
 * recorded into one command encoder and run when read (`toF32`) or on `rt.sync()`.
 *
 * Shape legend: B batch, T time, N = B·T tokens, C channels, NH query heads, NKV KV heads, D head
 * dim, V vocabulary, F MLP width.
 *
 * | op | forward | backward |
 * |----|---------|----------|
 * | GEMM (f32/f16/bf16/FP8 operands, batched, transposes, beta) | `matmul` | the same with transposes |
 * | FP8 HYBRID linear (E4M3 fwd, E5M2 grads, delayed scaling) | `fp8Linear` | `fp8LinearBackward` |
 * | RMSNorm (N, C) | `rmsnorm` | `rmsnormBackward` |
 * | RoPE (N, H, D), Llama 3.1 scaling | `rope` | `rope(…, inverse = true)` |
 * | SwiGLU | `swiglu` | `swigluBackward` |
 * | embedding (V, C) | `embedding` | `embeddingBackward` |
 * | attention, causal GQA, BF16 | `attention` | `attentionBackward` |
 * | LM head + cross-entropy (+ z-loss), chunked | `crossEntropy` (loss and grads) | — |
 * | general LM head: weighted NLL, soft targets, stats, chunked | `lmHead` (loss, stats, grads) | — |
 * | attention of one query per row over a KV cache | `attentionDecode` | — |
 * | clipping, AdamW | `clipByGlobalNorm`, `adamw` | — |
 * | residual add, accumulate, scale, zero, reshape | `add`, `addInto`, `scale`, `zero`, `reshape` | — |
 * | casts | `quantizeFp8`, `dequantizeFp8`, `toBf16`, `fromBf16`, `transpose` | — |
 *
 * @module
 */

export { getRuntime, GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
export {
  type DType,
  empty,
  free,
  fromArray,
  Tensor,
  toArray,
  toF32,
  zeros,
} from "../gpu/tensor.ts";
export { matmul, type MatmulOptions, transpose } from "./gemm.ts";
export { dequantizeFp8, fromBf16, type GpuScalar, quantizeFp8, toBf16 } from "./cast.ts";
export { fp8Linear, fp8LinearBackward, type Fp8LinearSlots, Fp8Scaling } from "./fp8.ts";
export {
  embedding,
  embeddingBackward,
  makeRopeTable,
  rmsnorm,
  rmsnormBackward,
  rope,
  type RopeTable,
  swiglu,
  swigluBackward,
} from "./nn.ts";
export { LLAMA31_ROPE_SCALING, type RopeScaling } from "./ref/nn.ts";
export { attention, attentionBackward, type AttentionOptions } from "./attention.ts";
export { crossEntropy, type CrossEntropyOptions } from "./loss.ts";
export { lmHead, type LmHeadSpec } from "./lm_head.ts";
export { attentionDecode } from "./attention_decode.ts";
export { adamw, type AdamWConfig, clipByGlobalNorm } from "./optim.ts";
export { add, addInto, reshape, scale, zero } from "./elementwise.ts";
