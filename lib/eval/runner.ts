/**
 * Runs tasks against a model: builds instances, resolves their requests through the cache
 * (de-duplicated, batched, with progress), scores each row and aggregates metrics with standard
 * errors. A task that cannot run is reported as skipped; the others go on.
 *
 * @module
 */

import { Progress, type ProgressMode } from "../cli/progress.ts";
import { UserError } from "../io/errors.ts";
import { RequestCache } from "./cache.ts";
import { type DataOptions, loadTaskData, type SkippedRow } from "./data.ts";
import { applyFilter } from "./filters.ts";
import { checkInstructions, type Kwargs } from "./ifeval/verifiers.ts";
import { buildInstances, type Instance } from "./instances.ts";
import {
  acc,
  accBytes,
  accNorm,
  bitsPerByte,
  bleuScore,
  bleuStats,
  bootstrapStderr,
  charF1,
  chrfScore,
  chrfStats,
  countBytes,
  countWords,
  exactMatch,
  maxOverGolds,
  mean,
  meanStderr,
  perplexity,
  squadExact,
  squadF1,
  weightedPerplexity,
} from "./metrics.ts";
import { METRICS } from "./metric_registry.ts";
import type { EvalModel, LoglikelihoodResult } from "./model.ts";
import type { MetricSpec, TaskConfig } from "./task_file.ts";

/** A metric's aggregate. */
export interface MetricValue {
  value: number;
  stderr: number;
}

/** One scored row. */
export interface SampleRecord {
  row: number;
  target: string | number;
  /** Log-likelihoods of the choices / continuation. */
  lls?: number[];
  is_greedy?: boolean[];
  /** Raw generation (the first with `repeats`), all of them, and the filtered answers. */
  response?: string;
  responses?: string[];
  filtered?: Record<string, string>;
  prompt?: string;
  metrics: Record<string, number>;
  /** Weights of weighted aggregations (words or bytes of a rolling-perplexity text). */
  weights?: Record<string, number>;
  /** Corpus statistics that add up over rows (chrF's n-gram counts). */
  stats?: Record<string, number[]>;
}

/** The outcome of one task. */
export interface TaskResult {
  task: string;
  file: string;
  output_type: string;
  num_fewshot: number;
  n: number;
  metrics: Record<string, MetricValue>;
  skipped_rows: SkippedRow[];
  seconds: number;
  requests: { total: number; unique: number; cached: number };
  samples: SampleRecord[];
}

/** How to run tasks. */
export interface RunOptions {
  /** The model, or "oracle": generation tasks answered with their gold outputs. */
  model: EvalModel | "oracle";
  data: DataOptions;
  cache: RequestCache;
  limit?: number;
  progress?: ProgressMode;
  /** Bootstrap iterations for non-mean metrics (default 1000). */
  bootstrapIters?: number;
}

type LLKey = { c: string; x: string };

/** Evaluates one task. Throws UserError when the task as a whole cannot run. */
export async function runTask(task: TaskConfig, opts: RunOptions): Promise<TaskResult> {
  const t0 = performance.now();
  const data = await loadTaskData(task, opts.data);
  const { instances, skipped } = buildInstances(task, data, opts.limit);
  if (instances.length === 0) {
    const own = skipped.find((s) => s.reason.startsWith(task.file)) ?? skipped[0];
    throw new UserError(
      own
        ? `no row could be evaluated (${skipped.length} skipped; row ${own.row}: ${own.reason})`
        : `${task.file}: no row could be evaluated (empty dataset ${data.eval.file})`,
    );
  }
  const model = opts.model;
  const modelName = model === "oracle" ? "oracle" : model.name;
  const isGen = task.output_type === "generate_until";
  if (model === "oracle" && !isGen) {
    throw new UserError(`${task.file}: the oracle answers generation tasks only`);
  }
  if (model === "oracle" && instances.every((i) => !i.goldOutput)) {
    throw new UserError(`${task.file}: no gold answers to feed back (instruction-following task)`);
  }
  const g = task.generation_kwargs;
  const sampling = g.do_sample && g.temperature > 0;
  // Greedy repeats would all be the same answer: one request serves them.
  const repeats = sampling ? task.repeats : 1;
  // Requests, de-duplicated by cache key.
  const keys: string[][] = [];
  const todo = new Map<string, LLKey | GenKey>();
  let total = 0;
  for (const inst of instances) {
    const ks: string[] = [];
    if (isGen) {
      for (let r = 0; r < repeats; r++) {
        const args: GenKey = { p: inst.contexts[0], u: g.until, m: g.max_gen_toks };
        if (sampling) Object.assign(args, { t: g.temperature, tp: g.top_p ?? 1, s: r });
        const k = model === "oracle"
          ? RequestCache.key(modelName, "gen", { ...args, gold: inst.goldOutput })
          : RequestCache.key(modelName, "gen", args);
        ks.push(k);
        if (!opts.cache.has(k)) todo.set(k, args);
      }
    } else {
      inst.contexts.forEach((c, i) => {
        const k = RequestCache.key(modelName, "ll", { c, x: inst.continuations[i] });
        ks.push(k);
        if (!opts.cache.has(k)) todo.set(k, { c, x: inst.continuations[i] });
      });
    }
    total += ks.length;
    keys.push(ks);
  }
  const unique = new Set(keys.flat()).size;
  const cached = unique - todo.size;
  const progress = new Progress({
    label: task.task,
    total: todo.size,
    unit: "requests",
    mode: opts.progress ?? "quiet",
  });
  const pending = [...todo.entries()];
  if (model === "oracle") {
    const gold = new Map(instances.map((inst, i) => [keys[i][0], inst.goldOutput ?? ""]));
    opts.cache.putMany(pending.map(([k]) => [k, gold.get(k)!]));
  } else {
    const bs = Math.max(1, model.batchSize);
    // Longest first, as lm-eval does, so a run that runs out of memory fails early.
    pending.sort((a, b) => JSON.stringify(b[1]).length - JSON.stringify(a[1]).length);
    for (let i = 0; i < pending.length; i += bs) {
      const batch = pending.slice(i, i + bs);
      let results: unknown[];
      if (isGen) {
        results = await model.generate(batch.map(([, r]) => {
          const q = r as GenKey;
          return {
            prompt: q.p,
            until: q.u,
            maxTokens: q.m,
            ...(q.t ? { temperature: q.t, topP: q.tp, seed: task.fewshot_seed + (q.s ?? 0) } : {}),
          };
        }));
      } else {
        results = await model.loglikelihood(
          batch.map(([, r]) => ({
            context: (r as LLKey).c,
            continuation: (r as LLKey).x,
          })),
        );
      }
      opts.cache.putMany(batch.map(([k], j) => [k, results[j]]));
      progress.tick(batch.length);
    }
  }
  progress.done();
  const samples: SampleRecord[] = [];
  for (const [i, inst] of instances.entries()) {
    try {
      samples.push(scoreInstance(task, inst, keys[i].map((k) => opts.cache.get(k))));
    } catch (err) {
      skipped.push({ file: data.eval.file, row: inst.row, reason: (err as Error).message });
    }
  }
  if (samples.length === 0) {
    throw new UserError(
      `${task.file}: no row could be scored (${skipped.length} skipped; row ${
        skipped.at(-1)?.row
      }: ${skipped.at(-1)?.reason})`,
    );
  }
  return {
    task: task.task,
    file: task.file,
    output_type: task.output_type,
    num_fewshot: task.num_fewshot,
    n: samples.length,
    metrics: aggregate(task, samples, opts.bootstrapIters ?? 1000),
    skipped_rows: skipped,
    seconds: (performance.now() - t0) / 1000,
    requests: { total, unique, cached },
    samples,
  };
}

/** Metrics scored on the corpus from per-row statistics that add up. */
const CORPUS_METRICS: Record<
  string,
  { stats: (pred: string, golds: string[]) => number[]; score: (stats: number[]) => number }
> = {
  chrf: { stats: chrfStats, score: chrfScore },
  bleu: { stats: bleuStats, score: bleuScore },
};

type GenKey = { p: string; u: string[]; m: number; t?: number; tp?: number; s?: number };

/** Scores one row from its request results. */
export function scoreInstance(task: TaskConfig, inst: Instance, results: unknown[]): SampleRecord {
  const wanted = new Set(task.metric_list.map((m) => m.metric));
  if (task.output_type === "multiple_choice") {
    const r = results as LoglikelihoodResult[];
    const lls = r.map((x) => x.logprob);
    const m: Record<string, number> = {};
    // Several gold answers: right when the pick is any of them (lm-eval's multiple targets).
    const best = (f: (gold: number) => number) =>
      Math.max(...inst.golds.map((x) => f(x as number)));
    if (wanted.has("acc")) m.acc = best((gold) => acc(lls, gold));
    if (wanted.has("acc_norm")) m.acc_norm = best((gold) => accNorm(lls, inst.choices, gold));
    if (wanted.has("acc_bytes")) m.acc_bytes = best((gold) => accBytes(lls, inst.choices, gold));
    const target = inst.golds.length > 1 ? JSON.stringify(inst.golds) : inst.gold;
    return { row: inst.row, target, lls, metrics: m };
  }
  if (task.output_type === "loglikelihood") {
    const [r] = results as LoglikelihoodResult[];
    const m: Record<string, number> = {};
    if (wanted.has("acc")) m.acc = r.isGreedy ? 1 : 0;
    if (wanted.has("perplexity")) m.perplexity = r.logprob;
    return {
      row: inst.row,
      target: inst.gold,
      lls: [r.logprob],
      is_greedy: [r.isGreedy],
      metrics: m,
    };
  }
  if (task.output_type === "loglikelihood_rolling") {
    const [r] = results as LoglikelihoodResult[];
    const text = inst.gold as string;
    const words = countWords(text);
    const bytes = countBytes(text);
    const m: Record<string, number> = {};
    const w: Record<string, number> = {};
    for (
      const [k, n] of [["word_perplexity", words], ["byte_perplexity", bytes], [
        "bits_per_byte",
        bytes,
      ]] as const
    ) {
      if (wanted.has(k)) {
        m[k] = r.logprob;
        w[k] = n;
      }
    }
    return {
      row: inst.row,
      target: `${words} words, ${bytes} bytes`,
      lls: [r.logprob],
      metrics: m,
      weights: w,
    };
  }
  const responses = results as string[];
  const m: Record<string, number> = {};
  const filtered: Record<string, string> = {};
  const pipelines = task.filter_list.length ? task.filter_list : [{ name: "none", filter: [] }];
  const golds = inst.golds.map(String);
  const scorers: Record<string, (pred: string, spec: MetricSpec) => number> = {
    exact_match: (pred, spec) => maxOverGolds((p, gold) => exactMatch(p, gold, spec), pred, golds),
    exact: (pred) => maxOverGolds(squadExact, pred, golds),
    f1: (pred) => maxOverGolds(squadF1, pred, golds),
    char_f1: (pred) => maxOverGolds(charF1, pred, golds),
  };
  const stats: Record<string, number[]> = {};
  for (const spec of task.metric_list) {
    const corpus = CORPUS_METRICS[spec.metric];
    if (corpus) {
      for (const f of pipelines) {
        const out = applyFilter(f.filter, responses);
        filtered[f.name] = out;
        const k = `${spec.metric},${f.name}`;
        stats[k] = corpus.stats(out, golds);
        m[k] = corpus.score(stats[k]); // the row's own (sentence) score, for reading
      }
    }
    const fn = scorers[spec.metric];
    if (!fn) continue;
    for (const f of pipelines) {
      const out = applyFilter(f.filter, responses);
      filtered[f.name] = out;
      m[`${spec.metric},${f.name}`] = fn(out, spec);
    }
  }
  const response = responses[0];
  if (task.metric_list.some((s) => s.metric.includes("level"))) {
    const ids = inst.doc.instruction_id_list;
    const kw = inst.doc.kwargs;
    if (!Array.isArray(ids) || !Array.isArray(kw)) {
      throw new Error(`${task.file}: row lacks instruction_id_list / kwargs lists`);
    }
    const res = checkInstructions(response, ids as string[], kw as Kwargs[], inst.bare);
    m.prompt_level_strict_acc = res.strict.every(Boolean) ? 1 : 0;
    m.prompt_level_loose_acc = res.loose.every(Boolean) ? 1 : 0;
    // Instruction-level accuracy is a mean over instructions: keep the per-row counts.
    m.inst_strict_pass = res.strict.filter(Boolean).length;
    m.inst_loose_pass = res.loose.filter(Boolean).length;
    m.inst_count = ids.length;
  }
  return {
    row: inst.row,
    target: golds.length > 1 ? JSON.stringify(golds) : inst.gold,
    prompt: inst.contexts[0],
    response,
    ...(responses.length > 1 ? { responses } : {}),
    filtered,
    metrics: m,
    ...(Object.keys(stats).length ? { stats } : {}),
  };
}

/**
 * Aggregates sample metrics into task metrics with standard errors, by each metric's registered
 * aggregation: means with the sample standard error, perplexity with a seeded bootstrap, and the
 * weighted ones (word/byte perplexity, bits per byte) without a standard error, as lm-eval.
 */
export function aggregate(
  task: TaskConfig,
  samples: SampleRecord[],
  iters: number,
): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  const wanted = new Set(task.metric_list.map((m) => m.metric));
  const col = (k: string) => samples.map((s) => s.metrics[k]).filter((v) => v !== undefined);
  if (samples.length === 0) return out;
  const keys = new Set(samples.flatMap((s) => Object.keys(s.metrics)));
  for (const k of keys) {
    const base = k.split(",")[0];
    if (!wanted.has(base)) continue;
    const agg = METRICS[base].aggregation;
    const xs = col(k);
    if (agg === "perplexity") {
      out[k] = { value: perplexity(xs), stderr: bootstrapStderr(xs, perplexity, iters) };
    } else if (agg === "weighted_perplexity" || agg === "bits_per_byte") {
      const pairs = samples.map((s) => [s.metrics[k], s.weights![k]] as [number, number]);
      const value = agg === "bits_per_byte" ? bitsPerByte(pairs) : weightedPerplexity(pairs);
      out[k] = { value, stderr: NaN };
    } else if (agg === "chrf" || agg === "bleu") {
      // The corpus score of summed statistics; its stderr by bootstrap over rows, as lm-eval.
      const rows = samples.map((s) => s.stats![k]);
      const score = CORPUS_METRICS[agg].score;
      const corpus = (idx: number[]) =>
        score(idx.reduce((a, i) => a.map((x, j) => x + rows[i][j]), rows[0].map(() => 0)));
      const idx = rows.map((_, i) => i);
      out[k] = { value: corpus(idx), stderr: bootstrapStderr(idx, corpus, iters) };
    } else if (agg === "mean") out[k] = { value: mean(xs), stderr: meanStderr(xs) };
  }
  for (const kind of ["strict", "loose"] as const) {
    if (!wanted.has(`inst_level_${kind}_acc`)) continue;
    // One 0/1 value per instruction, as IFEval flattens them.
    const flat: number[] = [];
    for (const s of samples) {
      const pass = s.metrics[`inst_${kind}_pass`];
      const n = s.metrics.inst_count;
      for (let i = 0; i < n; i++) flat.push(i < pass ? 1 : 0);
    }
    out[`inst_level_${kind}_acc`] = { value: mean(flat), stderr: meanStderr(flat) };
  }
  return out;
}
