/**
 * Kanana's online DPO: rounds of (sample k answers per prompt from the current policy → score
 * them with the reward model → the best and the worst become a pair → DPO steps against the
 * fixed reference model). The reference stays the starting policy: Kanana found that updating
 * it made answers grow longer.
 *
 * DPO trains on the token ids the policy sampled (kept in each pair's `meta.sampled_ids`), not on
 * their decoded text re-tokenized: the two differ whenever a sample is not valid UTF-8 or not the
 * tokenizer's own spelling of its text, and then the pairs would be off-policy. The reward model
 * judges the decoded text, as a user would see it.
 *
 * Run folder layout (each round resumable on its own):
 *   round-000/eval.json        the starting policy on the held-out prompts
 *   round-t/pairs.jsonl        the round's pairs (kept: a resumed round trains on the same pairs)
 *   round-t/dpo/               the round's DPO run (checkpoints, metrics, model/)
 *   round-t/eval.json          the round's policy on the held-out prompts (the round is done)
 * and one `metrics.jsonl` record per round: mean reward of fresh samples on held-out prompts,
 * mean answer length, an estimate of KL(policy ‖ reference) on those samples (the mean of
 * Σ log π − Σ log π_ref over each answer), the mean reward margin of the round's pairs, and the
 * seconds spent sampling and training.
 *
 * Sampling for round t+1 needs round t's policy (the samples are on-policy), so the two are not
 * overlapped: on one device they would also contend for it.
 *
 * @module
 */

import { join } from "node:path";
import { writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import { readLlamaConfig } from "../model/config.ts";
import { loadModel } from "../model/hf_folder.ts";
import { createLlama } from "../model/backend.ts";
import { createRun, type RunFolder } from "../run/run_folder.ts";
import { Rng } from "../model/params.ts";
import { loadChatFormat } from "./chat_template.ts";
import { bestAndWorst, promptsThatFit, sampleScored, type ScoredSample } from "./best_of.ts";
import { sampledExample } from "./examples.ts";
import { type PreferencePair, readPairs, readPrompts, writePairs } from "./records.ts";
import { requireRewardModel } from "./reward.ts";
import { exampleLogps, posttrain, type PosttrainOptions } from "./trainer.ts";

/** Options of `deno task train online-dpo` (the DPO ones as in `deno task train dpo`). */
export interface OnlineDpoOptions extends PosttrainOptions {
  policy: string;
  reward_model: string;
  /** Prompts: conversations ending with a user turn, or preference pairs (their prompts). */
  prompts: string;
  heldout_prompts: string;
  rounds: number;
  prompts_per_round: number;
  samples_per_prompt: number;
  temperature: number;
  top_p: number;
  max_new_tokens: number;
  /** Samples per held-out prompt at each evaluation. */
  eval_samples?: number;
}

/** One round's record in metrics.jsonl. */
export interface RoundMetrics {
  round: number;
  mean_reward: number;
  mean_reward_se: number;
  mean_length: number;
  kl: number;
  pair_margin: number;
  pairs: number;
  sample_s: number;
  train_s: number;
}

/** Runs online DPO per `opts` into `run` (see the module doc); returns the per-round metrics. */
export async function onlineDpo(
  opts: OnlineDpoOptions,
  run: RunFolder,
  ctl: { quiet?: boolean } = {},
): Promise<{ rounds: RoundMetrics[]; model_dir: string }> {
  for (
    const [flag, v] of [["--policy", opts.policy], ["--reward-model", opts.reward_model], [
      "--prompts",
      opts.prompts,
    ], ["--heldout-prompts", opts.heldout_prompts]]
  ) {
    if (!v) throw new UserError(`${flag}: required`);
  }
  const reference = opts.reference || opts.policy;
  const format = await loadChatFormat(opts.policy);
  const rmFolder = await loadModel(opts.reward_model);
  requireRewardModel(rmFolder, opts.reward_model);
  const rmFormat = await loadChatFormat(opts.reward_model);
  const rm = await createLlama(rmFolder.cfg, rmFolder.params, { device: opts.engine });
  const maxPos = (await readLlamaConfig(opts.policy)).max_position_embeddings;
  const fit = async (path: string) => {
    const r = promptsThatFit(format, await readPrompts(path), maxPos, opts.max_new_tokens);
    if (r.tooLong) run.log(`${path}: skipped ${r.tooLong} prompts too long for the model`);
    if (!r.kept.length) throw new UserError(`${path}: no prompt fits the model's context`);
    return r.kept;
  };
  const prompts = await fit(opts.prompts);
  const heldout = await fit(opts.heldout_prompts);
  const ref = await loadModel(reference);
  const refModel = await createLlama(ref.cfg, ref.params, { device: opts.engine });
  const T = opts.seq_len;
  const sampleOpts = (seed: number, n: number) => ({
    n,
    temperature: opts.temperature,
    topP: opts.top_p,
    maxNewTokens: opts.max_new_tokens,
    seed,
  });

  /** Fresh samples of `policyDir` on the held-out prompts: reward, length, KL estimate. */
  /**
   * Fresh samples of `policyDir` on the held-out prompts (`eval_samples` each, the same seed every
   * round): mean reward, mean length, and the KL estimate — the mean of Σ log π − Σ log π_ref over
   * the answers (unbiased only for samples at temperature 1 without top-p).
   */
  const evaluate = async (policyDir: string) => {
    const folder = await loadModel(policyDir);
    const policy = await createLlama(folder.cfg, folder.params, { device: opts.engine });
    const n = opts.eval_samples ?? 4;
    const scored = await sampleScored(
      policy,
      format,
      rm,
      rmFormat,
      heldout,
      sampleOpts(opts.seed + 7919, n),
      T,
    );
    const all = scored.flatMap((s, i) => s.map((x) => ({ prompt: heldout[i], ...x })));
    const examples = all.map((x) => sampledExample(format, x.prompt, x.ids));
    const lp = await exampleLogps(policy, examples, T);
    const lr = await exampleLogps(refModel, examples, T);
    policy.destroy();
    const mean = (f: (i: number) => number) =>
      all.reduce((a, _, i) => a + f(i), 0) / Math.max(1, all.length);
    const reward = mean((i) => all[i].reward);
    const sd = Math.sqrt(mean((i) => (all[i].reward - reward) ** 2));
    return {
      mean_reward: reward,
      mean_reward_se: sd / Math.sqrt(Math.max(1, all.length - 1)),
      mean_length: mean((i) => all[i].tokens),
      kl: mean((i) => lp[i] - lr[i]),
      examples: all.slice(0, 3),
    };
  };

  const rounds: RoundMetrics[] = [];
  let policyDir = opts.policy;
  const roundDir = (t: number) => run.path(`round-${String(t).padStart(3, "0")}`);
  const done = async (t: number) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(roundDir(t), "eval.json")));
    } catch {
      return null;
    }
  };
  if (!(await done(0))) {
    const e = await evaluate(policyDir);
    await Deno.mkdir(roundDir(0), { recursive: true });
    await writeJsonAtomic(join(roundDir(0), "eval.json"), e);
    run.metric({ round: 0, ...e, examples: undefined });
  }
  for (let t = 1; t <= opts.rounds; t++) {
    const dir = roundDir(t);
    const finished = await done(t);
    if (finished) {
      rounds.push(finished.metrics);
      policyDir = join(dir, "dpo", "model");
      continue;
    }
    await Deno.mkdir(dir, { recursive: true });
    // ---- sample and score (skipped when the round's pairs were written before a stop) ----
    const pairsPath = join(dir, "pairs.jsonl");
    let pairs: PreferencePair[];
    let sampleSecs = 0;
    try {
      pairs = await readPairs(pairsPath);
    } catch {
      const t0 = performance.now();
      const pick = _pick(prompts.length, opts.prompts_per_round, opts.seed, t);
      const folder = await loadModel(policyDir);
      const policy = await createLlama(folder.cfg, folder.params, { device: opts.engine });
      const scored = await sampleScored(
        policy,
        format,
        rm,
        rmFormat,
        pick.map((i) => prompts[i]),
        sampleOpts(opts.seed * 31 + t, opts.samples_per_prompt),
        T,
      );
      policy.destroy();
      pairs = [];
      let skipped = 0;
      scored.forEach((s, j) => {
        const { best, worst } = bestAndWorst(s);
        if (!best.text.trim() || !worst.text.trim() || best.text === worst.text) {
          skipped++;
          return;
        }
        pairs.push({
          id: `round-${t}/${pick[j]}`,
          prompt: prompts[pick[j]],
          chosen: [{ role: "assistant", content: best.text }],
          rejected: [{ role: "assistant", content: worst.text }],
          meta: {
            rewards: s.map((x: ScoredSample) => x.reward),
            margin: best.reward - worst.reward,
            sampled_ids: { chosen: best.ids, rejected: worst.ids },
          },
        });
      });
      if (!pairs.length) {
        throw new UserError(
          `online-dpo round ${t}: every prompt's samples were identical or empty (${skipped}); raise --temperature or --samples-per-prompt`,
        );
      }
      await writePairs(pairsPath, pairs);
      sampleSecs = (performance.now() - t0) / 1000;
      run.log(
        `round ${t}: ${pairs.length} pairs (${skipped} prompts skipped) in ${
          sampleSecs.toFixed(1)
        } s`,
      );
    }
    // ---- DPO against the fixed reference ----
    const t1 = performance.now();
    const dpoDir = join(dir, "dpo");
    const resume = await Deno.stat(join(dpoDir, "checkpoints")).then(() => true, () => false);
    const dpoRun = await createRun({
      task: "train-dpo",
      dir: dpoDir,
      config: { ...opts, init_from: policyDir, reference, data: pairsPath, heldout: "" },
      seed: opts.seed,
      gpu: opts.engine !== "cpu",
      echo: false,
    });
    const r = await posttrain(
      "dpo",
      {
        ...opts,
        init_from: policyDir,
        reference,
        data: pairsPath,
        heldout: "",
      },
      dpoRun,
      { quiet: ctl.quiet, resume },
    );
    await dpoRun.finish(r as unknown as Record<string, unknown>);
    const trainSecs = (performance.now() - t1) / 1000;
    policyDir = r.model_dir;
    // ---- the round's policy on held-out prompts ----
    const e = await evaluate(policyDir);
    const margins = pairs.map((p) => Number(p.meta.margin ?? 0));
    const m: RoundMetrics = {
      round: t,
      mean_reward: e.mean_reward,
      mean_reward_se: e.mean_reward_se,
      mean_length: e.mean_length,
      kl: e.kl,
      pair_margin: margins.reduce((a, b) => a + b, 0) / Math.max(1, margins.length),
      pairs: pairs.length,
      sample_s: Math.round(sampleSecs * 10) / 10,
      train_s: Math.round(trainSecs * 10) / 10,
    };
    run.metric({ ...m });
    await writeJsonAtomic(join(dir, "eval.json"), { ...e, metrics: m });
    rounds.push(m);
  }
  rm.destroy();
  refModel.destroy();
  return { rounds, model_dir: policyDir };
}

/** `k` distinct prompt indices for round `t` (seeded; all of them when k ≥ n). */
function _pick(n: number, k: number, seed: number, t: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng([seed >>> 0, t >>> 0, 0x0d70, 3]);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, Math.min(n, k));
}
