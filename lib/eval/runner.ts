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
  accNorm,
  bootstrapStderr,
  exactMatch,
  mean,
  meanStderr,
  perplexity,
} from "./metrics.ts";
import type { EvalModel, LoglikelihoodResult } from "./model.ts";
import type { TaskConfig } from "./task_file.ts";

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
  /** Raw generation and its filtered forms. */
  response?: string;
  filtered?: Record<string, string>;
  prompt?: string;
  metrics: Record<string, number>;
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
  // Requests, de-duplicated by cache key.
  const keys: string[][] = [];
  const todo = new Map<string, LLKey | { p: string }>();
  let total = 0;
  for (const inst of instances) {
    const ks: string[] = [];
    if (isGen) {
      const args = {
        p: inst.contexts[0],
        u: task.generation_kwargs.until,
        m: task.generation_kwargs.max_gen_toks,
      };
      const k = model === "oracle"
        ? RequestCache.key(modelName, "gen", { ...args, gold: inst.goldOutput })
        : RequestCache.key(modelName, "gen", args);
      ks.push(k);
      if (!opts.cache.has(k)) todo.set(k, { p: inst.contexts[0] });
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
        results = await model.generate(batch.map(([, r]) => ({
          prompt: (r as { p: string }).p,
          until: task.generation_kwargs.until,
          maxTokens: task.generation_kwargs.max_gen_toks,
        })));
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

/** Scores one row from its request results. */
export function scoreInstance(task: TaskConfig, inst: Instance, results: unknown[]): SampleRecord {
  if (task.output_type === "multiple_choice") {
    const r = results as LoglikelihoodResult[];
    const lls = r.map((x) => x.logprob);
    const gold = inst.gold as number;
    const m: Record<string, number> = {};
    for (const spec of task.metric_list) {
      if (spec.metric === "acc") m.acc = acc(lls, gold);
      if (spec.metric === "acc_norm") m.acc_norm = accNorm(lls, inst.choices, gold);
    }
    return { row: inst.row, target: gold, lls, metrics: m };
  }
  if (task.output_type === "loglikelihood") {
    const [r] = results as LoglikelihoodResult[];
    return {
      row: inst.row,
      target: inst.gold,
      lls: [r.logprob],
      is_greedy: [r.isGreedy],
      metrics: { acc: r.isGreedy ? 1 : 0, perplexity: r.logprob },
    };
  }
  const response = results[0] as string;
  const m: Record<string, number> = {};
  const filtered: Record<string, string> = {};
  const pipelines = task.filter_list.length ? task.filter_list : [{ name: "none", filter: [] }];
  for (const spec of task.metric_list) {
    if (spec.metric === "exact_match") {
      for (const f of pipelines) {
        const out = applyFilter(f.filter, response);
        filtered[f.name] = out;
        m[`exact_match,${f.name}`] = exactMatch(out, String(inst.gold), spec);
      }
    }
  }
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
    target: inst.gold,
    prompt: inst.contexts[0],
    response,
    filtered,
    metrics: m,
  };
}

/** Aggregates sample metrics into task metrics with standard errors. */
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
    const xs = col(k);
    if (base === "perplexity") {
      out[k] = { value: perplexity(xs), stderr: bootstrapStderr(xs, perplexity, iters) };
    } else out[k] = { value: mean(xs), stderr: meanStderr(xs) };
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
