import assert from "node:assert/strict";
import { createRun } from "../run/run_folder.ts";
import { Rng } from "../model/params.ts";
import { ShardWriter } from "./shards.ts";
import { trainOptions } from "./options.ts";
import { train } from "./trainer.ts";
import { StagePlan, validateStages } from "./stages.ts";

Deno.test("StagePlan lays stages out in steps: warm-up, each stage's part, annealing to zero", () => {
  const p = new StagePlan(
    [{ tokens: 1000, mix: { en: 1 } }, { tokens: 250, mix: { ko: 1 } }],
    100,
    0.01,
    2,
    ["en", "ko"],
  );
  assert.equal(p.totalSteps, 13); // 10 + ceil(2.5)
  assert.deepEqual(p.stages.map((s) => [s.name, s.start, s.steps]), [["stage1", 0, 10], [
    "stage2",
    10,
    3,
  ]]);
  const lr = Array.from({ length: 13 }, (_, s) => p.lrAt(s));
  assert.deepEqual(lr.slice(0, 2), [0.005, 0.01]); // warm-up
  assert.ok(lr.slice(2, 10).every((x) => x === 0.01), "stage 1 keeps its rate");
  assert.deepEqual(lr.slice(10).map((x) => +x.toFixed(6)), [0.01, 0.006667, 0.003333]);
  assert.equal(p.stageAt(9).name, "stage1");
  assert.deepEqual(p.stageAt(10).mix, { ko: 1 });
  assert.throws(() => new StagePlan([{ tokens: 5, mix: { de: 1 } }], 1, 1, 0, ["en"]), /"de"/);
});

Deno.test("validateStages() says what was expected", () => {
  assert.equal(validateStages([{ tokens: 10 }]), undefined);
  assert.match(validateStages({})!, /a list/);
  assert.match(validateStages([{ tokens: 0 }])!, /stage 1: tokens/);
  assert.match(validateStages([{ tokens: 5 }, { tokens: 5, lr: 1 }])!, /stage 2: known keys.*"lr"/);
  assert.match(validateStages([{ tokens: 5, mix: { en: 0 } }])!, /at least one > 0/);
  assert.match(validateStages([{ tokens: 5, schedule: "step" }])!, /linear or cosine/);
});

async function shards(dir: string) {
  const rng = new Rng(3);
  for (const [name, lo] of [["en", 0], ["ko", 20]] as const) {
    const w = await ShardWriter.open(`${dir}/${name}.tok`, 40, 39);
    for (let d = 0; d < 30; d++) {
      const s = lo + (rng.nextU32() % 10);
      await w.addDoc(Array.from({ length: 24 }, (_, i) => s + (i % 7)));
    }
    await w.close();
  }
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({
      hidden_size: 16,
      intermediate_size: 32,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      vocab_size: 40,
      tie_word_embeddings: true,
      max_position_embeddings: 64,
    }),
  );
}

Deno.test("train with stages switches mixtures by stage and resumes mid-stage exactly", async () => {
  const dir = await Deno.makeTempDir();
  await shards(dir);
  const opts = trainOptions({
    model_config: `${dir}/config.json`,
    data: [`en=${dir}/en.tok`, `ko=${dir}/ko.tok`],
    batch_size: 2,
    seq_len: 8,
    warmup_steps: 1,
    precision: "fp32",
    engine: "cpu",
    eval_every: 0,
    ckpt_every: 2,
    stages: [
      { name: "broad", tokens: 64, mix: { en: 1 } }, // 4 steps of 16 tokens
      { name: "anneal", tokens: 48, mix: { ko: 1 } }, // 3 steps, lr to 0
    ],
  });
  const metrics = async (path: string) =>
    (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((m) => "loss" in m);
  const a = await createRun({
    task: "t",
    config: {},
    runsDir: `${dir}/a`,
    gpu: false,
    echo: false,
  });
  const sa = await train(opts, a, { quiet: true });
  a.close();
  assert.equal(sa.steps, 7);
  const ma = await metrics(a.path("metrics.jsonl"));
  assert.deepEqual(ma.map((m) => m.stage), [...Array(4).fill("broad"), ...Array(3).fill("anneal")]);
  assert.ok(ma.slice(0, 4).every((m) => Object.keys(m.rows_by_source).join() === "en"));
  assert.ok(ma.slice(4).every((m) => Object.keys(m.rows_by_source).join() === "ko"));
  assert.ok(ma[6].lr > 0 && ma[6].lr < ma[4].lr);
  const b = await createRun({
    task: "t",
    config: {},
    runsDir: `${dir}/b`,
    gpu: false,
    echo: false,
  });
  await train(opts, b, { quiet: true, stopAfterStep: 6 }); // stopped inside stage 2 (steps 5-7)
  b.close();
  const b2 = await createRun({ task: "t", config: {}, dir: b.dir, gpu: false, echo: false });
  const sb = await train(opts, b2, { quiet: true, resume: true });
  b2.close();
  assert.equal(sb.resumed_from_step, 6);
  const mb = (await metrics(b.path("metrics.jsonl"))).filter((m, i, all) =>
    all.findLastIndex((x) => x.step === m.step) === i
  );
  const strip = (ms: Record<string, unknown>[]) => ms.map(({ t: _t, tokens_per_s: _s, ...m }) => m);
  assert.deepEqual(strip(mb), strip(ma));
  const wa = await Deno.readFile(`${a.dir}/model/model.safetensors`);
  const wb = await Deno.readFile(`${b.dir}/model/model.safetensors`);
  assert.deepEqual(wa, wb, "the same final weights, byte for byte");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the staged preset (data/configs/train-tiny-staged.yaml) parses into its two stages", async () => {
  const { parseCommand } = await import("../cli/options.ts");
  const { TRAIN_OPTIONS } = await import("./options.ts");
  const root = new URL("../..", import.meta.url).pathname;
  const p = await parseCommand({ name: "train", summary: "", options: TRAIN_OPTIONS }, [
    "--config",
    `${root}data/configs/train-tiny-staged.yaml`,
  ]);
  const plan = new StagePlan(p.options.stages as never, 4 * 64, p.options.lr, 15, ["en", "ko"]);
  assert.deepEqual(plan.stages.map((s) => [s.name, s.steps, s.lrEnd]), [
    ["broad", 150, 0.003],
    ["high-quality", 30, 0],
  ]);
  const bad = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(bad, "stages:\n  - { tokens: 10, mixture: { en: 1 } }\n");
  await assert.rejects(
    () => parseCommand({ name: "train", summary: "", options: TRAIN_OPTIONS }, ["--config", bad]),
    /stages.*stage 1: known keys.*"mixture"/,
  );
});
