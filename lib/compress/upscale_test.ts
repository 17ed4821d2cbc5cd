import assert from "node:assert/strict";
import { parseLlamaConfig } from "../model/config.ts";
import { initParams } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { UserError } from "../io/errors.ts";
import { dusLayerMap, parseLayerMap, remapLayers } from "./upscale.ts";

Deno.test("dusLayerMap() is SOLAR's: 32 layers, 8 dropped, give 48", () => {
  const m = dusLayerMap(32, 8);
  assert.equal(m.length, 48);
  assert.deepEqual(m.slice(0, 24), Array.from({ length: 24 }, (_, i) => i));
  assert.deepEqual(m.slice(24), Array.from({ length: 24 }, (_, i) => 8 + i));
  assert.deepEqual(dusLayerMap(4, 1), [0, 1, 2, 1, 2, 3]);
  assert.throws(() => dusLayerMap(4, 4), /--drop 4: .*0 to 3/);
});

Deno.test("parseLayerMap() reads ranges and single layers, and refuses what does not exist", () => {
  assert.deepEqual(parseLayerMap("0-23,8-31", 32), dusLayerMap(32, 8));
  assert.deepEqual(parseLayerMap("3,0-1, 2", 4), [3, 0, 1, 2]);
  assert.throws(
    () => parseLayerMap("0-4", 4),
    (e) => e instanceof UserError && /layer 4 does not exist/.test(e.message),
  );
  assert.throws(() => parseLayerMap("2-1", 4), /runs backwards/);
  assert.throws(() => parseLayerMap("a", 4), /not an index/);
});

Deno.test("remapLayers() copies each old layer's tensors to its new place; the identity map keeps the logits", async () => {
  const cfg = parseLlamaConfig({
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 3,
    vocab_size: 30,
  });
  const params = initParams(cfg, 3, 0.2);
  const r = remapLayers(cfg, params, parseLayerMap("0-1,1-2", 3));
  assert.equal(r.cfg.num_hidden_layers, 4);
  for (const [dst, src] of [[0, 0], [1, 1], [2, 1], [3, 2]]) {
    assert.deepEqual(
      r.params.get(`model.layers.${dst}.mlp.up_proj.weight`),
      params.get(`model.layers.${src}.mlp.up_proj.weight`),
    );
  }
  assert.notEqual(
    r.params.get("model.layers.1.mlp.up_proj.weight"),
    r.params.get("model.layers.2.mlp.up_proj.weight"),
    "copies are separate arrays (training one does not train the other)",
  );
  const batch = { B: 1, T: 5, tokens: [1, 2, 3, 4, 5] };
  const a = await createLlama(cfg, params, { device: "cpu" });
  const id = remapLayers(cfg, params, [0, 1, 2]);
  const b = await createLlama(id.cfg, id.params, { device: "cpu" });
  assert.deepEqual(await a.logits(await a.forward(batch)), await b.logits(await b.forward(batch)));
});
