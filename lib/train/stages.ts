/**
 * Staged pretraining (Kanana's recipe: a long stage on the broad mixture, then a shorter stage
 * on a high-quality mixture annealed to zero): a `stages:` list in the train config, each with a
 * token budget, its per-source mixture weights and its part of the learning-rate schedule. The
 * stage, mixture and learning rate are functions of the step alone, so a resume in the middle
 * of a stage continues exactly.
 *
 * ```yaml
 * stages:
 *   - { name: stage1, tokens: 2000000, mix: { en: 1, ko: 1 } }
 *   - { name: stage2, tokens: 200000, mix: { en: 1, ko: 3 }, schedule: linear } # lr_end 0
 * ```
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** One stage as written in the config. */
export interface Stage {
  name?: string;
  /** Token budget (rounded up to whole optimizer steps). */
  tokens: number;
  /** Mixture weights by source name (default: the run's --mix); unnamed sources get 0. */
  mix?: Record<string, number>;
  /** Learning rate at the stage's start (default: the previous stage's end, or --lr). */
  lr_start?: number;
  /** At its end (default: lr_start; 0 in the last stage — the annealing). */
  lr_end?: number;
  /** Shape between them (default linear). */
  schedule?: "linear" | "cosine";
}

const KEYS = new Set(["name", "tokens", "mix", "lr_start", "lr_end", "schedule"]);

/** Checks the `stages` option's structure; returns what was expected when it is wrong. */
export function validateStages(v: unknown): string | undefined {
  if (!Array.isArray(v)) return "a list of stages ({ tokens, mix, lr_start, lr_end, schedule })";
  for (const [i, s] of v.entries()) {
    const at = `stage ${i + 1}`;
    if (typeof s !== "object" || s === null || Array.isArray(s)) return `${at}: an object`;
    for (const k of Object.keys(s)) {
      if (!KEYS.has(k)) return `${at}: known keys (${[...KEYS].join(", ")}), not "${k}"`;
    }
    const o = s as Record<string, unknown>;
    if (!(Number.isSafeInteger(o.tokens) && (o.tokens as number) > 0)) {
      return `${at}: tokens, a positive integer budget`;
    }
    for (const k of ["lr_start", "lr_end"]) {
      if (o[k] !== undefined && !(typeof o[k] === "number" && (o[k] as number) >= 0)) {
        return `${at}: ${k}, a number ≥ 0`;
      }
    }
    if (o.schedule !== undefined && o.schedule !== "linear" && o.schedule !== "cosine") {
      return `${at}: schedule linear or cosine`;
    }
    if (o.mix !== undefined) {
      if (typeof o.mix !== "object" || o.mix === null || Array.isArray(o.mix)) {
        return `${at}: mix, a map of source name to weight`;
      }
      const w = Object.values(o.mix as Record<string, unknown>);
      if (w.some((x) => !(typeof x === "number" && x >= 0)) || !w.some((x) => (x as number) > 0)) {
        return `${at}: mix weights ≥ 0, at least one > 0`;
      }
    }
  }
  return undefined;
}

interface _Resolved {
  name: string;
  start: number; // first step
  steps: number;
  mix?: Record<string, number>;
  lrStart: number;
  lrEnd: number;
  schedule: "linear" | "cosine";
}

/** The stages laid out in optimizer steps. */
export class StagePlan {
  readonly stages: _Resolved[];
  readonly totalSteps: number;

  constructor(
    stages: Stage[],
    tokensPerStep: number,
    peakLr: number,
    readonly warmup: number,
    sources: string[],
  ) {
    if (!stages.length) throw new UserError("stages: the list is empty");
    let start = 0, prevEnd = peakLr;
    this.stages = stages.map((s, i) => {
      for (const n of Object.keys(s.mix ?? {})) {
        if (!sources.includes(n)) {
          throw new UserError(
            `stages: stage ${i + 1} mixes "${n}", which no --data gives (have ${
              sources.join(", ")
            })`,
          );
        }
      }
      const steps = Math.ceil(s.tokens / tokensPerStep);
      const lrStart = s.lr_start ?? prevEnd;
      const lrEnd = s.lr_end ?? (i === stages.length - 1 ? 0 : lrStart);
      const r = {
        name: s.name ?? `stage${i + 1}`,
        start,
        steps,
        mix: s.mix,
        lrStart,
        lrEnd,
        schedule: s.schedule ?? "linear",
      } as const;
      start += steps;
      prevEnd = lrEnd;
      return r;
    });
    this.totalSteps = start;
  }

  /** The stage of a step (0-based). */
  stageAt(step: number): _Resolved {
    for (const s of this.stages) if (step < s.start + s.steps) return s;
    return this.stages[this.stages.length - 1];
  }

  /**
   * The learning rate of a step: linear warm-up to the first stage's start rate over `warmup`
   * steps, then each stage's part from lr_start (its first step) towards lr_end (reached as
   * its last step ends).
   */
  lrAt(step: number): number {
    const first = this.stages[0];
    if (this.warmup > 0 && step < this.warmup) return (first.lrStart * (step + 1)) / this.warmup;
    const s = this.stageAt(step);
    const from = s === first ? Math.min(this.warmup, s.steps) : 0;
    const p = Math.min(1, (step - s.start - from) / Math.max(1, s.steps - from));
    const f = s.schedule === "cosine" ? 0.5 * (1 - Math.cos(Math.PI * p)) : p;
    return s.lrStart + (s.lrEnd - s.lrStart) * f;
  }
}
