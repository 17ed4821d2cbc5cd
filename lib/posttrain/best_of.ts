/**
 * Sampling answers from a policy and scoring them with a reward model: N samples per prompt
 * (temperature / top-p, seeded), each scored at its last token by the reward model on the same
 * conversation rendered with the reward model's own chat template. Best-of-N keeps the highest;
 * online DPO pairs the highest with the lowest.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { Llama } from "../model/llama.ts";
import { generate } from "../model/generate.ts";
import type { ChatFormat } from "./chat_template.ts";
import { pairExamples } from "./examples.ts";
import { type Message, readPrompts, writeConversations } from "./records.ts";
import { requireRewardModel, rewardPadId, rowScores, valueRows } from "./reward.ts";
import { loadModel } from "../model/hf_folder.ts";
import { createLlama } from "../model/backend.ts";
import { loadChatFormat } from "./chat_template.ts";

/** One sampled answer with its reward. */
export interface ScoredSample {
  text: string;
  /** Answer tokens (the stop id not included). */
  tokens: number;
  /**
   * The ids sampled, with the EOS id it stopped at: what the policy produced. Decoding and
   * re-encoding `text` need not give them back (a byte-level model's invalid UTF-8 becomes U+FFFD;
   * BPE has many ways to spell a text), so training on the sample uses these.
   */
  ids: number[];
  stop: "eos" | "string" | "length";
  reward: number;
}

/** How to sample. */
export interface SampleOptions {
  n: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** Rows generated at once (default 16). */
  batch?: number;
}

/**
 * N answers per prompt from `policy` (rendered with `format`), each scored by `reward` (rendered
 * with `rewardFormat`, its rows at most `T` tokens). Deterministic for a seed.
 */
export async function sampleScored(
  policy: Llama<unknown>,
  format: ChatFormat,
  reward: Llama<unknown>,
  rewardFormat: ChatFormat,
  prompts: Message[][],
  o: SampleOptions,
  T: number,
): Promise<ScoredSample[][]> {
  const jobs = prompts.flatMap((p, i) => Array.from({ length: o.n }, (_, k) => ({ i, k, p })));
  const batch = o.batch ?? 16;
  const texts: Omit<ScoredSample, "reward">[] = [];
  for (let j = 0; j < jobs.length; j += batch) {
    const part = jobs.slice(j, j + batch);
    const ids = part.map((x) => format.tokenize(x.p, { addGenerationPrompt: true }).ids);
    const gens = await generate(policy, ids, {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: (o.seed * 1_000_003 + j) >>> 0,
      stopIds: format.eosIds,
    });
    for (const g of gens) {
      texts.push({
        text: format.tokenizer.decode(g.ids),
        tokens: g.ids.length,
        stop: g.stop,
        ids: g.stopId === undefined ? g.ids : [...g.ids, g.stopId],
      });
    }
  }
  const padId = rewardPadId(rewardFormat);
  const rewards: number[] = [];
  for (let j = 0; j < jobs.length; j += 8) {
    const examples = jobs.slice(j, j + 8).map((x, q) => {
      const answer: Message[] = [{ role: "assistant", content: texts[j + q].text }];
      return pairExamples(rewardFormat, x.p, answer, answer).chosen;
    });
    rewards.push(...await rowScores(reward, valueRows(examples, T, padId)));
  }
  const out: ScoredSample[][] = prompts.map(() => []);
  jobs.forEach((x, q) => out[x.i].push({ ...texts[q], reward: rewards[q] }));
  return out;
}

/**
 * The prompts that leave room for `maxNewTokens` within the model's `maxPositions` once rendered
 * with the generation prompt, and how many did not.
 */
export function promptsThatFit(
  format: ChatFormat,
  prompts: Message[][],
  maxPositions: number,
  maxNewTokens: number,
): { kept: Message[][]; tooLong: number } {
  const kept = prompts.filter((p) =>
    format.tokenize(p, { addGenerationPrompt: true }).ids.length + maxNewTokens <= maxPositions
  );
  return { kept, tooLong: prompts.length - kept.length };
}

/** The highest- and lowest-reward samples of one prompt (the first of equals). */
export function bestAndWorst(samples: ScoredSample[]): { best: ScoredSample; worst: ScoredSample } {
  let best = samples[0], worst = samples[0];
  for (const s of samples) {
    if (s.reward > best.reward) best = s;
    if (s.reward < worst.reward) worst = s;
  }
  return { best, worst };
}

/**
 * `deno task train sample --best-of N`: N answers per prompt of `promptsPath` from the policy,
 * scored by the reward model; the best kept as a conversation record with every score in
 * `meta.rewards` (and the best's index in `meta.best`). Returns the records written.
 */
export async function writeBestOfN(o: {
  model: string;
  rewardModel: string;
  prompts: string;
  output: string;
  n: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  seqLen: number;
  device: string;
}): Promise<number> {
  if (!o.prompts) throw new UserError("--prompts: give the prompts JSONL for --best-of");
  if (!o.output) throw new UserError("--output: give the JSONL file the best answers go to");
  const rmFolder = await loadModel(o.rewardModel);
  requireRewardModel(rmFolder, o.rewardModel);
  const policyFolder = await loadModel(o.model);
  const policy = await createLlama(policyFolder.cfg, policyFolder.params, { device: o.device });
  const rm = await createLlama(rmFolder.cfg, rmFolder.params, { device: o.device });
  const format = await loadChatFormat(o.model);
  const { kept: prompts, tooLong } = promptsThatFit(
    format,
    await readPrompts(o.prompts),
    policyFolder.cfg.max_position_embeddings,
    o.maxNewTokens,
  );
  if (tooLong) {
    console.error(
      `${o.prompts}: skipped ${tooLong} prompts too long for the model with --max-new-tokens`,
    );
  }
  if (!prompts.length) throw new UserError(`${o.prompts}: no prompt fits the model's context`);
  const scored = await sampleScored(
    policy,
    format,
    rm,
    await loadChatFormat(o.rewardModel),
    prompts,
    {
      n: o.n,
      temperature: o.temperature,
      topP: o.topP,
      maxNewTokens: o.maxNewTokens,
      seed: o.seed,
    },
    o.seqLen,
  );
  policy.destroy();
  rm.destroy();
  return await writeConversations(
    o.output,
    scored.map((s, i) => {
      const { best } = bestAndWorst(s);
      return {
        id: String(i),
        messages: [...prompts[i], { role: "assistant" as const, content: best.text }],
        meta: {
          rewards: s.map((x) => x.reward),
          best: s.indexOf(best),
          lengths: s.map((x) => x.tokens),
        },
      };
    }),
  );
}
