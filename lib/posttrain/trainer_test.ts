import assert from "node:assert/strict";
import { writeJsonAtomic } from "../io/atomic.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { saveModel } from "../model/hf_folder.ts";
import { initParams } from "../model/params.ts";
import { createRun } from "../run/run_folder.ts";
import { byteLevelTokenizerJson } from "../train/tokenizer.ts";
import { writeByteLevelChatFiles } from "./byte_chat.ts";
import { writeConversations, writePairs } from "./records.ts";
import { DPO_OPTIONS, SFT_OPTIONS } from "./options.ts";
import { posttrain, type PosttrainOptions } from "./trainer.ts";

const QA = [
  ["sky?", "blue"],
  ["grass?", "green"],
  ["snow?", "white"],
  ["coal?", "black"],
  ["하늘?", "파랑"],
  ["sun?", "yellow"],
];

function defaults(spec: Record<string, { default?: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default]));
}

/** DPO options for the fixture's pairs: 15 steps of 4 pairs on the CPU engine. */
function dpoOptions(dir: string, o: Partial<PosttrainOptions>): PosttrainOptions {
  return {
    ...defaults(DPO_OPTIONS),
    init_from: `${dir}/base`,
    data: `${dir}/dpo.jsonl`,
    heldout: `${dir}/dpo.heldout.jsonl`,
    steps: 15,
    batch_size: 4,
    seq_len: 96,
    lr: 3e-3,
    warmup_steps: 1,
    engine: "cpu",
    precision: "fp32",
    ckpt_every: 0,
    ...o,
  } as unknown as PosttrainOptions;
}

async function fixture() {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/tok`);
  await writeJsonAtomic(`${dir}/tok/tokenizer.json`, byteLevelTokenizerJson());
  await writeByteLevelChatFiles(`${dir}/tok`);
  const cfg = parseLlamaConfig({
    hidden_size: 32,
    intermediate_size: 64,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: 260,
    max_position_embeddings: 192,
    tie_word_embeddings: true,
  });
  await saveModel(`${dir}/base`, cfg, initParams(cfg, 3), { tokenizerDir: `${dir}/tok` });
  const conv = (i: number) => ({
    id: `c${i}`,
    messages: [
      { role: "user" as const, content: QA[i % QA.length][0] },
      { role: "assistant" as const, content: QA[i % QA.length][1] },
    ],
    meta: {},
  });
  await writeConversations(`${dir}/sft.jsonl`, Array.from({ length: 30 }, (_, i) => conv(i)));
  // held out: the same questions asked in other records (never these ids)
  await writeConversations(
    `${dir}/sft.heldout.jsonl`,
    Array.from({ length: 6 }, (_, i) => conv(i)),
  );
  const pair = (i: number) => ({
    id: `p${i}`,
    prompt: [{ role: "user" as const, content: QA[i % QA.length][0] }],
    chosen: [{ role: "assistant" as const, content: QA[i % QA.length][1] }],
    rejected: [{ role: "assistant" as const, content: QA[(i + 1) % QA.length][1] }],
    meta: {},
  });
  await writePairs(`${dir}/dpo.jsonl`, Array.from({ length: 24 }, (_, i) => pair(i)));
  await writePairs(`${dir}/dpo.heldout.jsonl`, Array.from({ length: 6 }, (_, i) => pair(i)));
  return dir;
}

Deno.test("train sft lowers held-out answer loss and teaches the model to end with EOS; dpo raises preference accuracy", async () => {
  const dir = await fixture();
  const sftOpts = {
    ...defaults(SFT_OPTIONS),
    init_from: `${dir}/base`,
    data: `${dir}/sft.jsonl`,
    heldout: `${dir}/sft.heldout.jsonl`,
    steps: 60,
    batch_size: 8,
    seq_len: 96,
    lr: 1e-2,
    warmup_steps: 2,
    engine: "cpu",
    precision: "fp32",
    eos_eval: 6,
    ckpt_every: 0,
  } as unknown as PosttrainOptions;
  const run = await createRun({ task: "sft", config: {}, runsDir: dir, gpu: false, echo: false });
  const sft = await posttrain("sft", sftOpts, run, { quiet: true });
  run.close();
  assert.ok(sft.after.answer_loss < 0.5 * sft.before.answer_loss, JSON.stringify(sft));
  assert.ok(sft.after.ends_with_eos > sft.before.ends_with_eos, JSON.stringify(sft));
  for (const loss of ["sigmoid", "thunder"]) {
    const dpoOpts = dpoOptions(dir, {
      init_from: sft.model_dir,
      loss,
      beta: loss === "sigmoid" ? 0.5 : 0.1,
    });
    const r2 = await createRun({ task: "dpo", config: {}, runsDir: dir, gpu: false, echo: false });
    const dpo = await posttrain("dpo", dpoOpts, r2, { quiet: true });
    r2.close();
    assert.ok(
      dpo.after.preference_accuracy >= dpo.before.preference_accuracy,
      `${loss}: ${JSON.stringify(dpo)}`,
    );
    assert.ok(
      dpo.after.logp_margin > dpo.before.logp_margin + 1,
      `${loss}: ${JSON.stringify(dpo)}`,
    );
    if (loss === "sigmoid") {
      const metrics = (await Deno.readTextFile(r2.path("metrics.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l));
      assert.ok("rewards/margins" in metrics[0] && "rewards/accuracies" in metrics[0]);
      await Deno.stat(r2.path("reference_logps.json"));
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train sft resumed from a checkpoint gives the same losses as an uninterrupted run", async () => {
  const dir = await fixture();
  const opts = {
    ...defaults(SFT_OPTIONS),
    init_from: `${dir}/base`,
    data: `${dir}/sft.jsonl`,
    steps: 6,
    batch_size: 2,
    seq_len: 96,
    lr: 1e-2,
    warmup_steps: 1,
    engine: "cpu",
    precision: "fp8",
    eos_eval: 0,
    ckpt_every: 3,
  } as unknown as PosttrainOptions;
  const losses = async (path: string) =>
    (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((m) => "loss" in m && "lr" in m).map((m) => [m.step, m.loss]);
  const a = await createRun({
    task: "sft",
    config: {},
    runsDir: `${dir}/a`,
    gpu: false,
    echo: false,
  });
  await posttrain("sft", opts, a, { quiet: true });
  a.close();
  const b = await createRun({
    task: "sft",
    config: {},
    runsDir: `${dir}/b`,
    gpu: false,
    echo: false,
  });
  await posttrain("sft", opts, b, { quiet: true, stopAfterStep: 4 }); // killed after step 4
  b.close();
  const b2 = await createRun({ task: "sft", config: {}, dir: b.dir, gpu: false, echo: false });
  const r = await posttrain("sft", opts, b2, { quiet: true, resume: true });
  b2.close();
  assert.equal(r.resumed_from_step, 3);
  const want = await losses(a.path("metrics.jsonl"));
  const got = (await losses(b.path("metrics.jsonl"))).filter(([s], i, all) =>
    all.findLastIndex(([t]) => t === s) === i
  );
  assert.deepEqual(got, want);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train sft mixes rows of pretraining text into each micro-batch", async () => {
  const dir = await fixture();
  const { tokenizeToShard } = await import("../train/tokenize.ts");
  const { tokenizerFromJson } = await import("../train/tokenizer.ts");
  const docs = Array.from(
    { length: 20 },
    (_, i) => ({ id: `${i}`, text: "plain text ".repeat(20), meta: {} }),
  );
  const { writeDocs } = await import("../io/jsonl.ts");
  await writeDocs(`${dir}/pt.jsonl`, docs);
  await tokenizeToShard(
    tokenizerFromJson(byteLevelTokenizerJson()),
    [`${dir}/pt.jsonl`],
    `${dir}/pt.tok`,
    {
      mode: "quiet",
    },
  );
  const opts = {
    ...defaults(SFT_OPTIONS),
    init_from: `${dir}/base`,
    data: `${dir}/sft.jsonl`,
    steps: 2,
    batch_size: 2,
    seq_len: 96,
    engine: "cpu",
    precision: "fp32",
    eos_eval: 0,
    ckpt_every: 0,
    pretrain_data: `${dir}/pt.tok`,
    pretrain_rows: 2,
  } as unknown as PosttrainOptions;
  const run = await createRun({ task: "sft", config: {}, runsDir: dir, gpu: false, echo: false });
  await posttrain("sft", opts, run, { quiet: true });
  run.close();
  const m =
    (await Deno.readTextFile(run.path("metrics.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    )[0];
  // answer tokens of 2 short conversations plus 2 full rows of 32 pretraining targets
  assert.ok(m.answer_tokens > 64, JSON.stringify(m));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train dpo with rpo_alpha adds α × the chosen answers' per-token NLL to the loss and keeps their likelihood up", async () => {
  const dir = await fixture();
  const nllAfter: number[] = [];
  for (const alpha of [0, 1]) {
    const opts = dpoOptions(dir, { heldout: "", beta: 0.5, rpo_alpha: alpha });
    const run = await createRun({ task: "dpo", config: {}, runsDir: dir, gpu: false, echo: false });
    await posttrain("dpo", opts, run, { quiet: true });
    run.close();
    const steps = (await Deno.readTextFile(run.path("metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => typeof m.loss === "number");
    // step 1: the policy is its reference, so the sigmoid loss is ln 2 exactly
    assert.ok(Math.abs(steps[0].loss - (Math.LN2 + alpha * steps[0].nll)) < 1e-6, `${alpha}`);
    nllAfter.push(steps.at(-1).nll);
  }
  assert.ok(nllAfter[1] < nllAfter[0], JSON.stringify(nllAfter));
  await Deno.remove(dir, { recursive: true });
});
