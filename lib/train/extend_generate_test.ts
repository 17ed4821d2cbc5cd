import assert from "node:assert/strict";
import { parseLlamaConfig } from "../model/config.ts";
import { initParams, Rng } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { extendVocabulary } from "./extend.ts";
import { pickToken } from "../model/generate.ts";
import { byteLevelTokenizerJson, learnByteMerges, tokenizerFromJson } from "./tokenizer.ts";

const cfg = parseLlamaConfig({
  hidden_size: 8,
  intermediate_size: 16,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  vocab_size: 260,
  tie_word_embeddings: false,
  max_position_embeddings: 64,
});

Deno.test("extendVocabulary() keeps old rows and sets each new row to the mean of its pieces (EEVE)", async () => {
  const oldTok = tokenizerFromJson(byteLevelTokenizerJson());
  const merges = learnByteMerges(["세계 세계 세계 hello hello hello"], 4);
  const newTok = tokenizerFromJson(byteLevelTokenizerJson(merges));
  const params = initParams(cfg, 1);
  const r = extendVocabulary(cfg, params, oldTok, newTok, "eeve", 0);
  assert.equal(r.cfg.vocab_size, 264);
  assert.equal(r.initialised, 4);
  const emb = r.params.get("model.embed_tokens.weight")!;
  assert.deepEqual(emb.slice(0, 260 * 8), params.get("model.embed_tokens.weight"));
  const id = 260; // first merge
  const bytes = oldTok.pieceToIds(newTok.tokenString(id)!);
  assert.equal(bytes.length, 2);
  for (let c = 0; c < 8; c++) {
    const want = (emb[bytes[0] * 8 + c] + emb[bytes[1] * 8 + c]) / 2;
    assert.ok(Math.abs(emb[id * 8 + c] - want) < 1e-6);
  }
  const n = extendVocabulary(cfg, params, oldTok, newTok, "normal", 3);
  assert.equal(n.fallback, 4);
  assert.notDeepEqual(
    n.params.get("lm_head.weight")!.slice(260 * 8),
    r.params.get("lm_head.weight")!.slice(260 * 8),
  );
  // the extended model runs
  const m = await createLlama(r.cfg, r.params, { device: "cpu" });
  const logits = await m.logits(await m.forward({ B: 1, T: 3, tokens: [256, 257, 1] }));
  assert.equal(logits.length, 3 * 264);
});

Deno.test("extendVocabulary() refuses a tokenizer that renumbers old ids", () => {
  const oldTok = tokenizerFromJson(byteLevelTokenizerJson());
  const json = byteLevelTokenizerJson() as { model: { vocab: Record<string, number> } };
  const v = json.model.vocab;
  [v["a"], v["b"]] = [v["b"], v["a"]];
  const newTok = tokenizerFromJson(json);
  assert.throws(
    () => extendVocabulary(cfg, initParams(cfg, 1), oldTok, newTok, "eeve"),
    /renumbers id 97/,
  );
});

Deno.test("pickToken() is greedy at temperature 0 and keeps only the top-p nucleus", () => {
  const logits = new Float32Array([0, 5, 1, 4.9]);
  const rng = new Rng(1);
  assert.equal(pickToken(logits, 0, 1, rng), 1);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(pickToken(logits, 1, 0.9, rng));
  assert.deepEqual([...seen].sort(), [1, 3]);
  const all = new Set<number>();
  for (let i = 0; i < 2000; i++) all.add(pickToken(logits, 5, 1, rng));
  assert.equal(all.size, 4);
});
