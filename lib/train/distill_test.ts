import assert from "node:assert/strict";
import { parseLlamaConfig } from "../model/config.ts";
import { initParams } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { saveModel } from "../model/hf_folder.ts";
import { createRun } from "../run/run_folder.ts";
import { Rng } from "../model/params.ts";
import { ShardWriter } from "./shards.ts";
import { trainOptions } from "./options.ts";
import { train } from "./trainer.ts";
import { Distiller, softmaxRows, TopKCache, topKLogits } from "./distill.ts";

const CFG = parseLlamaConfig({
  hidden_size: 16,
  intermediate_size: 32,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  vocab_size: 40,
  tie_word_embeddings: true,
  max_position_embeddings: 64,
});

Deno.test("topKLogits() keeps each row's largest logits, largest first; softmaxRows() at τ", () => {
  const t = topKLogits(new Float32Array([1, 5, 3, 0, 9, 2, 8, 1]), 2, 4, 2);
  assert.deepEqual(Array.from(t.ids), [1, 2, 0, 2]);
  assert.deepEqual(Array.from(t.logits), [5, 3, 9, 8]);
  assert.deepEqual(Array.from(topKLogits(new Float32Array([1, 5, 5, 0]), 1, 4, 2).ids), [1, 2]);
  const rng = new Rng(8),
    z = Float32Array.from({ length: 3 * 50 }, () => Math.round(rng.normal() * 4));
  const got = topKLogits(z, 3, 50, 7);
  for (let r = 0; r < 3; r++) {
    const row = Array.from(z.subarray(r * 50, r * 50 + 50));
    const want = row.map((_, j) => j).sort((a, b) => row[b] - row[a] || a - b).slice(0, 7);
    assert.deepEqual(Array.from(got.ids.subarray(r * 7, r * 7 + 7)), want);
  }
  const p = softmaxRows(new Float32Array([0, Math.log(3)]), 1, 2, 1);
  assert.ok(Math.abs(p[0] - 0.25) < 1e-7 && Math.abs(p[1] - 0.75) < 1e-7);
  const hot = softmaxRows(new Float32Array([0, Math.log(9)]), 1, 2, 2); // τ 2 halves the logits
  assert.ok(Math.abs(hot[1] - 0.75) < 1e-6);
});

Deno.test("TopKCache stores windows by stream position and refuses another teacher's file", async () => {
  const dir = await Deno.makeTempDir();
  const c = new TopKCache(dir, 4, 2, "teacher-a");
  const w = { source: "en", start: 8 };
  assert.equal(await c.get(w), undefined);
  const ids = Int32Array.from({ length: 8 }, (_, i) => i), z = Float32Array.from(ids, (i) => i / 2);
  await c.put(w, ids, z);
  assert.equal(await c.get({ source: "en", start: 4 }), undefined, "an unwritten record");
  assert.deepEqual(await c.get(w), { ids, logits: z });
  c.close();
  const again = new TopKCache(dir, 4, 2, "teacher-a");
  assert.deepEqual((await again.get(w))?.logits, z);
  again.close();
  await assert.rejects(() => new TopKCache(dir, 4, 2, "teacher-b").get(w), /another teacher/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Distiller.accumulate() from a teacher equal to the student: zero KL, zero gradient", async () => {
  const params = initParams(CFG, 4, 0.3);
  const teacher = await createLlama(CFG, params, { device: "cpu" });
  const student = await createLlama(CFG, params, { device: "cpu" });
  const d = new Distiller(teacher, { temperature: 2, topK: 0, ceWeight: 0 }, 1, 6);
  const b = {
    tokens: Int32Array.from([1, 2, 3, 4, 5, 6]),
    targets: Int32Array.from([2, 3, 4, 5, 6, -1]),
  };
  const grads = student.zeroGrads();
  const loss = await d.accumulate(student, grads, [b]);
  assert.ok(Math.abs(loss) < 1e-6, `loss ${loss}`);
  for (const [, g] of grads) {
    const a = await student.ops.read(g) as Float32Array;
    assert.ok(a.every((x) => Math.abs(x) < 1e-6));
  }
  // another teacher: positive KL
  const other = await createLlama(CFG, initParams(CFG, 5, 0.3), { device: "cpu" });
  const d2 = new Distiller(other, { temperature: 2, topK: 8, ceWeight: 0.5 }, 1, 6);
  assert.ok(await d2.accumulate(student, student.zeroGrads(), [b]) > 0.01);
});

Deno.test("train distill caches the teacher's top-k once and reuses it: the same losses as without a cache", async () => {
  const dir = await Deno.makeTempDir();
  const rng = new Rng(3);
  const w = await ShardWriter.open(`${dir}/en.tok`, 40, 39);
  for (let d = 0; d < 6; d++) {
    const s = rng.nextU32() % 10;
    await w.addDoc(Array.from({ length: 12 }, (_, i) => s + (i % 7)));
  }
  await w.close();
  await saveModel(`${dir}/teacher`, CFG, initParams(CFG, 9, 0.3));
  await saveModel(`${dir}/student`, CFG, initParams(CFG, 1, 0.02));
  const opts = trainOptions({
    init_from: `${dir}/student`,
    data: [`en=${dir}/en.tok`],
    steps: 8,
    batch_size: 2,
    seq_len: 8,
    warmup_steps: 1,
    precision: "fp32",
    engine: "cpu",
    eval_every: 0,
    ckpt_every: 0,
    val_fraction: 0,
    teacher: `${dir}/teacher`,
    distill_top_k: 8,
    distill_temperature: 1.5,
  });
  const losses = async (p: string) =>
    (await Deno.readTextFile(p)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((m) => "loss" in m).map((m) => m.loss);
  const a = await createRun({
    task: "d",
    config: {},
    runsDir: `${dir}/a`,
    gpu: false,
    echo: false,
  });
  await train(opts, a, { quiet: true });
  a.close();
  const log = await Deno.readTextFile(a.path("log.jsonl"));
  const [, hits, misses] = /(\d+) hits, (\d+) misses/.exec(log)!.map(Number);
  // 6 documents of 12 ids + eos = 78 tokens hold 9 windows of 8 (+1): 16 rows over 8 steps
  // compute each window once (9 misses) and read the 7 rows of the second epoch from the cache
  assert.deepEqual([hits, misses], [7, 9]);
  const b = await createRun({
    task: "d",
    config: {},
    runsDir: `${dir}/b`,
    gpu: false,
    echo: false,
  });
  await train({ ...opts, teacher_cache: "off" }, b, { quiet: true });
  b.close();
  assert.deepEqual(await losses(a.path("metrics.jsonl")), await losses(b.path("metrics.jsonl")));
  await Deno.remove(dir, { recursive: true });
});
