import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import { createRun } from "../run/run_folder.ts";
import { loadChatFormat } from "./chat_template.ts";
import { ONLINE_DPO_OPTIONS } from "./options.ts";
import { onlineDpo, type OnlineDpoOptions } from "./online_dpo.ts";
import { readPairs, writeConversations } from "./records.ts";
import { rewardPadId, toRewardModel } from "./reward.ts";
import { saveTinyLlama } from "./testing.ts";

const defaults = Object.fromEntries(
  Object.entries(ONLINE_DPO_OPTIONS).map(([k, v]) => [k, (v as { default?: unknown }).default]),
);

async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "online-dpo-" });
  const config = { max_position_embeddings: 192 };
  await saveTinyLlama(`${dir}/policy`, { chat: true, std: 0.3, config });
  await saveTinyLlama(`${dir}/rm-base`, { chat: true, seed: 5, std: 0.3, config });
  const format = await loadChatFormat(`${dir}/rm-base`);
  const rm = toRewardModel(await loadModel(`${dir}/rm-base`), rewardPadId(format), 1);
  await saveModel(`${dir}/rm`, rm.cfg, rm.params, { tokenizerDir: `${dir}/rm-base` });
  const conv = (q: string) => ({
    id: q,
    messages: [{ role: "user" as const, content: q }, {
      role: "assistant" as const,
      content: "ok",
    }],
    meta: {},
  });
  await writeConversations(`${dir}/prompts.jsonl`, ["a?", "b?", "c?", "d?", "e?"].map(conv));
  await writeConversations(`${dir}/heldout.jsonl`, ["x?", "y?"].map(conv));
  const opts = {
    ...defaults,
    policy: `${dir}/policy`,
    reward_model: `${dir}/rm`,
    prompts: `${dir}/prompts.jsonl`,
    heldout_prompts: `${dir}/heldout.jsonl`,
    prompts_per_round: 4,
    samples_per_prompt: 3,
    max_new_tokens: 6,
    temperature: 1.5,
    top_p: 1,
    steps: 3,
    batch_size: 2,
    seq_len: 96,
    lr: 1e-3,
    warmup_steps: 0,
    engine: "cpu",
    precision: "fp32",
    ckpt_every: 0,
  } as unknown as OnlineDpoOptions;
  return { dir, opts };
}

const strip = (rounds: Record<string, unknown>[]) =>
  rounds.map(({ sample_s: _s, train_s: _t, ...rest }) => rest);

Deno.test("online DPO: rounds log reward, length, KL and margin; a stopped run resumes between and within rounds", async () => {
  const { dir, opts } = await fixture();
  const whole = await createRun({
    task: "odpo",
    config: {},
    runsDir: dir,
    gpu: false,
    echo: false,
  });
  const a = await onlineDpo({ ...opts, rounds: 2 }, whole, { quiet: true });
  whole.close();
  assert.equal(a.rounds.length, 2);
  for (const m of a.rounds) {
    for (const k of ["mean_reward", "mean_length", "kl", "pair_margin"] as const) {
      assert.ok(Number.isFinite(m[k]), `${k}: ${JSON.stringify(m)}`);
    }
    assert.ok(m.pair_margin > 0 && m.pairs > 0);
  }
  const metrics = (await Deno.readTextFile(whole.path("metrics.jsonl"))).trim().split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(metrics.map((m) => m.round), [0, 1, 2]);
  // the policy is its own reference before any round: the KL estimate is 0
  assert.ok(Math.abs(metrics[0].kl) < 1e-6, JSON.stringify(metrics[0]));
  // each pair keeps the ids the policy sampled; they decode to the pair's text
  const format = await loadChatFormat(opts.policy);
  for (const p of await readPairs(whole.path("round-001/pairs.jsonl"))) {
    const ids = p.meta.sampled_ids as { chosen: number[]; rejected: number[] };
    for (const side of ["chosen", "rejected"] as const) {
      const answer = ids[side].filter((id) => !format.eosIds.includes(id));
      assert.equal(format.tokenizer.decode(answer), p[side][0].content);
    }
  }

  // between rounds: one round, then the same folder asked for two
  const part = await createRun({ task: "odpo", config: {}, runsDir: dir, gpu: false, echo: false });
  await onlineDpo({ ...opts, rounds: 1 }, part, { quiet: true });
  const pairs1 = await Deno.readTextFile(part.path("round-001/pairs.jsonl"));
  // within a round: round 2 stopped after its pairs were written (no eval.json, no model yet)
  await onlineDpo({ ...opts, rounds: 2 }, part, { quiet: true });
  await Deno.remove(part.path("round-002/eval.json"));
  await Deno.remove(part.path("round-002/dpo/model"), { recursive: true });
  const pairs2 = await Deno.readTextFile(part.path("round-002/pairs.jsonl"));
  const b = await onlineDpo({ ...opts, rounds: 2 }, part, { quiet: true });
  part.close();
  assert.equal(await Deno.readTextFile(part.path("round-001/pairs.jsonl")), pairs1);
  assert.equal(await Deno.readTextFile(part.path("round-002/pairs.jsonl")), pairs2);
  assert.deepEqual(strip(b.rounds as never), strip(a.rounds as never));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("online DPO refuses a reward model without score.weight in one line", async () => {
  const { dir, opts } = await fixture();
  const run = await createRun({ task: "odpo", config: {}, runsDir: dir, gpu: false, echo: false });
  await assert.rejects(
    () => onlineDpo({ ...opts, reward_model: `${dir}/policy` }, run, { quiet: true }),
    (e: unknown) =>
      e instanceof UserError && /not a reward model \(no score\.weight\)/.test(e.message),
  );
  run.close();
  await Deno.remove(dir, { recursive: true });
});
