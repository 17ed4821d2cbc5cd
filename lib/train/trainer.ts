/**
 * The training loop of `deno task train`: continual pretraining (or pretraining from scratch) of a
 * Llama model on mixed token shards, with Thunder-LLM's optimizer settings, periodic validation per
 * source, metrics to the run folder, checkpoints, and exact resume after `kill -9`.
 *
 * Engines (lib/train/engine.ts): the one Llama (lib/model/llama.ts) on the GPU (WebGPU) or the
 * CPU (the TypeScript references), with the same precision policy (lib/model/precision.ts) on
 * both: `--engine auto` changes the speed with the machine, not the recipe.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { Progress, progressMode } from "../cli/progress.ts";
import type { RunFolder } from "../run/run_folder.ts";
import { type LlamaConfig, parameterCount, readLlamaConfig } from "../model/config.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import { initParams, type Params } from "../model/params.ts";
import { precisionPolicy } from "../model/precision.ts";
import { parseRefOps } from "../model/backend.ts";
import { MixedLoader, type Source } from "./data.ts";
import { readShard } from "./shards.ts";
import { lrAt } from "./optim.ts";
import { createEngine, type Engine, type Fp8Stat } from "./engine.ts";
import { loadLatestCheckpoint, saveCheckpoint, type TrainerState } from "./checkpoint.ts";
import { type Stage, StagePlan } from "./stages.ts";
import { openDistiller } from "./distill.ts";

/** The resolved options of a training run (snake_case, as in the YAML config). */
export interface TrainOptions {
  model_config: string;
  init_from: string;
  tokenizer: string;
  data: string[];
  mix: string[];
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
  /** Delayed scaling's amax history length and scale margin (fp8). */
  amax_history: number;
  fp8_margin: number;
  /** Ops sent to the CPU reference in a GPU run (debugging), e.g. "attention,rmsnorm". */
  ref_ops: string;
  seed: number;
  eval_every: number;
  eval_batches: number;
  ckpt_every: number;
  /** Hub repo to push checkpoints to ("" = none) and the step multiple to push at. */
  push_to?: string;
  push_every?: number;
  val_fraction: number;
  save_dtype: string;
  engine: string;
  /** Staged pretraining (lib/train/stages.ts); when given, it sets the step count. */
  stages?: Stage[];
  /** Distillation (`train distill`, lib/train/distill.ts): the teacher model folder, or "". */
  teacher?: string;
  distill_temperature?: number;
  distill_top_k?: number;
  distill_ce_weight?: number;
  /** Folder of the teacher's cached top-k logits ("" = the run folder's, "off" = none). */
  teacher_cache?: string;
}

/** Options that must be equal between a run and its resume. */
const RESUME_KEYS: (keyof TrainOptions)[] = [
  "model_config",
  "init_from",
  "data",
  "mix",
  "steps",
  "batch_size",
  "seq_len",
  "grad_accum",
  "lr",
  "warmup_steps",
  "min_lr_ratio",
  "beta1",
  "beta2",
  "eps",
  "weight_decay",
  "clip",
  "precision",
  "fp8_attention",
  "amax_history",
  "fp8_margin",
  "seed",
  "val_fraction",
];

/** Options that must also be equal when set (absent from older runs' keys, which stay valid). */
const OPTIONAL_RESUME_KEYS: (keyof TrainOptions)[] = [
  "stages",
  "teacher",
  "distill_temperature",
  "distill_top_k",
  "distill_ce_weight",
];

/** The fingerprint of the options a resume must keep. */
function _optionsKey(opts: TrainOptions): string {
  const set = (v: unknown) => v !== undefined && v !== "" && !(Array.isArray(v) && !v.length);
  return JSON.stringify([
    ...RESUME_KEYS.map((k) => opts[k]),
    ...OPTIONAL_RESUME_KEYS.filter((k) => set(opts[k])).map((k) => [k, opts[k]]),
  ]);
}

/** Parses `NAME=FILE[,FILE…]` data entries and `NAME=WEIGHT` mix entries into sources. */
export async function loadSources(data: string[], mix: string[]): Promise<Source[]> {
  const weights = new Map<string, number>();
  for (const m of mix.flatMap((x) => x.split(","))) {
    if (!m) continue;
    const [name, w] = m.split("=");
    const v = Number(w);
    if (!name || !(v >= 0)) throw new UserError(`--mix ${m}: expected NAME=WEIGHT, e.g. ko=1`);
    weights.set(name, v);
  }
  const sources: Source[] = [];
  for (const d of data) {
    const eq = d.indexOf("=");
    if (eq <= 0) {
      throw new UserError(`--data ${d}: expected NAME=FILE.tok[,FILE.tok…], e.g. ko=data/ko.tok`);
    }
    const name = d.slice(0, eq);
    const shards = await Promise.all(d.slice(eq + 1).split(",").map((p) => readShard(p)));
    sources.push({ name, shards, weight: weights.get(name) ?? 1 });
  }
  for (const n of weights.keys()) {
    if (!sources.some((s) => s.name === n)) {
      throw new UserError(`--mix names "${n}", which no --data gives`);
    }
  }
  return sources;
}

/** A short summary of a run's FP8 statistics: every quantized tensor's amax and scale. */
function _fp8Record(stats: Map<string, Fp8Stat>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [k, s] of stats) {
    out[k] = [Number(s.amax.toPrecision(5)), Number(s.scale.toPrecision(5))];
  }
  return out;
}

/** Validation loss and perplexity per source. */
export async function evaluate(
  engine: Engine,
  loader: MixedLoader,
  batches: number,
): Promise<Record<string, { loss: number; ppl: number; tokens: number }>> {
  const out: Record<string, { loss: number; ppl: number; tokens: number }> = {};
  for (const s of loader.streams) {
    let sum = 0, n = 0;
    for (const b of loader.valBatches(s.name, batches)) {
      const r = await engine.evalBatch(b);
      sum += r.sum;
      n += r.count;
    }
    if (n) out[s.name] = { loss: sum / n, ppl: Math.exp(sum / n), tokens: n };
  }
  return out;
}

/** What {@linkcode train} returns. */
export interface TrainSummary {
  steps: number;
  final_loss: number;
  val: Record<string, { loss: number; ppl: number; tokens: number }>;
  tokens_per_s: number;
  model_dir: string;
  parameters: number;
  engine: string;
  resumed_from_step: number | null;
}

/**
 * Trains per `opts`, writing metrics, checkpoints (`checkpoints/`) and the final model (`model/`)
 * into `run`. With `resume`, continues from the run folder's latest checkpoint.
 */
export async function train(
  opts: TrainOptions,
  run: RunFolder,
  ctl: {
    quiet?: boolean;
    resume?: boolean;
    stopAfterStep?: number;
    /** Called after each periodic checkpoint (e.g. to push it to the Hub); must not throw. */
    onCheckpoint?: (dir: string, step: number) => void | Promise<void>;
  } = {},
): Promise<TrainSummary> {
  const precision = precisionPolicy(opts.precision, {
    fp8Attention: opts.fp8_attention,
    amaxHistory: opts.amax_history,
    margin: opts.fp8_margin,
  });
  const refOps = parseRefOps(opts.ref_ops);
  const optionsKey = _optionsKey(opts);
  const sources = await loadSources(opts.data, opts.mix);
  const loader = new MixedLoader(
    sources,
    opts.batch_size,
    opts.seq_len,
    opts.seed,
    opts.val_fraction,
  );
  const ckptDir = run.path("checkpoints");

  let cfg: LlamaConfig, params: Params;
  let step = 0, tokensSeen = 0, resumedFrom: number | null = null;
  const latest = ctl.resume ? await loadLatestCheckpoint(ckptDir) : undefined;
  if (latest) {
    if (latest.state.options_key !== optionsKey) {
      throw new UserError(
        `${latest.path}: the run's options changed since this checkpoint; resume with the same config`,
      );
    }
    ({ cfg, params } = latest);
    step = latest.state.step;
    tokensSeen = latest.state.tokens_seen;
    resumedFrom = step;
    loader.restore(latest.state.loader);
    await run.dropMetricsAfter(step);
  } else if (opts.init_from) {
    ({ cfg, params } = await loadModel(opts.init_from));
  } else if (opts.model_config) {
    cfg = await readLlamaConfig(opts.model_config);
    params = initParams(cfg, opts.seed);
  } else {
    throw new UserError(
      "give --init-from MODEL_DIR (continual pretraining) or --model-config config.json (from scratch)",
    );
  }
  for (const s of sources) {
    for (const sh of s.shards) {
      if (sh.vocabSize > cfg.vocab_size) {
        throw new UserError(
          `${sh.path}: tokenized with a ${sh.vocabSize}-token vocabulary but the model has ${cfg.vocab_size}; extend the model first (deno task train extend)`,
        );
      }
    }
  }
  if (opts.seq_len > cfg.max_position_embeddings) {
    throw new UserError(
      `seq_len ${opts.seq_len} exceeds the model's max_position_embeddings ${cfg.max_position_embeddings}`,
    );
  }
  const engine = await createEngine(opts.engine, {
    cfg,
    params,
    adam: { beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps, weightDecay: opts.weight_decay },
    moments: latest
      ? { m: latest.m, v: latest.v, t: latest.state.adam_t, extra: latest.extra }
      : undefined,
    B: opts.batch_size,
    T: opts.seq_len,
    precision,
    clip: opts.clip,
    refOps,
  });
  const tokDir = opts.tokenizer
    ? (opts.tokenizer.endsWith(".json") ? join(opts.tokenizer, "..") : opts.tokenizer)
    : opts.init_from || undefined;
  const nParams = parameterCount(cfg);
  run.log(
    `${
      latest ? `resuming at step ${step}` : "training"
    }: ${nParams} parameters, ${precision.mode}, engine ${engine.name}, ` +
      `sources ${sources.map((s) => `${s.name}×${s.weight}`).join(" ")}`,
  );
  const checkpoint = async () => {
    const snap = await engine.snapshot();
    const st: TrainerState = {
      step,
      adam_t: snap.t,
      loader: loader.state(),
      tokens_seen: tokensSeen,
      options_key: optionsKey,
    };
    const dir = await saveCheckpoint(ckptDir, cfg, snap.params, snap, st, tokDir);
    return { params: snap.params, dir };
  };
  const tokensPerStep = opts.batch_size * opts.seq_len * opts.grad_accum;
  const plan = opts.stages?.length
    ? new StagePlan(
      opts.stages,
      tokensPerStep,
      opts.lr,
      opts.warmup_steps,
      sources.map((s) => s.name),
    )
    : undefined;
  const totalSteps = plan?.totalSteps ?? opts.steps;
  const distiller = opts.teacher
    ? await openDistiller(opts, cfg, precision, run.path("teacher-cache"))
    : undefined;
  const progress = new Progress({
    label: "train",
    total: totalSteps,
    unit: "steps",
    mode: progressMode(ctl.quiet ?? false),
  });
  progress.set(step);
  const t0 = performance.now();
  let stepsRun = 0, lastLoss = NaN;
  let val: TrainSummary["val"] = {};
  while (step < totalSteps) {
    const ts = performance.now();
    const bySource: Record<string, number> = {};
    const stage = plan?.stageAt(step);
    if (stage?.mix) loader.setWeights(stage.mix);
    const micro: ReturnType<MixedLoader["next"]>[] = [];
    for (let k = 0; k < opts.grad_accum; k++) {
      const b = loader.next();
      for (const s of b.sources) bySource[s] = (bySource[s] ?? 0) + 1;
      micro.push(b);
    }
    const lr = plan
      ? plan.lrAt(step)
      : lrAt(step, opts.lr, opts.warmup_steps, opts.steps, opts.min_lr_ratio);
    const r = distiller
      ? await engine.stepWith(lr, (model, grads) => distiller.accumulate(model, grads, micro))
      : await engine.step(micro, lr);
    const loss = r.loss, norm = r.gradNorm, stats = r.fp8;
    step++;
    stepsRun++;
    tokensSeen += tokensPerStep;
    lastLoss = loss;
    const dt = (performance.now() - ts) / 1000;
    run.metric({
      step,
      loss,
      lr,
      grad_norm: norm,
      tokens: tokensSeen,
      tokens_per_s: Math.round(tokensPerStep / dt),
      rows_by_source: bySource,
      ...(stage ? { stage: stage.name } : {}),
      ...(stats ? { fp8: _fp8Record(stats) } : {}),
    });
    progress.note = `loss ${loss.toFixed(3)} lr ${lr.toExponential(2)}`;
    progress.set(step);
    if ((opts.eval_every > 0 && step % opts.eval_every === 0) || step === totalSteps) {
      val = await evaluate(engine, loader, opts.eval_batches);
      run.metric({ step, val });
      run.log(
        `step ${step}: loss ${loss.toFixed(4)}; val ` +
          Object.entries(val).map(([k, v]) => `${k} ${v.loss.toFixed(4)} (ppl ${v.ppl.toFixed(2)})`)
            .join(", "),
      );
    }
    if (opts.ckpt_every > 0 && step % opts.ckpt_every === 0 && step < totalSteps) {
      const saved = await checkpoint();
      await ctl.onCheckpoint?.(saved.dir, step);
    }
    if (ctl.stopAfterStep !== undefined && step >= ctl.stopAfterStep) break;
  }
  progress.done();
  const secs = (performance.now() - t0) / 1000;
  const modelDir = run.path("model");
  if (step >= totalSteps) {
    params = (await checkpoint()).params;
    const dtype = ({ f32: "F32", bf16: "BF16", f16: "F16" } as const)[opts.save_dtype as "f32"];
    if (!dtype) {
      throw new UserError(`save_dtype: expected f32, bf16 or f16, got ${opts.save_dtype}`);
    }
    await saveModel(modelDir, cfg, params, { dtype, tokenizerDir: tokDir });
  }
  engine.close();
  if (distiller) {
    run.log(`teacher: ${distiller.describe()}`);
    distiller.close();
  }
  return {
    steps: step,
    final_loss: lastLoss,
    val,
    tokens_per_s: stepsRun ? Math.round((stepsRun * tokensPerStep) / secs) : 0,
    model_dir: modelDir,
    parameters: nParams,
    engine: engine.name,
    resumed_from_step: resumedFrom,
  };
}
