import assert from "node:assert/strict";
import { parseLlamaConfig } from "../model/config.ts";
import { initParams } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { UserError } from "../io/errors.ts";
import { computeImportance, L2MeanAggregator } from "./importance.ts";
import { alignedHeads, applyPrune, planPrune, resolveTargets } from "./prune.ts";

const CFG = parseLlamaConfig({
  hidden_size: 16,
  intermediate_size: 24,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 4,
  num_hidden_layers: 2,
  vocab_size: 30,
});

Deno.test("L2MeanAggregator.scores() is the batch L2 norm, then the sequence mean (a hand-made case)", () => {
  // a (B 2, T 2, D 2): position 0 rows (3, 1) and (4, 0); position 1 rows (0, 2) and (0, 0)
  const agg = new L2MeanAggregator(2, 2);
  agg.add([3, 1, 0, 2], 1);
  agg.add([-4, 0, 0, 0], 1);
  // d 0: t 0 sqrt(9 + 16) = 5, t 1 0 → mean 2.5; d 1: t 0 sqrt(1) = 1, t 1 sqrt(4) = 2 → 1.5
  assert.deepEqual(Array.from(agg.scores()), [2.5, 1.5]);
  // batch-mean-then-L2 would differ: the order is the one asserted
  const twoAtOnce = new L2MeanAggregator(2, 2);
  twoAtOnce.add([3, 1, 0, 2, -4, 0, 0, 0], 2);
  assert.deepEqual(Array.from(twoAtOnce.scores()), [2.5, 1.5]);
});

Deno.test("alignedHeads() removes the same number of query heads from every kept KV group", () => {
  const s = [0.9, 0.1, 0.5, 0.2, /* group 1 */ 0.3, 0.8, 0.7, 0.05];
  const r = alignedHeads(s, 2, 4, 2);
  assert.deepEqual(r.kv, [0, 1]);
  assert.deepEqual(r.heads, [0, 2, 5, 6]); // two per group, the best of each
  // the global top 4 would be 0, 5, 6, 2 too; with a skewed group it is not:
  const skew = [0.9, 0.8, 0.7, 0.6, /* group 1 */ 0.1, 0.2, 0.05, 0.01];
  assert.deepEqual(alignedHeads(skew, 2, 4, 2).heads, [0, 1, 5, 4].sort((a, b) => a - b));
  // one group kept: the one with the larger summed score, with all 4 of its heads
  assert.deepEqual(alignedHeads(skew, 2, 4, 1), { kv: [0], heads: [0, 1, 2, 3] });
  for (const [h, k] of [[2, 2], [6, 2], [2, 1]]) {
    const got = alignedHeads(s, 2, h, k);
    for (const g of got.kv) {
      assert.equal(got.heads.filter((x) => Math.floor(x / 4) === g).length, h / k, `group ${g}`);
    }
    assert.ok(got.heads.every((x) => got.kv.includes(Math.floor(x / 4))));
  }
});

Deno.test("resolveTargets() refuses a shape that cannot hold, naming the flag", () => {
  const msg = (t: Parameters<typeof resolveTargets>[1]) => {
    try {
      resolveTargets(CFG, t);
    } catch (e) {
      assert.ok(e instanceof UserError);
      return (e as Error).message;
    }
    return "";
  };
  assert.match(msg({ heads: 9 }), /^--heads 9: the model has 8 attention heads/);
  assert.match(msg({ heads: 6, kvHeads: 4 }), /^--kv-heads 4: the model has 2/);
  assert.match(msg({ heads: 3 }), /^--kv-heads 2: must divide --heads 3/);
  assert.match(msg({ heads: 8, kvHeads: 1 }), /^--kv-heads 1: .*8 query heads.*groups have 4/);
  assert.match(msg({ hidden: 17 }), /^--hidden 17/);
  assert.match(msg({ ffn: 0 }), /^--ffn 0: expected an integer ≥ 1/);
  assert.match(msg({ layers: 3 }), /^--layers 3/);
  assert.deepEqual(resolveTargets(CFG, {}), {
    hidden: 16,
    ffn: 24,
    heads: 8,
    kvHeads: 2,
    layers: 2,
  });
});

Deno.test("applyPrune() of heads and neurons equals zeroing what was removed (keys and values stay aligned)", async () => {
  const params = initParams(CFG, 7, 0.3);
  const batch = { B: 1, T: 6, tokens: [1, 5, 9, 2, 7, 3] };
  const m = await createLlama(CFG, params, { device: "cpu" });
  const imp = await computeImportance(m, [batch]);
  const plan = planPrune(CFG, imp, { heads: 2, kvHeads: 1, ffn: 10 });
  const pruned = applyPrune(CFG, params, plan);
  assert.equal(pruned.cfg.num_attention_heads, 2);
  assert.equal(pruned.cfg.num_key_value_heads, 1);
  // the reference: the full model with the removed heads' o_proj columns and the removed
  // neurons' down_proj columns set to zero
  const zeroed = new Map([...params].map(([k, v]) => [k, v.slice()]));
  for (let l = 0; l < 2; l++) {
    const o = zeroed.get(`model.layers.${l}.self_attn.o_proj.weight`)!; // (C, NH·HS)
    for (let h = 0; h < 8; h++) {
      if (plan.heads[l].includes(h)) continue;
      for (let c = 0; c < 16; c++) for (let i = 0; i < 4; i++) o[c * 32 + h * 4 + i] = 0;
    }
    const d = zeroed.get(`model.layers.${l}.mlp.down_proj.weight`)!; // (C, F)
    for (let f = 0; f < 24; f++) {
      if (!plan.neurons[l].includes(f)) { for (let c = 0; c < 16; c++) d[c * 24 + f] = 0; }
    }
  }
  const a = await createLlama(pruned.cfg, pruned.params, { device: "cpu" });
  const b = await createLlama(CFG, zeroed, { device: "cpu" });
  const za = await a.logits(await a.forward(batch)), zb = await b.logits(await b.forward(batch));
  for (let i = 0; i < za.length; i++) assert.ok(Math.abs(za[i] - zb[i]) < 1e-5, `logit ${i}`);
});

Deno.test("computeImportance() scores a silenced KV group's heads zero, and pruning drops them and the dead layer", async () => {
  const params = initParams(CFG, 2, 0.3);
  const v = params.get("model.layers.1.self_attn.v_proj.weight")!; // (NKV·HS, C)
  v.fill(0, 0, 4 * 16); // KV group 0 of layer 1 reads zero values
  // layer 0 made a no-op: its o_proj and down_proj are zero, so its output equals its input
  params.get("model.layers.0.self_attn.o_proj.weight")!.fill(0);
  params.get("model.layers.0.mlp.down_proj.weight")!.fill(0);
  const m = await createLlama(CFG, params, { device: "cpu" });
  const batches = [{ B: 2, T: 5, tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }];
  const imp = await computeImportance(m, batches);
  assert.deepEqual(imp.heads[1].slice(0, 4), [0, 0, 0, 0]);
  assert.ok(imp.heads[1].slice(4).every((s) => s > 0));
  assert.ok(Math.abs(imp.layers[0]) < 1e-6 && imp.layers[1] > 1e-3, `${imp.layers}`);
  assert.equal(imp.channels.length, 16);
  const plan = planPrune(CFG, imp, { heads: 4, kvHeads: 1, layers: 1 });
  assert.deepEqual(plan.layers, [1]);
  assert.deepEqual(plan.kvHeads, [[1]]);
  assert.deepEqual(plan.heads, [[4, 5, 6, 7]]);
  const byLoss = await computeImportance(m, batches, { layerMetric: "loss", params });
  assert.ok(Math.abs(byLoss.layers[0]) < 1e-5, "skipping a no-op layer changes no loss");
  assert.ok(Math.abs(byLoss.layers[1]) > 1e-4);
});
