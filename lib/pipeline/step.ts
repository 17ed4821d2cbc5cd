/**
 * The one pipeline-step interface of Jikji's data stages, in the manner of datatrove: a step takes
 * an async stream of documents and yields documents; a filter only decides `keep | [drop, reason]`
 * and the base class counts documents and characters in, out and removed by reason, and hands
 * removed documents (with their reason) to the runner.
 *
 * Steps are named in YAML pipeline files and built from their parameters by the registry in
 * `registry.ts`.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";

/** Counts a step keeps; stats of shards merge by addition ({@linkcode mergeStats}). */
export interface StepStats {
  docs_in: number;
  docs_out: number;
  chars_in: number;
  chars_out: number;
  /** Documents removed, by reason. */
  removed: Record<string, number>;
  /** Anything else worth counting (e.g. PII replacements by type). */
  counters: Record<string, number>;
}

/** Where a step runs: its shard and how to report removed documents. */
export interface StepContext {
  /** This shard's index (0-based) and the number of shards. */
  rank: number;
  worldSize: number;
  /**
   * Receives every removed document with the step's name, the reason and what was measured (the
   * value against its threshold, or the id of the document it duplicates).
   */
  onRemoved?: (
    doc: Doc,
    step: string,
    reason: string,
    detail?: RemovalDetail,
  ) => void | Promise<void>;
  /** Folder for a step's own files (models, sorted runs…), private to this shard. */
  workDir?: string;
}

/** A step of a pipeline. */
export interface PipelineStep {
  /** Name as used in pipeline files and stats, e.g. "rules" or "minhash_dedup". */
  readonly name: string;
  readonly stats: StepStats;
  /** Transforms the stream. */
  run(docs: AsyncIterable<Doc>, ctx: StepContext): AsyncIterable<Doc>;
}

/** What a removal measured: `{ value, threshold }` for a rule, `{ duplicate_of }` for dedup. */
export type RemovalDetail = Record<string, string | number>;

/** A filter's verdict: keep, or drop with a reason (and what was measured). */
export type FilterVerdict = true | [false, string] | [false, string, RemovalDetail];

/** Fresh, zeroed stats. */
export function emptyStats(): StepStats {
  return { docs_in: 0, docs_out: 0, chars_in: 0, chars_out: 0, removed: {}, counters: {} };
}

/** Adds `b` into `a` (stats of shards merge by addition); returns `a`. */
export function mergeStats(a: StepStats, b: StepStats): StepStats {
  a.docs_in += b.docs_in;
  a.docs_out += b.docs_out;
  a.chars_in += b.chars_in;
  a.chars_out += b.chars_out;
  for (const [k, v] of Object.entries(b.removed)) a.removed[k] = (a.removed[k] ?? 0) + v;
  for (const [k, v] of Object.entries(b.counters)) a.counters[k] = (a.counters[k] ?? 0) + v;
  return a;
}

/**
 * Base of filters: subclasses implement {@linkcode filter}; the base counts and reports removals.
 *
 * @example
 * ```ts
 * import { BaseFilter, type FilterVerdict } from "./step.ts";
 * class MinLength extends BaseFilter {
 *   readonly name = "min_length";
 *   filter(doc: { text: string }): FilterVerdict {
 *     return doc.text.length >= 10 ? true : [false, "too_short"];
 *   }
 * }
 * ```
 */
export abstract class BaseFilter implements PipelineStep {
  abstract readonly name: string;
  readonly stats: StepStats = emptyStats();

  /** Keep the document, or drop it with a reason. */
  abstract filter(doc: Doc): FilterVerdict | Promise<FilterVerdict>;

  async *run(docs: AsyncIterable<Doc>, ctx: StepContext): AsyncIterable<Doc> {
    for await (const doc of docs) {
      this.stats.docs_in++;
      this.stats.chars_in += doc.text.length;
      const verdict = await this.filter(doc);
      if (verdict === true) {
        this.stats.docs_out++;
        this.stats.chars_out += doc.text.length;
        yield doc;
      } else {
        const reason = verdict[1];
        this.stats.removed[reason] = (this.stats.removed[reason] ?? 0) + 1;
        await ctx.onRemoved?.(doc, this.name, reason, verdict[2]);
      }
    }
  }
}

/**
 * Base of steps that rewrite documents (normalisation, PII scrubbing): subclasses implement
 * {@linkcode transform}, returning the new document or null to drop it with reason "empty".
 */
export abstract class BaseTransform implements PipelineStep {
  abstract readonly name: string;
  readonly stats: StepStats = emptyStats();

  /** Returns the rewritten document (null: nothing left, drop it). */
  abstract transform(doc: Doc): Doc | null | Promise<Doc | null>;

  async *run(docs: AsyncIterable<Doc>, ctx: StepContext): AsyncIterable<Doc> {
    for await (const doc of docs) {
      this.stats.docs_in++;
      this.stats.chars_in += doc.text.length;
      const out = await this.transform(doc);
      if (out === null || out.text === "") {
        this.stats.removed.empty = (this.stats.removed.empty ?? 0) + 1;
        await ctx.onRemoved?.(doc, this.name, "empty");
        continue;
      }
      this.stats.docs_out++;
      this.stats.chars_out += out.text.length;
      yield out;
    }
  }
}

/** Chains steps: the output of each feeds the next. */
export function chainSteps(
  steps: PipelineStep[],
  docs: AsyncIterable<Doc>,
  ctx: StepContext,
): AsyncIterable<Doc> {
  return steps.reduce((stream, step) => step.run(stream, ctx), docs);
}
