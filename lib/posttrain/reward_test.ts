import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { createLlama } from "../model/backend.ts";
import { pytorchFolderScores } from "../model/golden.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import { createRun } from "../run/run_folder.ts";
import { loadChatFormat } from "./chat_template.ts";
import { pairExamples } from "./examples.ts";
import { REWARD_OPTIONS } from "./options.ts";
import { type PreferencePair, writePairs } from "./records.ts";
import { requireRewardModel, rewardPadId, rowScores, toRewardModel, valueRows } from "./reward.ts";
import { saveTinyLlama } from "./testing.ts";
import { posttrain, type PosttrainOptions } from "./trainer.ts";

const defaults = Object.fromEntries(
  Object.entries(REWARD_OPTIONS).map(([k, v]) => [k, (v as { default?: unknown }).default]),
);

Deno.test("valueRows() right-pads with the pad id and reads each row at its last non-pad token", () => {
  const e = (ids: number[]) => ({ ids, mask: new Uint8Array(ids.length) });
  const r = valueRows([e([4, 5, 6]), e([7, 9]), e([1, 2, 3, 4, 5, 6])], 4, 9);
  assert.deepEqual([...r.tokens], [4, 5, 6, 9, 7, 9, 9, 9, 3, 4, 5, 6]);
  // row 1 ends with the pad id itself: transformers reads the last token that is not padding
  assert.deepEqual([...r.scoreAt], [2, 4, 11]);
  assert.deepEqual([...r.docIds], [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0]);
});

Deno.test("a reward folder Jikji writes scores the same in the PyTorch golden script (LlamaForSequenceClassification)", async () => {
  for (const tied of [true, false]) {
    const dir = await Deno.makeTempDir({ prefix: "rm-golden-" });
    await saveTinyLlama(`${dir}/base`, {
      chat: true,
      std: 0.2,
      config: { tie_word_embeddings: tied, num_key_value_heads: 1 },
    });
    const format = await loadChatFormat(`${dir}/base`);
    const rm = toRewardModel(await loadModel(`${dir}/base`), rewardPadId(format), 3);
    await saveModel(`${dir}/rm`, rm.cfg, rm.params, { tokenizerDir: `${dir}/base` });
    const config = JSON.parse(await Deno.readTextFile(`${dir}/rm/config.json`));
    assert.deepEqual(config.architectures, ["LlamaForSequenceClassification"]);
    assert.equal(config.num_labels, 1);
    assert.deepEqual(config.id2label, { "0": "LABEL_0" });
    assert.equal(config.pad_token_id, 257); // the byte tokenizer's EOS: it has no pad token
    const back = await loadModel(`${dir}/rm`);
    assert.ok(back.params.has("score.weight") && !back.params.has("lm_head.weight"));
    const prompt = [{ role: "user" as const, content: "안녕?" }];
    const ex = ["좋아요", "no", "a longer answer"].map((c) =>
      pairExamples(format, prompt, [{ role: "assistant", content: c }], [{
        role: "assistant",
        content: c,
      }]).chosen
    );
    const rows = valueRows(ex, 96, rm.cfg.pad_token_id!);
    const model = await createLlama(back.cfg, back.params, { device: "cpu" });
    const ours = await rowScores(model, rows);
    model.destroy();
    const tokens = Array.from(
      { length: rows.B },
      (_, b) => [...rows.tokens.slice(b * 96, (b + 1) * 96)],
    );
    const ref = await pytorchFolderScores(`${dir}/rm`, tokens);
    if (ref === null) return;
    if (!tied) assert.equal(ref.logits, undefined, "an untied reward folder has no LM head");
    ref.scores!.forEach(([want], b) => {
      assert.ok(
        Math.abs(ours[b] - want) < 1e-4 * Math.max(1, Math.abs(want)),
        `row ${b}: ${ours[b]} vs ${want}`,
      );
    });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train reward learns held-out pairs (accuracy above chance) and skips identical pairs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rm-train-" });
  await saveTinyLlama(`${dir}/base`, { chat: true, config: { max_position_embeddings: 192 } });
  const topics = ["sky", "tea", "rain", "cats", "maps", "jazz", "rice", "snow", "bread", "trains"];
  const pair = (i: number): PreferencePair => ({
    id: `p${i}`,
    prompt: [{ role: "user", content: `Tell me about ${topics[i % topics.length]} #${i}` }],
    chosen: [{
      role: "assistant",
      content: `Gladly! ${topics[(i * 3) % topics.length]} is lovely.`,
    }],
    rejected: [{ role: "assistant", content: `No. ${topics[(i * 7) % topics.length]} bores me.` }],
    meta: {},
  });
  const same: PreferencePair = { ...pair(99), id: "same", rejected: pair(99).chosen };
  await writePairs(`${dir}/train.jsonl`, [...Array.from({ length: 40 }, (_, i) => pair(i)), same]);
  await writePairs(`${dir}/heldout.jsonl`, Array.from({ length: 16 }, (_, i) => pair(100 + i)));
  const opts = {
    ...defaults,
    init_from: `${dir}/base`,
    data: `${dir}/train.jsonl`,
    heldout: `${dir}/heldout.jsonl`,
    steps: 30,
    batch_size: 4,
    seq_len: 96,
    lr: 3e-3,
    warmup_steps: 2,
    engine: "cpu",
    precision: "fp32",
    ckpt_every: 0,
    eval_every: 15,
  } as unknown as PosttrainOptions;
  const run = await createRun({
    task: "reward",
    config: {},
    runsDir: dir,
    gpu: false,
    echo: false,
  });
  const r = await posttrain("reward", opts, run, { quiet: true });
  run.close();
  assert.equal(r.examples.identical_pairs, 1);
  assert.equal(r.examples.train, 40);
  assert.ok(r.after.accuracy >= 0.9 && r.after.accuracy > r.before.accuracy, JSON.stringify(r));
  assert.ok(r.after.margin > r.before.margin, JSON.stringify(r));
  const metrics = (await Deno.readTextFile(run.path("metrics.jsonl"))).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.ok("accuracy" in metrics[0] && "rewards/chosen" in metrics[0] && "margin" in metrics[0]);
  assert.equal(metrics.filter((m) => m.heldout).length, 2); // step 15 and the end
  const saved = JSON.parse(await Deno.readTextFile(`${r.model_dir}/config.json`));
  assert.deepEqual(saved.architectures, ["LlamaForSequenceClassification"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a reward folder without score.weight is refused in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rm-bad-" });
  await saveTinyLlama(dir);
  const loaded = await loadModel(dir);
  assert.throws(
    () => requireRewardModel(loaded, dir),
    (e: unknown) =>
      e instanceof UserError && !e.message.includes("\n") &&
      /not a reward model \(no score\.weight\)/.test(e.message),
  );
  // a LlamaForSequenceClassification config whose weights lack the head
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ ...cfg, architectures: ["LlamaForSequenceClassification"], num_labels: 1 }),
  );
  await assert.rejects(
    () => loadModel(dir),
    (e: unknown) => e instanceof UserError && /missing tensor "score\.weight"/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
