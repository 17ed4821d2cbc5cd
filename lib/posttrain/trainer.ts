/**
 * `deno task train sft` and `deno task train dpo`: Thunder-LLM's post-training on the one Llama
 * through the training engine (same precision policy, AdamW, clipping, schedule, metrics to the run
 * folder, checkpoints and resume as `deno task train`), with TRL as the anchor for what each
 * trainer logs.
 *
 * - SFT: conversations rendered by the tokenizer's chat template; loss on assistant tokens (and
 *   their end token, so the model learns to stop) by default, `--loss-on all` for everything; rows
 *   packed (several conversations per row, document masks, restarted positions) or padded.
 * - DPO: chosen and rejected rows of `pairs_per_batch` pairs in one batch; the policy's summed
 *   answer log-probs go through a preference loss (lib/posttrain/preference_loss.ts) whose
 *   derivatives become per-token weights of the model's loss head. The frozen reference model's
 *   log-probs are computed once, before the first step, and cached in the run folder
 *   (`reference_logps.json`).
 *
 * - Reward model (TRL's `RewardTrainer`): the model becomes a `LlamaForSequenceClassification`
 *   (lib/posttrain/reward.ts); chosen and rejected sequences score at their last token through
 *   the value head, and the Bradley–Terry loss (lib/posttrain/reward_loss.ts), with a per-pair
 *   `meta.margin` when records carry one, trains it; accuracy and mean margin on held-out pairs
 *   at every evaluation.
 *
 * Pairs whose chosen and rejected answers are identical teach nothing: they are counted and
 * skipped. Batches are a deterministic function of the seed and the step, so a resumed run sees
 * the same data as an uninterrupted one.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { Progress, progressMode } from "../cli/progress.ts";
import type { RunFolder } from "../run/run_folder.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import type { Llama } from "../model/llama.ts";
import { Rng } from "../model/params.ts";
import { parseRefOps } from "../model/backend.ts";
import { precisionPolicy } from "../model/precision.ts";
import { generate } from "../model/generate.ts";
import { createEngine, type Engine } from "../train/engine.ts";
import { lrAt } from "../train/optim.ts";
import { MixedLoader } from "../train/data.ts";
import { readShard } from "../train/shards.ts";
import { loadLatestCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { type ChatFormat, loadChatFormat } from "./chat_template.ts";
import { readConversations, readPairs } from "./records.ts";
import type { Message } from "./records.ts";
import {
  conversationExample,
  type Example,
  makeRows,
  preferenceExamples,
  type Rows,
  sliceRows,
} from "./examples.ts";
import { rewardPadId, rowScores, toRewardModel, valueRows } from "./reward.ts";
import { rewardLoss, rewardMetrics } from "./reward_loss.ts";
import {
  needsReference,
  type PairLoss,
  PREFERENCE_LOSSES,
  preferenceLoss,
  type PreferenceLossName,
  preferenceMetrics,
} from "./preference_loss.ts";

/** Options of both trainers (snake_case as in the CLI and YAML). */
export interface PosttrainOptions {
  init_from: string;
  data: string;
  heldout: string;
  steps: number;
  batch_size: number;
  seq_len: number;
  grad_accum: number;
  lr: number;
  warmup_steps: number;
  min_lr_ratio: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  clip: number;
  precision: string;
  fp8_attention: boolean;
  amax_history: number;
  fp8_margin: number;
  ref_ops: string;
  seed: number;
  ckpt_every: number;
  engine: string;
  save_dtype: string;
  /** Hub repo to push checkpoints to ("" = none) and the step multiple to push at. */
  push_to?: string;
  push_every?: number;
  // sft
  loss_on: string;
  packing: boolean;
  /** A token shard mixed in, `pretrain_rows` rows of it per micro-batch (sft). */
  pretrain_data?: string;
  pretrain_rows?: number;
  // dpo
  loss: string;
  beta: number;
  gamma: number;
  /** Held-out conversations generated from to count answers that end with EOS (sft). */
  eos_eval: number;
  /** The frozen reference model's folder (dpo; default: `init_from`). */
  reference?: string;
  /**
   * Weight α of an NLL term on the chosen answer added to the preference loss (dpo; TRL's
   * `rpo_alpha`, 0 = none): α · (−log π(chosen) / its tokens), averaged over the pairs, as in
   * iterative RPO (Pang et al., 2024). It keeps DPO from lowering the chosen answer's likelihood
   * along with the rejected one's, which destabilises rounds of online DPO.
   */
  rpo_alpha?: number;
  // reward
  /** TRL's `center_rewards_coefficient` (0 = none). */
  center_rewards?: number;
  /** Evaluate on the held-out records every this many steps (0 = before and after only). */
  eval_every?: number;
}

/** The three post-training trainers. */
export type PosttrainKind = "sft" | "dpo" | "reward";

/** Sequence-level log-probs of rows: Σ log p over each row's targets, and their count. */
async function rowLogps(model: Llama<unknown>, rows: Rows) {
  const pass = await model.forward(rows);
  const s = await model.score(pass, rows.targets);
  model.release(pass);
  return _sums(rows, s.logprob);
}

function _sums(rows: Rows, logprob: Float32Array) {
  const sum = new Float64Array(rows.B), count = new Int32Array(rows.B);
  for (let b = 0; b < rows.B; b++) {
    for (let t = 0; t < rows.T; t++) {
      const i = b * rows.T + t;
      if (rows.targets[i] < 0) continue;
      sum[b] += logprob[i];
      count[b]++;
    }
  }
  return { sum, count };
}

/** The order of examples in epoch `e` (seeded shuffle). */
function _order(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng([seed >>> 0, epoch >>> 0, 0x5f7, 1]);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/** Items [k·size, (k+1)·size) of the endless seeded stream over `n` items. */
function _take(n: number, seed: number, k: number, size: number): number[] {
  const out: number[] = [];
  for (let j = k * size; j < (k + 1) * size; j++) {
    const epoch = Math.floor(j / n);
    out.push(_order(n, seed, epoch)[j % n]);
  }
  return out;
}

/** SFT rows followed by rows of pretraining text (every token a target; one document each). */
function _withPretraining(rows: Rows, pt: { tokens: Int32Array; targets: Int32Array }): Rows {
  const extra = pt.tokens.length / rows.T, B = rows.B + extra;
  const cat = (a: Int32Array, b: Int32Array) => {
    const out = new Int32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  return {
    B,
    T: rows.T,
    tokens: cat(rows.tokens, pt.tokens),
    targets: cat(rows.targets, pt.targets),
    docIds: cat(rows.docIds, new Int32Array(pt.tokens.length)),
  };
}

/** Σ log p over each example's loss tokens (padded rows of T, eight at a time). */
export async function exampleLogps(
  model: Llama<unknown>,
  examples: Example[],
  T: number,
): Promise<Float64Array> {
  const out = new Float64Array(examples.length);
  for (let i = 0; i < examples.length; i += 8) {
    const r = await rowLogps(model, makeRows(examples.slice(i, i + 8), T, false));
    out.set(r.sum, i);
  }
  return out;
}

/** Mean answer-token loss of held-out examples (padded rows, no packing). */
export async function answerLoss(
  model: Llama<unknown>,
  examples: Example[],
  T: number,
): Promise<{ loss: number; tokens: number }> {
  let sum = 0, n = 0;
  for (let i = 0; i < examples.length; i += 8) {
    const rows = makeRows(examples.slice(i, i + 8), T, false);
    const r = await rowLogps(model, rows);
    for (let b = 0; b < rows.B; b++) {
      sum -= r.sum[b];
      n += r.count[b];
    }
  }
  return { loss: n ? sum / n : NaN, tokens: n };
}

/**
 * Share of held-out prompts whose greedy answer ends with an EOS id within `maxNew` tokens (over
 * the prompts that leave room for `maxNew` tokens in the model's context).
 */
export async function eosShare(
  model: Llama<unknown>,
  format: ChatFormat,
  conversations: Message[][],
  maxNew: number,
): Promise<number> {
  const all = conversations.map((m) => {
    const last = m.map((x) => x.role).lastIndexOf("assistant");
    return format.tokenize(m.slice(0, last), { addGenerationPrompt: true }).ids;
  }).filter((ids) => ids.length + maxNew <= model.cfg.max_position_embeddings);
  if (!all.length) return NaN;
  let ended = 0;
  for (let i = 0; i < all.length; i += 8) {
    const gens = await generate(model, all.slice(i, i + 8), {
      maxNewTokens: maxNew,
      stopIds: format.eosIds,
    });
    ended += gens.filter((g) => g.stop === "eos").length;
  }
  return ended / all.length;
}

/**
 * Preference accuracy of held-out pairs: the share with Σ log p(chosen) > Σ log p(rejected), and
 * the mean of that difference (the log-prob margin).
 */
export async function preferenceAccuracy(
  model: Llama<unknown>,
  pairs: { chosen: Example; rejected: Example }[],
  T: number,
): Promise<{ accuracy: number; margin: number }> {
  if (!pairs.length) return { accuracy: NaN, margin: NaN };
  let right = 0, margin = 0;
  for (let i = 0; i < pairs.length; i += 8) {
    const part = pairs.slice(i, i + 8);
    const rows = makeRows(part.flatMap((p) => [p.chosen, p.rejected]), T, false);
    const r = await rowLogps(model, rows);
    for (let k = 0; k < part.length; k++) {
      if (r.sum[2 * k] > r.sum[2 * k + 1]) right++;
      margin += r.sum[2 * k] - r.sum[2 * k + 1];
    }
  }
  return { accuracy: right / pairs.length, margin: margin / pairs.length };
}

/** Held-out reward-model scores of pairs: accuracy with its standard error, mean margin. */
export async function rewardAccuracy(
  model: Llama<unknown>,
  pairs: { chosen: Example; rejected: Example }[],
  T: number,
  padId: number,
): Promise<Record<string, number>> {
  const scores: { chosen: number; rejected: number }[] = [];
  for (let i = 0; i < pairs.length; i += 8) {
    const part = pairs.slice(i, i + 8);
    const v = await rowScores(
      model,
      valueRows(part.flatMap((p) => [p.chosen, p.rejected]), T, padId),
    );
    part.forEach((_, k) => scores.push({ chosen: v[2 * k], rejected: v[2 * k + 1] }));
  }
  const m = rewardMetrics(scores);
  return { accuracy: m.accuracy, accuracy_se: m.accuracy_se, margin: m.margin };
}

/** What a post-training run returns. */
export interface PosttrainSummary {
  kind: PosttrainKind;
  steps: number;
  final_loss: number;
  before: Record<string, number>;
  after: Record<string, number>;
  tokens_per_s: number;
  model_dir: string;
  engine: string;
  resumed_from_step: number | null;
  examples: { train: number; heldout: number; dropped_empty: number; identical_pairs: number };
}

/** Runs SFT or DPO per `opts` into `run` (see the module doc). */
export async function posttrain(
  kind: PosttrainKind,
  opts: PosttrainOptions,
  run: RunFolder,
  ctl: {
    quiet?: boolean;
    resume?: boolean;
    stopAfterStep?: number;
    /** Called after each periodic checkpoint (e.g. to push it to the Hub); must not throw. */
    onCheckpoint?: (dir: string, step: number) => void | Promise<void>;
  } = {},
): Promise<PosttrainSummary> {
  if (!opts.init_from) {
    throw new UserError(`--init-from: the ${kind.toUpperCase()} needs a model folder`);
  }
  if (!opts.data) {
    throw new UserError(`--data: give the ${kind === "sft" ? "conversations" : "pairs"} JSONL`);
  }
  const precision = precisionPolicy(opts.precision, {
    fp8Attention: opts.fp8_attention,
    amaxHistory: opts.amax_history,
    margin: opts.fp8_margin,
  });
  const lossName = opts.loss as PreferenceLossName;
  if (kind === "dpo" && !PREFERENCE_LOSSES.includes(lossName)) {
    throw new UserError(
      `--loss: expected one of ${PREFERENCE_LOSSES.join(", ")}, got ${opts.loss}`,
    );
  }
  if (opts.loss_on !== "assistant" && opts.loss_on !== "all") {
    throw new UserError(`--loss-on: expected assistant or all, got ${opts.loss_on}`);
  }
  const format = await loadChatFormat(opts.init_from);
  const T = opts.seq_len;
  // ---- data ----
  let dropped = 0;
  const sftTrain: Example[] = [], sftHeld: Example[] = [], heldConvs: Message[][] = [];
  const pairTrain: { chosen: Example; rejected: Example; margin: number }[] = [];
  const pairHeld: { chosen: Example; rejected: Example }[] = [];
  const keep = (e: Example) => e.mask.some((m) => m === 1) || (dropped++, false);
  let identical = 0;
  const distinct = (p: { chosen: Message[]; rejected: Message[] }) =>
    JSON.stringify(p.chosen) !== JSON.stringify(p.rejected) || (identical++, false);
  if (kind === "sft") {
    for (const c of await readConversations(opts.data)) {
      const e = conversationExample(format, c.messages, opts.loss_on as "assistant" | "all");
      if (keep(e)) sftTrain.push(e);
    }
    if (opts.heldout) {
      for (const c of await readConversations(opts.heldout)) {
        const e = conversationExample(format, c.messages, "assistant");
        if (keep(e)) {
          sftHeld.push(e);
          heldConvs.push(c.messages);
        }
      }
    }
  } else {
    for (const p of await readPairs(opts.data)) {
      if (!distinct(p)) continue;
      const e = preferenceExamples(format, p, opts.data);
      const margin = typeof p.meta.margin === "number" && kind === "reward" ? p.meta.margin : 0;
      if (keep(e.chosen) && keep(e.rejected)) pairTrain.push({ ...e, margin });
    }
    if (opts.heldout) {
      for (const p of await readPairs(opts.heldout)) {
        if (!distinct(p)) continue;
        const e = preferenceExamples(format, p, opts.heldout);
        if (keep(e.chosen) && keep(e.rejected)) pairHeld.push(e);
      }
    }
  }
  const nTrain = kind === "sft" ? sftTrain.length : pairTrain.length;
  if (identical) {
    run.log(`${kind}: skipped ${identical} pairs whose chosen and rejected are identical`);
  }
  if (!nTrain) {
    throw new UserError(
      `${opts.data}: no usable records (every answer empty once tokenized${
        identical ? `, or chosen identical to rejected in ${identical} pairs` : ""
      })`,
    );
  }

  // ---- model, resume ----
  const optionsKey = JSON.stringify({ kind, ...opts, engine: undefined, ckpt_every: undefined });
  const ckptDir = run.path("checkpoints");
  const latest = ctl.resume ? await loadLatestCheckpoint(ckptDir) : undefined;
  if (latest && latest.state.options_key !== optionsKey) {
    throw new UserError(
      `${latest.path}: the run's options changed since this checkpoint; resume with the same config`,
    );
  }
  if (latest) await run.dropMetricsAfter(latest.state.step);
  const padId = rewardPadId(format);
  const init = kind === "reward"
    ? toRewardModel(await loadModel(opts.init_from), padId, opts.seed)
    : await loadModel(opts.init_from);
  const cfg = latest?.cfg ?? init.cfg;
  const engine: Engine = await createEngine(opts.engine, {
    cfg,
    params: latest?.params ?? init.params,
    adam: { beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps, weightDecay: opts.weight_decay },
    moments: latest
      ? { m: latest.m, v: latest.v, t: latest.state.adam_t, extra: latest.extra }
      : undefined,
    B: opts.batch_size,
    T,
    precision,
    clip: opts.clip,
    refOps: parseRefOps(opts.ref_ops),
  });
  const model = engine.model;
  const evaluate = async (): Promise<Record<string, number>> => {
    if (kind === "sft") {
      const l = await answerLoss(model, sftHeld, T);
      const share = opts.eos_eval > 0
        ? await eosShare(model, format, heldConvs.slice(0, opts.eos_eval), 48)
        : NaN;
      return { answer_loss: l.loss, answer_tokens: l.tokens, ends_with_eos: share };
    }
    if (kind === "reward") return await rewardAccuracy(model, pairHeld, T, padId);
    const a = await preferenceAccuracy(model, pairHeld, T);
    return { preference_accuracy: a.accuracy, logp_margin: a.margin };
  };
  const before = latest ? {} : await evaluate();
  run.log(
    `${kind}: ${nTrain} training examples, held out ${sftHeld.length + pairHeld.length}; before: ${
      JSON.stringify(before)
    }`,
  );

  // reference log-probs (DPO with a reference): once, with the initial model, cached
  let ref: { c: Float64Array; r: Float64Array } | undefined;
  if (kind === "dpo" && needsReference(lossName)) {
    const path = run.path("reference_logps.json");
    try {
      const j = JSON.parse(await Deno.readTextFile(path));
      if (j.pairs === pairTrain.length) {
        ref = { c: Float64Array.from(j.chosen), r: Float64Array.from(j.rejected) };
      }
    } catch { /* not cached yet */ }
    if (!ref) {
      const refFolder = opts.reference ? await loadModel(opts.reference) : init;
      const refModel = latest || opts.reference
        ? (await createEngine(opts.engine, {
          cfg: refFolder.cfg,
          params: refFolder.params,
          adam: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 },
          B: 1,
          T,
          precision,
          clip: 0,
        })).model
        : model;
      ref = { c: new Float64Array(pairTrain.length), r: new Float64Array(pairTrain.length) };
      for (let i = 0; i < pairTrain.length; i += 8) {
        const part = pairTrain.slice(i, i + 8);
        const s = await rowLogps(
          refModel,
          makeRows(part.flatMap((p) => [p.chosen, p.rejected]), T, false),
        );
        part.forEach((_, k) => {
          ref!.c[i + k] = s.sum[2 * k];
          ref!.r[i + k] = s.sum[2 * k + 1];
        });
      }
      if (refModel !== model) refModel.destroy();
      await writeJsonAtomic(path, {
        pairs: pairTrain.length,
        chosen: [...ref.c],
        rejected: [...ref.r],
      });
    }
  }

  // pretraining text mixed into SFT: a loader replayed to the resumed step
  let mix: MixedLoader | undefined;
  if (kind === "sft" && opts.pretrain_data && (opts.pretrain_rows ?? 0) > 0) {
    const shard = await readShard(opts.pretrain_data);
    if (shard.vocabSize > cfg.vocab_size) {
      throw new UserError(
        `${opts.pretrain_data}: tokenized with a larger vocabulary than the model's`,
      );
    }
    mix = new MixedLoader(
      [{ name: "pretrain", shards: [shard], weight: 1 }],
      opts.pretrain_rows!,
      T,
      opts.seed,
      0,
    );
    for (let k = 0; k < (latest?.state.step ?? 0) * opts.grad_accum; k++) mix.next();
  }

  // ---- the loop ----
  let step = latest?.state.step ?? 0, tokensSeen = latest?.state.tokens_seen ?? 0;
  const progress = new Progress({
    label: kind,
    total: opts.steps,
    unit: "steps",
    mode: progressMode(ctl.quiet ?? false),
  });
  progress.set(step);
  const t0 = performance.now();
  let stepsRun = 0, lastLoss = NaN, tokensRun = 0;
  const snapshotTo = async () => {
    const snap = await engine.snapshot();
    const saved = await saveCheckpoint(ckptDir, cfg, snap.params, snap, {
      step,
      adam_t: snap.t,
      loader: { step } as never,
      tokens_seen: tokensSeen,
      options_key: optionsKey,
    }, opts.init_from);
    return { params: snap.params, dir: saved };
  };
  while (step < opts.steps) {
    const ts = performance.now();
    const lr = lrAt(step, opts.lr, opts.warmup_steps, opts.steps, opts.min_lr_ratio);
    let metrics: Record<string, number> = {};
    let tokens = 0;
    const r = await engine.stepWith(lr, async (m, grads) => {
      let loss = 0;
      if (kind === "sft") {
        const micro: Rows[] = [];
        for (let k = 0; k < opts.grad_accum; k++) {
          const ids = _take(
            nTrain,
            opts.seed,
            step * opts.grad_accum + k,
            opts.batch_size * (opts.packing ? 4 : 1),
          );
          const rows = makeRows(ids.map((i) => sftTrain[i]), T, opts.packing);
          const sft = sliceRows(rows, 0, Math.min(rows.B, opts.batch_size));
          micro.push(mix ? _withPretraining(sft, mix.next()) : sft);
        }
        let count = 0;
        for (const b of micro) for (const t of b.targets) if (t >= 0) count++;
        for (const b of micro) {
          const pass = await m.forward(b, { grad: true });
          const w = Float32Array.from(b.targets, (t) => (t >= 0 ? 1 / count : 0));
          const res = await m.backward(pass, { targets: b.targets, weights: w }, grads);
          loss += res.loss;
          tokens += b.B * b.T;
        }
        metrics = { answer_tokens: count };
        return loss;
      }
      const nPairs = opts.batch_size * opts.grad_accum;
      if (kind === "reward") {
        const scores: { chosen: number; rejected: number }[] = [];
        for (let k = 0; k < opts.grad_accum; k++) {
          const ids = _take(nTrain, opts.seed, step * opts.grad_accum + k, opts.batch_size);
          const rows = valueRows(
            ids.flatMap((i) => [pairTrain[i].chosen, pairTrain[i].rejected]),
            T,
            padId,
          );
          const pass = await m.forward(rows, { grad: true });
          const v = await m.values(pass, rows.scoreAt);
          const dv = new Float32Array(rows.B);
          ids.forEach((pi, j) => {
            const pl = rewardLoss(v[2 * j], v[2 * j + 1], {
              margin: pairTrain[pi].margin,
              center: opts.center_rewards ?? 0,
            });
            loss += pl.loss / nPairs;
            dv[2 * j] = pl.dRc / nPairs;
            dv[2 * j + 1] = pl.dRr / nPairs;
            scores.push({ chosen: v[2 * j], rejected: v[2 * j + 1] });
          });
          await m.backward(pass, {
            targets: new Int32Array(rows.B * T).fill(-1),
            value: { positions: rows.scoreAt, grad: dv },
          }, grads);
          tokens += rows.B * T;
        }
        const rm = rewardMetrics(scores);
        const mean = (f: (x: { chosen: number; rejected: number }) => number) =>
          scores.reduce((a, x) => a + f(x), 0) / scores.length;
        metrics = {
          accuracy: rm.accuracy,
          margin: rm.margin,
          "rewards/chosen": mean((x) => x.chosen),
          "rewards/rejected": mean((x) => x.rejected),
        };
        return loss;
      }
      const losses: PairLoss[] = [];
      const alpha = opts.rpo_alpha ?? 0;
      let nll = 0;
      for (let k = 0; k < opts.grad_accum; k++) {
        const ids = _take(nTrain, opts.seed, step * opts.grad_accum + k, opts.batch_size);
        const rows = makeRows(
          ids.flatMap((i) => [pairTrain[i].chosen, pairTrain[i].rejected]),
          T,
          false,
        );
        const pass = await m.forward(rows, { grad: true });
        const s = _sums(rows, (await m.score(pass, rows.targets)).logprob);
        const w = new Float32Array(rows.B * T);
        ids.forEach((pi, j) => {
          const pl = preferenceLoss(lossName, {
            pc: s.sum[2 * j],
            pr: s.sum[2 * j + 1],
            lc: Math.max(1, s.count[2 * j]),
            lr: Math.max(1, s.count[2 * j + 1]),
            rc: ref?.c[pi],
            rr: ref?.r[pi],
          }, { beta: opts.beta, gamma: opts.gamma });
          losses.push(pl);
          const lc = Math.max(1, s.count[2 * j]);
          const chosenNll = -s.sum[2 * j] / lc;
          nll += chosenNll / nPairs;
          loss += (pl.loss + alpha * chosenNll) / nPairs;
          // ∂L/∂θ = dPc·∂πc/∂θ + dPr·∂πr/∂θ; the head's term is w·(−log p): w = −dP / pairs
          const dPc = pl.dPc - alpha / lc;
          for (const [row, d] of [[2 * j, dPc], [2 * j + 1, pl.dPr]] as const) {
            for (let t = 0; t < T; t++) {
              if (rows.targets[row * T + t] >= 0) w[row * T + t] = -d / nPairs;
            }
          }
        });
        await m.backward(pass, { targets: rows.targets, weights: w }, grads);
        tokens += rows.B * T;
      }
      metrics = { ...preferenceMetrics(losses), nll };
      delete metrics.loss;
      return loss;
    });
    step++;
    stepsRun++;
    tokensSeen += tokens;
    tokensRun += tokens;
    lastLoss = r.loss;
    const dt = (performance.now() - ts) / 1000;
    run.metric({
      step,
      loss: r.loss,
      lr,
      grad_norm: r.gradNorm,
      tokens_per_s: Math.round(tokens / dt),
      ...metrics,
    });
    progress.note = `loss ${r.loss.toFixed(3)}`;
    progress.set(step);
    if ((opts.eval_every ?? 0) > 0 && step % opts.eval_every! === 0 && step < opts.steps) {
      run.metric({ step, heldout: await evaluate() });
    }
    if (opts.ckpt_every > 0 && step % opts.ckpt_every === 0 && step < opts.steps) {
      await snapshotTo();
    }
    if (ctl.stopAfterStep !== undefined && step >= ctl.stopAfterStep) break;
  }
  progress.done();
  const secs = (performance.now() - t0) / 1000;
  const modelDir = run.path("model");
  let after: Record<string, number> = {};
  if (step >= opts.steps) {
    after = await evaluate();
    run.metric({ step, heldout: after });
    const { params } = await snapshotTo();
    const dtype = ({ f32: "F32", bf16: "BF16", f16: "F16" } as const)[opts.save_dtype as "f32"];
    if (!dtype) {
      throw new UserError(`save_dtype: expected f32, bf16 or f16, got ${opts.save_dtype}`);
    }
    await saveModel(modelDir, cfg, params, { dtype, tokenizerDir: opts.init_from });
  }
  const name = engine.name;
  engine.close();
  run.log(`${kind}: after: ${JSON.stringify(after)}`);
  return {
    kind,
    steps: step,
    final_loss: lastLoss,
    before,
    after,
    tokens_per_s: stepsRun ? Math.round(tokensRun / secs) : 0,
    model_dir: join(modelDir),
    engine: name,
    resumed_from_step: latest ? latest.state.step : null,
    examples: {
      train: nTrain,
      heldout: sftHeld.length + pairHeld.length,
      dropped_empty: dropped,
      identical_pairs: identical,
    },
  };
}
