import assert from "node:assert/strict";
import { parseLlamaConfig } from "../model/config.ts";
import {
  deepestFitting,
  largestFitting,
  pooledBytes,
  PRESETS,
  trainingMemory,
} from "./memory_plan.ts";

// C 64, F 128, NH 4, NKV 2, HS 16, one layer, V 256, untied
const small = parseLlamaConfig({
  hidden_size: 64,
  intermediate_size: 128,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  vocab_size: 256,
});

Deno.test("pooledBytes() rounds as the runtime's pool: powers of two within a binding", () => {
  assert.equal(pooledBytes(1), 256);
  assert.equal(pooledBytes(257), 512);
  assert.equal(pooledBytes(5000, 4096), 5000);
  assert.equal(pooledBytes(5001, 4096), 5004);
});

Deno.test("trainingMemory() adds up a tiny config's tensors as worked out by hand", () => {
  const m = trainingMemory(small, "fp32", 1, 8);
  // embed 256×64 + head 256×64 + 3 norms of 64 + q 64×64, k, v 32×64, o 64×64, 3 MLP 128×64
  assert.equal(m.params, 2 * 16384 + 3 * 64 + 2 * 4096 + 2 * 2048 + 3 * 8192);
  // f32 bytes, each a power of two from 256 B: 2·65536 + 3·256 + 2·16384 + 2·8192 + 3·32768
  assert.equal(m.weights, 279296);
  assert.equal(m.grads, m.weights);
  assert.equal(m.adam, 2 * m.weights);
  assert.equal(m.weightCopies, 0);
  // per layer at N = 8: x, h, x2, h2 4·2048; rstd 2·256; g, u, a 3·4096; q, att 2·2048; k, v
  // 2·1024; lse 256 → 27392; final norm in/out and embedding 3·2048 + rstd 256
  assert.equal(m.activations, 27392 + 6400);
  // backward temporaries 3·2048 + 3·4096 + 4096, logits and their gradient 2·8192, head 65536
  assert.equal(m.workspace, 104448);
  assert.equal(m.total, 4 * 279296 + 33792 + 104448);
  // with recomputation: every layer's input (2048) plus one layer rebuilt
  assert.equal(
    trainingMemory(small, "fp32", 1, 8, { recompute: true }).activations,
    2048 + 27392 + 6400,
  );
  // bf16: rounded copies of the 7 projections and of the LM head, in 2 bytes
  const b = trainingMemory(small, "bf16", 1, 8);
  assert.equal(b.weightCopies, 2 * 8192 + 2 * 4096 + 3 * 16384 + 32768);
});

Deno.test("PRESETS have Meta's published parameter counts", () => {
  const count = (name: string) =>
    trainingMemory(PRESETS.find((p) => p.name === name)!.cfg, "fp32", 1, 1).params;
  assert.equal(count("Llama-3 1B"), 1_235_814_400);
  assert.equal(count("Llama-3 3B"), 3_212_749_824);
  assert.equal(count("Llama-3 8B"), 8_030_261_248);
  assert.equal(count("Llama-3 70B"), 70_553_706_496);
});

Deno.test("largestFitting() picks the largest config within 85% of one 141 GB GPU", () => {
  const candidates = PRESETS.map((p) => p.cfg).reverse();
  // 8B needs 16 bytes a parameter (128 GB) before activations: over 0.85 · 141 GB
  const pick = largestFitting(candidates, 141e9, 1, 1024)!;
  assert.equal(pick.cfg, PRESETS[1].cfg);
  assert.equal(pick.precision, "fp32"); // the rounded copies make bf16 and fp8 larger
  assert.ok(trainingMemory(PRESETS[2].cfg, "fp32", 1, 1024).total > 0.85 * 141e9);
  assert.equal(largestFitting(candidates, 1e9, 1, 1024), null);
});

Deno.test("deepestFitting() keeps the most layers of a width that fit", () => {
  const eight = PRESETS[2].cfg;
  const d = deepestFitting(eight, 141e9, 1, 1024)!;
  assert.ok(d.num_hidden_layers > 1 && d.num_hidden_layers < 32, `${d.num_hidden_layers} layers`);
  assert.ok(largestFitting([d], 141e9, 1, 1024));
  assert.equal(
    largestFitting([{ ...d, num_hidden_layers: d.num_hidden_layers + 1 }], 141e9, 1, 1024),
    null,
  );
  // 3B fits whole: all 28 layers
  assert.equal(deepestFitting(PRESETS[1].cfg, 141e9, 1, 1024)!.num_hidden_layers, 28);
  assert.equal(deepestFitting(eight, 1e8, 1, 1024), null);
});
