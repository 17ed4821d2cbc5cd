/**
 * GPU model vs the CPU reference, for a random tiny config (GQA, Llama 3.1 RoPE scaling, untied
 * head) written to and loaded from a safetensors model folder.
 *
 * Tolerances (f32 on both sides; differences come from summation order in the GEMMs, the flash
 * attention's online softmax and the chunked cross-entropy): logits within 2e-5 absolute; loss
 * within 1e-5 relative; every gradient within 1e-4 of the largest element of that gradient
 * (measured: logits 2.4e-6, gradients ≤ 8e-7 against largest elements 0.04–0.46).
 */

import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { toF32 } from "../gpu/tensor.ts";
import { parseLlamaConfig } from "./config.ts";
import { loadModel, saveModel } from "./hf_folder.ts";
import { forwardBackward, initParams, Rng, zeroGrads } from "./llama_ref.ts";
import { LlamaGpu } from "./llama_gpu.ts";

const cfg = parseLlamaConfig({
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 50,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 16,
  },
  tie_word_embeddings: false,
  max_position_embeddings: 64,
});

async function loaded() {
  const dir = await Deno.makeTempDir();
  const params = initParams(cfg, 11, 0.2);
  for (const [k, v] of params) {
    if (k.endsWith("norm.weight")) {
      for (let i = 0; i < v.length; i++) v[i] = 1 + 0.2 * Math.sin(i);
    }
  }
  await saveModel(dir, cfg, params);
  const m = await loadModel(dir);
  await Deno.remove(dir, { recursive: true });
  return m;
}

function batch(B: number, T: number) {
  const rng = new Rng(5);
  const tokens = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
  targets[3] = -1;
  return { tokens, targets };
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; at: number; scale: number } {
  let diff = 0, at = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > diff) [diff, at] = [d, i];
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, at, scale };
}

gpuTest(
  "LlamaGpu.logits() match the CPU reference for a model loaded from safetensors",
  async () => {
    const { cfg: c, params } = await loaded();
    const rt = await getRuntime();
    const gpu = new LlamaGpu(rt, c, params);
    const B = 2, T = 9;
    const { tokens } = batch(B, T);
    const got = await gpu.logits(tokens, B, T);
    const want = forwardBackward(c, params, tokens, null, B, T, { wantLogits: true }).logits!;
    const { diff, at } = maxDiff(got, want);
    assert.ok(diff < 2e-5, `max |gpu - ref| = ${diff} at ${at}: gpu ${got[at]} ref ${want[at]}`);
    gpu.destroy();
  },
);

gpuTest("LlamaGpu.lossAndGrads() match the CPU reference's loss and every gradient", async () => {
  const { cfg: c, params } = await loaded();
  const rt = await getRuntime();
  const gpu = new LlamaGpu(rt, c, params);
  const B = 2, T = 7;
  const { tokens, targets } = batch(B, T);
  const grads = gpu.zeroGrads();
  const got = await gpu.lossAndGrads(tokens, targets, B, T, grads);
  const refGrads = zeroGrads(params);
  const want = forwardBackward(c, params, tokens, targets, B, T, { grads: refGrads });
  assert.equal(got.count, want.count);
  assert.ok(Math.abs(got.loss - want.loss) < 1e-5 * want.loss, `loss ${got.loss} vs ${want.loss}`);
  for (const [name, g] of refGrads) {
    const mine = await toF32(rt, grads.get(name)!);
    const { diff, at, scale } = maxDiff(mine, g);
    assert.ok(
      diff <= 1e-4 * scale + 1e-7,
      `${name}: max |gpu - ref| = ${diff} (largest ${scale}) at ${at}: gpu ${mine[at]} ref ${
        g[at]
      }`,
    );
  }
  gpu.destroy();
});
