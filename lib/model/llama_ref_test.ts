import assert from "node:assert/strict";
import { parseLlamaConfig } from "./config.ts";
import {
  decodeStep,
  forwardBackward,
  FP8,
  fp8QuantDequant,
  initParams,
  KVCache,
  Rng,
  zeroGrads,
} from "./llama_ref.ts";

/** A micro config exercising GQA (NH 4, NKV 2), untied head and llama3 RoPE scaling. */
const micro = parseLlamaConfig({
  hidden_size: 16,
  intermediate_size: 24,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 23,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  rope_scaling: {
    rope_type: "llama3",
    factor: 4,
    low_freq_factor: 1,
    high_freq_factor: 2,
    original_max_position_embeddings: 8,
  },
  tie_word_embeddings: false,
});

function batch(seed: number, B: number, T: number, V: number) {
  const rng = new Rng(seed);
  const tokens = new Int32Array(B * T).map(() => rng.nextU32() % V);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % V);
  targets[1] = -1; // an ignored position
  return { tokens, targets };
}

Deno.test("forwardBackward() gradients match central finite differences", () => {
  const params = initParams(micro, 1, 0.3);
  for (const [k, v] of params) {
    if (k.includes("norm")) {
      for (let i = 0; i < v.length; i++) v[i] = 1 + 0.1 * Math.sin(i + k.length);
    }
  }
  const B = 2, T = 5;
  const { tokens, targets } = batch(2, B, T, micro.vocab_size);
  const grads = zeroGrads(params);
  forwardBackward(micro, params, tokens, targets, B, T, { grads });
  const rng = new Rng(3);
  let worst = 0;
  for (const [name, w] of params) {
    const g = grads.get(name)!;
    for (let trial = 0; trial < 3; trial++) {
      // probe the largest-gradient element and two random ones
      let i = rng.nextU32() % w.length;
      if (trial === 0) i = g.reduce((bi, x, j) => (Math.abs(x) > Math.abs(g[bi]) ? j : bi), 0);
      const h = 1e-2, old = w[i];
      w[i] = old + h;
      const lp = forwardBackward(micro, params, tokens, targets, B, T).loss;
      w[i] = old - h;
      const lm = forwardBackward(micro, params, tokens, targets, B, T).loss;
      w[i] = old;
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(fd - g[i]) / Math.max(1e-2, Math.abs(fd) + Math.abs(g[i]));
      worst = Math.max(worst, err);
      assert.ok(err < 2e-2, `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
    }
  }
  assert.ok(worst < 2e-2);
});

Deno.test("decodeStep() with a KV cache reproduces the full forward's logits", () => {
  const params = initParams(micro, 5, 0.2);
  const T = 7;
  const { tokens } = batch(6, 1, T, micro.vocab_size);
  const full = forwardBackward(micro, params, tokens, null, 1, T, { wantLogits: true }).logits!;
  const cache = new KVCache(micro, T);
  let maxDiff = 0;
  for (let t = 0; t < T; t++) {
    const lg = decodeStep(micro, params, cache, tokens[t]);
    for (let i = 0; i < micro.vocab_size; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(lg[i] - full[t * micro.vocab_size + i]));
    }
  }
  assert.ok(maxDiff < 1e-5, `max |decode - forward| = ${maxDiff}`);
});

Deno.test("fp8QuantDequant() maps amax to the format's max and keeps 3 mantissa bits", () => {
  const x = new Float32Array([0.5, -1, 0.3, 0, 2]);
  const { y, stat } = fp8QuantDequant(x, FP8.e4m3);
  assert.equal(stat.amax, 2);
  assert.equal(stat.scale, 224);
  assert.equal(y[4], 2);
  assert.equal(y[1], -1);
  assert.equal(y[3], 0);
  // 0.3*224 = 67.2 → E4M3 step at 64 is 8 → 64 → 64/224
  assert.ok(Math.abs(y[2] - 64 / 224) < 1e-7, `${y[2]}`);
});

Deno.test("forwardBackward() in bf16 and fp8 stays close to fp32 and records FP8 scales", () => {
  const params = initParams(micro, 7);
  const B = 2, T = 6;
  const { tokens, targets } = batch(8, B, T, micro.vocab_size);
  const f32 = forwardBackward(micro, params, tokens, targets, B, T).loss;
  const bf = forwardBackward(micro, params, tokens, targets, B, T, { precision: "bf16" }).loss;
  const stats = new Map();
  const f8 = forwardBackward(micro, params, tokens, targets, B, T, {
    precision: "fp8",
    fp8Stats: stats,
    grads: zeroGrads(params),
  }).loss;
  assert.ok(Math.abs(bf - f32) < 1e-2, `bf16 ${bf} vs ${f32}`);
  assert.ok(Math.abs(f8 - f32) < 5e-2, `fp8 ${f8} vs ${f32}`);
  assert.notEqual(f8, f32);
  assert.ok(stats.has("model.layers.0.q_proj") && stats.has("lm_head_grad"));
});
