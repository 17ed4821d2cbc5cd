/**
 * The filter runner: runs a pipeline of steps over JSONL shards, in the manner of datatrove's
 * executors. Input files are split among `N` shards (by file when there are at least N files,
 * else by document); `runShard(i)` streams shard i through the per-document steps and, when the
 * pipeline ends in dedup steps, stages the survivors and writes their dedup keys as sorted runs;
 * `mergeShards()` clusters across shards and writes the final output. Each shard's completion is a
 * marker file holding its stats, so a rerun skips finished shards and an interrupted run resumes;
 * stats merge by addition.
 *
 * Output folder:
 * - `kept/part-SSSSS.jsonl.gz` — kept documents of shard S
 * - `removed/<step>/part-SSSSS.jsonl.gz` — removed documents, `meta.removed = {step, reason}`
 * - `rejects/part-SSSSS.jsonl` — malformed input lines `{file, line, reason, raw}`
 * - `stats.json` — documents and characters in/out per step, removed by reason, PII counts
 * - `work/` — staged documents, sorted runs, completion markers (`work/done/`)
 *
 * @module
 */

import { type Doc, JsonlWriter, listDocFiles, readDocs } from "../io/jsonl.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import { buildStep } from "../pipeline/registry.ts";
import {
  chainSteps,
  emptyStats,
  mergeStats,
  type PipelineStep,
  type RemovalDetail,
  type StepStats,
} from "../pipeline/step.ts";
import {
  clusterRuns,
  DEDUP_REASONS,
  type DedupOptions,
  DedupSigner,
  DedupStep,
  duplicateIds,
  EXACT_DUPLICATE,
  KEEP,
} from "./dedup.ts";
import { registerFilterSteps } from "./steps.ts";
import { rankInput } from "../executor/split.ts";

/** A pipeline as written in YAML: a list of `{step_name: {params}}`. */
export type PipelineSpec = Record<string, Record<string, unknown> | null>[];

/** Checks the shape of a pipeline spec; returns what was expected when wrong. */
export function checkPipelineSpec(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return "a non-empty list of steps";
  for (const [i, s] of v.entries()) {
    if (s === null || typeof s !== "object" || Array.isArray(s) || Object.keys(s).length !== 1) {
      return `steps[${i}] to be a mapping with one key, the step name (e.g. "- rules: {min_words: 10}")`;
    }
    const params = Object.values(s)[0];
    if (params !== null && (typeof params !== "object" || Array.isArray(params))) {
      return `steps[${i}] parameters to be a mapping`;
    }
  }
  return undefined;
}

/** The built pipeline: per-document steps, then the combined dedup settings. */
export interface BuiltPipeline {
  steps: PipelineStep[];
  dedup: DedupOptions | null;
  dedupNames: string[];
}

/** Builds the steps of `spec` (errors name `where` and the step index). */
export async function buildPipeline(spec: PipelineSpec, where: string): Promise<BuiltPipeline> {
  registerFilterSteps();
  const steps: PipelineStep[] = [];
  const dedups: DedupStep[] = [];
  for (const [i, entry] of spec.entries()) {
    const [name, params] = Object.entries(entry)[0];
    const step = await buildStep(name, params, `${where}: steps[${i}]`);
    if (step instanceof DedupStep) dedups.push(step);
    else if (dedups.length > 0) {
      throw new UserError(
        `${where}: steps[${i}] "${name}" comes after a dedup step; dedup steps go last`,
      );
    } else steps.push(step);
  }
  if (dedups.length === 0) return { steps, dedup: null, dedupNames: [] };
  const exact = dedups.some((d) => d.options.exact);
  const mh = dedups.find((d) => d.options.minhash);
  return {
    steps,
    dedup: {
      exact,
      minhash: mh?.options.minhash ?? null,
      device: mh?.options.device ?? "cpu",
      batch_docs: mh?.options.batch_docs,
      run_records: mh?.options.run_records,
      verify: mh?.options.verify,
      threads: mh?.options.threads,
    },
    dedupNames: dedups.map((d) => d.name),
  };
}

/** What a runner needs. */
export interface RunnerOptions {
  /** A JSONL file or a folder of them. */
  input: string;
  output: string;
  pipeline: PipelineSpec;
  /** Where the pipeline came from, for error messages. */
  where?: string;
  /** Progress and log lines. */
  log?: (msg: string) => void;
  /** Documents counted between progress lines. */
  progressEvery?: number;
  /** Called with (shard, documents read in it so far) every 256 documents and at its end. */
  onProgress?: (shard: number, docs: number) => void;
}

/** A shard's completion marker. */
interface ShardMarker {
  shard: number;
  shards: number;
  docs_read: number;
  rejects: number;
  staged: number;
  steps: { name: string; stats: StepStats }[];
  seconds: number;
}

export { parseShard } from "../executor/split.ts";

const _part = (i: number) => `part-${String(i).padStart(5, "0")}`;

/**
 * Runs pipelines over sharded input into one output folder.
 *
 * @example
 * ```ts
 * import { FilterRunner } from "./runner.ts";
 * import { writeDocs } from "../io/jsonl.ts";
 * const dir = await Deno.makeTempDir();
 * await writeDocs(`${dir}/in.jsonl`, [{ id: "1", text: "짧은 글.", meta: {} }]);
 * const runner = new FilterRunner({
 *   input: `${dir}/in.jsonl`,
 *   output: `${dir}/out`,
 *   pipeline: [{ normalize: {} }, { rules: { min_words: 1 } }],
 * });
 * const report = await runner.runAll(); // or runShard(i, N) on N machines, then mergeShards(N)
 * console.log(report.docs_out);
 * ```
 */
export class FilterRunner {
  readonly options: RunnerOptions;
  readonly out: string;
  #log: (msg: string) => void;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.out = options.output.replace(/\/$/, "");
    this.#log = options.log ?? (() => {});
  }

  /** Path of the completion marker of shard `i` (stage 1). */
  markerPath(i: number): string {
    return `${this.out}/work/done/shard-${String(i).padStart(5, "0")}.json`;
  }

  /**
   * Records the run's input, shard count and pipeline in `work/pipeline.json`, or checks that the
   * folder's earlier run had the same (a UserError otherwise).
   */
  async prepare(shards: number): Promise<void> {
    await Deno.mkdir(`${this.out}/work/done`, { recursive: true });
    const path = `${this.out}/work/pipeline.json`;
    const want = { input: this.options.input, shards, pipeline: this.options.pipeline };
    let have: unknown;
    try {
      have = JSON.parse(await Deno.readTextFile(path));
    } catch {
      await writeJsonAtomic(path, want);
      return;
    }
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      throw new UserError(
        `${path}: this output folder holds a run with another input, shard count or pipeline; use a new --output folder (or delete it)`,
      );
    }
  }

  /**
   * Stage 1 of shard `index` of `count`. Skips a shard that finished before (returns false).
   */
  async runShard(index: number, count: number): Promise<boolean> {
    await this.prepare(count);
    if (await _exists(this.markerPath(index))) {
      this.#log(`shard ${index}/${count}: finished before, skipped`);
      return false;
    }
    const t0 = performance.now();
    const where = this.options.where ?? "pipeline";
    const built = await buildPipeline(this.options.pipeline, where);
    const out = this.out;
    for (const d of ["kept", "rejects", "work/stage", "work/sig"]) {
      await Deno.mkdir(`${out}/${d}`, { recursive: true });
    }
    const part = _part(index);
    const removed = new Map<string, JsonlWriter>();
    const openWriters: JsonlWriter[] = [];
    const rejects = await JsonlWriter.open(`${out}/rejects/${part}.jsonl`);
    openWriters.push(rejects);
    const target = await JsonlWriter.open(
      built.dedup ? `${out}/work/stage/${part}.jsonl.gz` : `${out}/kept/${part}.jsonl.gz`,
    );
    openWriters.push(target);
    const signer = built.dedup
      ? await DedupSigner.open(
        `${out}/work/sig/shard-${String(index).padStart(5, "0")}`,
        index,
        built.dedup,
      )
      : undefined;
    if (signer) this.#log(`shard ${index}/${count}: MinHash signatures on ${signer.backend}`);
    const onRemoved = async (doc: Doc, step: string, reason: string, detail?: RemovalDetail) => {
      let w = removed.get(step);
      if (!w) {
        await Deno.mkdir(`${out}/removed/${step}`, { recursive: true });
        w = await JsonlWriter.open(`${out}/removed/${step}/${part}.jsonl.gz`);
        removed.set(step, w);
        openWriters.push(w);
      }
      await w.write({ ...doc, meta: { ...doc.meta, removed: { step, reason, ...detail } } });
    };
    const { files, take, ownsBadLines } = rankInput(
      await listDocFiles(this.options.input),
      index,
      count,
    );
    let read = 0;
    const every = this.options.progressEvery ?? 10000;
    const source = async function* (this: FilterRunner) {
      for (const file of files) {
        const docs = readDocs(file, {
          onBadLine: async (bad) => {
            if (!ownsBadLines) return;
            await rejects.write({
              file: bad.file,
              line: bad.line,
              reason: bad.reason,
              raw: bad.raw,
            });
            this.#log(`${bad.file}:${bad.line}: ${bad.reason} (written to rejects/${part}.jsonl)`);
          },
        });
        for await (const doc of docs) {
          if (!take()) continue;
          read++;
          if (read % 256 === 0) this.options.onProgress?.(index, read);
          if (read % every === 0) this.#log(`shard ${index}/${count}: ${read} documents read`);
          yield doc;
        }
      }
    }.call(this);
    let staged = 0;
    try {
      for await (
        const doc of chainSteps(built.steps, source, { rank: index, worldSize: count, onRemoved })
      ) {
        await target.write(doc);
        staged++;
        await signer?.add(doc);
      }
      await signer?.close();
      for (const w of openWriters) await w.close();
    } catch (err) {
      signer?.abort();
      for (const w of openWriters) await w.abort();
      throw err;
    }
    this.options.onProgress?.(index, read);
    const marker: ShardMarker = {
      shard: index,
      shards: count,
      docs_read: read,
      rejects: rejects.count,
      staged,
      steps: built.steps.map((s) => ({ name: s.name, stats: s.stats })),
      seconds: (performance.now() - t0) / 1000,
    };
    await writeJsonAtomic(this.markerPath(index), marker);
    this.#log(
      `shard ${index}/${count}: ${read} read, ${staged} passed the per-document steps, ${rejects.count} rejected lines`,
    );
    return true;
  }

  /**
   * Stage 2: needs every shard's marker; clusters duplicates across shards, writes the kept and
   * removed documents of each shard (resumable per shard) and `stats.json`. Returns the stats.
   */
  async mergeShards(count: number): Promise<FilterReport> {
    await this.prepare(count);
    const missing: number[] = [];
    const markers: ShardMarker[] = [];
    for (let i = 0; i < count; i++) {
      try {
        markers.push(JSON.parse(await Deno.readTextFile(this.markerPath(i))));
      } catch {
        missing.push(i);
      }
    }
    if (missing.length > 0) {
      throw new UserError(
        `${this.out}: shards ${
          missing.join(", ")
        } of ${count} have not finished; run them first (--shard ${missing[0]}/${count})`,
      );
    }
    const built = await buildPipeline(this.options.pipeline, this.options.where ?? "pipeline");
    const dedupStats = new Map(built.dedupNames.map((n) => [n, emptyStats()]));
    if (built.dedup) {
      const sigDirs = markers.map((m) =>
        `${this.out}/work/sig/shard-${String(m.shard).padStart(5, "0")}`
      );
      this.#log(
        `merge: clustering ${
          markers.reduce((a, m) => a + m.staged, 0)
        } documents of ${count} shards`,
      );
      const targets: Int32Array[] = [];
      const decisions = await clusterRuns(sigDirs, undefined, targets);
      const ids = await duplicateIds(sigDirs, targets);
      for (let i = 0; i < count; i++) {
        const done = `${this.out}/work/done/merge-${String(i).padStart(5, "0")}.json`;
        if (await _exists(done)) {
          const prev = JSON.parse(await Deno.readTextFile(done)) as Record<string, StepStats>;
          for (const [n, st] of Object.entries(prev)) mergeStats(dedupStats.get(n)!, st);
          continue;
        }
        const duplicateOf = (seq: number) => ids.get(targets[i][seq])!;
        const shardStats = await this.#finishShard(
          i,
          decisions[i],
          built.dedupNames,
          duplicateOf,
        );
        await writeJsonAtomic(done, Object.fromEntries(shardStats));
        for (const [n, st] of shardStats) mergeStats(dedupStats.get(n)!, st);
      }
    }
    const report = _report(markers, built, dedupStats);
    await writeJsonAtomic(`${this.out}/stats.json`, report);
    return report;
  }

  async #finishShard(
    i: number,
    decision: Uint8Array,
    names: string[],
    duplicateOf: (seq: number) => string,
  ): Promise<Map<string, StepStats>> {
    const part = _part(i);
    const kept = await JsonlWriter.open(`${this.out}/kept/${part}.jsonl.gz`);
    const writers = new Map<string, JsonlWriter>();
    // exact copies are reported by exact_dedup when it is in the pipeline, else by minhash_dedup
    const exactStep = names.includes("exact_dedup") ? "exact_dedup" : names[names.length - 1];
    const nearStep = names.includes("minhash_dedup") ? "minhash_dedup" : exactStep;
    const stats = new Map(names.map((n) => [n, emptyStats()]));
    let seq = 0;
    try {
      for await (const doc of readDocs(`${this.out}/work/stage/${part}.jsonl.gz`)) {
        const d = decision[seq++];
        const chars = doc.text.length;
        // the stream passes the dedup steps in pipeline order until one removes the document
        const removedBy = d === KEEP ? null : d === EXACT_DUPLICATE ? exactStep : nearStep;
        for (const n of names) {
          const st = stats.get(n)!;
          st.docs_in++;
          st.chars_in += chars;
          if (n === removedBy) {
            const reason = DEDUP_REASONS[d];
            st.removed[reason] = (st.removed[reason] ?? 0) + 1;
            break;
          }
          st.docs_out++;
          st.chars_out += chars;
        }
        if (removedBy === null) await kept.write(doc);
        else {
          let w = writers.get(removedBy);
          if (!w) {
            await Deno.mkdir(`${this.out}/removed/${removedBy}`, { recursive: true });
            w = await JsonlWriter.open(`${this.out}/removed/${removedBy}/${part}.jsonl.gz`);
            writers.set(removedBy, w);
          }
          const removed = {
            step: removedBy,
            reason: DEDUP_REASONS[d],
            duplicate_of: duplicateOf(seq - 1),
          };
          await w.write({ ...doc, meta: { ...doc.meta, removed } });
        }
      }
      if (seq !== decision.length) {
        throw new UserError(
          `${this.out}/work/stage/${part}.jsonl.gz: holds ${seq} documents, the dedup index ${decision.length}; rerun shard ${i}`,
        );
      }
      await kept.close();
      for (const w of writers.values()) await w.close();
    } catch (err) {
      await kept.abort();
      for (const w of writers.values()) await w.abort();
      throw err;
    }
    return stats;
  }

  /**
   * The default shard count: one per input file (at most `maxShards`), so a killed run resumes
   * after the last finished file.
   */
  async defaultShards(maxShards = 256): Promise<number> {
    const files = await listDocFiles(this.options.input);
    return Math.max(1, Math.min(files.length, maxShards));
  }

  /** Runs every shard in this process and merges (`shards` default: {@linkcode defaultShards}). */
  async runAll(shards?: number): Promise<FilterReport> {
    const n = shards ?? await this.defaultShards();
    for (let i = 0; i < n; i++) await this.runShard(i, n);
    return await this.mergeShards(n);
  }
}

/** The stats report of a run. */
export interface FilterReport {
  shards: number;
  docs_in: number;
  docs_out: number;
  chars_in: number;
  chars_out: number;
  rejects: number;
  removed_by_reason: Record<string, number>;
  pii: Record<string, number>;
  counters: Record<string, number>;
  steps: ({ name: string } & StepStats)[];
  seconds: number;
}

function _report(
  markers: ShardMarker[],
  built: BuiltPipeline,
  dedupStats: Map<string, StepStats>,
): FilterReport {
  const perStep = built.steps.map((s) => ({ name: s.name, stats: emptyStats() }));
  for (const m of markers) {
    m.steps.forEach((s, i) => mergeStats(perStep[i].stats, s.stats));
  }
  for (const [name, stats] of dedupStats) perStep.push({ name, stats });
  const docsIn = markers.reduce((a, m) => a + m.docs_read, 0);
  const last = perStep.length > 0 ? perStep[perStep.length - 1].stats : null;
  const removed: Record<string, number> = {};
  const counters: Record<string, number> = {};
  const pii: Record<string, number> = {};
  for (const { name, stats } of perStep) {
    for (const [r, n] of Object.entries(stats.removed)) removed[`${name}:${r}`] = n;
    for (const [c, n] of Object.entries(stats.counters)) {
      if (c.startsWith("pii_")) pii[c.slice(4)] = (pii[c.slice(4)] ?? 0) + n;
      else counters[`${name}:${c}`] = n;
    }
  }
  const first = perStep[0]?.stats;
  return {
    shards: markers.length,
    docs_in: docsIn,
    docs_out: last ? last.docs_out : docsIn,
    chars_in: first ? first.chars_in : 0,
    chars_out: last ? last.chars_out : 0,
    rejects: markers.reduce((a, m) => a + m.rejects, 0),
    removed_by_reason: removed,
    pii,
    counters,
    steps: perStep.map(({ name, stats }) => ({ name, ...stats })),
    seconds: markers.reduce((a, m) => a + m.seconds, 0),
  };
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
