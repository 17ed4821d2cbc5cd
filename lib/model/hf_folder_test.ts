import assert from "node:assert/strict";
import { parseLlamaConfig } from "./config.ts";
import { initParams, type Params } from "./params.ts";
import { createLlama } from "./backend.ts";
import { loadModel, saveModel } from "./hf_folder.ts";
import { encodeSafetensors } from "./safetensors.ts";

const cfg = parseLlamaConfig({
  hidden_size: 16,
  intermediate_size: 32,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  vocab_size: 11,
  tie_word_embeddings: true,
});

Deno.test("saveModel() and loadModel() round-trip a model folder with its tokenizer files", async () => {
  const dir = await Deno.makeTempDir();
  const tok = await Deno.makeTempDir();
  await Deno.writeTextFile(`${tok}/tokenizer.json`, "{}");
  const params = initParams(cfg, 3);
  await saveModel(`${dir}/m`, cfg, params, { tokenizerDir: tok });
  const back = await loadModel(`${dir}/m`);
  assert.deepEqual(back.cfg, cfg);
  for (const [k, v] of params) assert.deepEqual(back.params.get(k), v);
  assert.equal(await Deno.readTextFile(`${dir}/m/tokenizer.json`), "{}");
  // bf16 storage changes the logits only slightly
  await saveModel(`${dir}/b`, cfg, params, { dtype: "BF16" });
  const bf = await loadModel(`${dir}/b`);
  const tokens = new Int32Array([1, 2, 3, 4]);
  const logits = async (p: Params) => {
    const m = await createLlama(cfg, p, { device: "cpu" });
    return await m.logits(await m.forward({ B: 1, T: 4, tokens }));
  };
  const a = await logits(params), b = await logits(bf.params);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 2e-2);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(tok, { recursive: true });
});

Deno.test("loadModel() refuses weights that do not fit config.json", async () => {
  const dir = await Deno.makeTempDir();
  await saveModel(dir, cfg, initParams(cfg, 1));
  const wrong = encodeSafetensors([
    { name: "model.embed_tokens.weight", shape: [12, 16], data: new Float32Array(192) },
  ]);
  await Deno.writeFile(`${dir}/model.safetensors`, wrong);
  await assert.rejects(
    () => loadModel(dir),
    /config.json vocab_size does not fit the weights: tensor "model.embed_tokens.weight" has shape \[12,16\], the config implies \[11,16\]/,
  );
  await Deno.remove(dir, { recursive: true });
});
