/**
 * `deno task train posttrain-data`: builds the post-training records from the source folder
 * (lib/posttrain/build.ts), drops every record that overlaps an eval item
 * (lib/posttrain/contamination.ts) and writes, under `--output DIR`:
 *
 * - `sft.jsonl`, `sft.heldout.jsonl` — conversations;
 * - `dpo.jsonl`, `dpo.heldout.jsonl` — preference pairs;
 * - `contamination.json`, `contamination.md` — the overlap report;
 * - `summary.json` — the options, per-source counts, dropped records and malformed rows.
 *
 * Every path is resolved with `Deno.realPath` before use, so a symlink is read or written where
 * it really leads (and the task's permissions are checked there).
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import type { CommandSpec, Resolved } from "../cli/options.ts";
import { Progress, type ProgressMode, progressMode } from "../cli/progress.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import { buildPosttrainData, type MalformedRow, SOURCE_NAMES, type SourceStats } from "./build.ts";
import {
  ContaminationCheck,
  contaminationMarkdown,
  type ContaminationReport,
  EvalNgramIndex,
} from "./contamination.ts";
import { writeConversations, writePairs } from "./records.ts";

/** `deno task train posttrain-data`. */
export const posttrainDataSpec = {
  name: "train posttrain-data",
  summary:
    "build SFT conversations and DPO pairs from ../shared/posttrain, drop eval overlaps (n-grams)",
  options: {
    source_dir: {
      type: "string",
      default: "../shared/posttrain",
      description: "post-training source folder (README.md names each source and licence)",
    },
    data_root: {
      type: "string",
      default: "../shared/bench",
      description: "benchmark data root of the eval task files (contamination check)",
    },
    tasks: {
      type: "string[]",
      default: ["eval/bench", "eval/thunder"],
      description:
        "eval task files or folders whose items records must not overlap (eval/lm_eval holds format examples over made-up data)",
    },
    output: {
      type: "string",
      required: true,
      description: "folder for sft/dpo JSONL, contamination report and summary (e.g. runs/pt-data)",
    },
    sources: {
      type: "string[]",
      default: [],
      description: `sources to build (comma-separated; default all: ${SOURCE_NAMES.join(", ")})`,
      validate: (v) => {
        const bad = (v as string[]).filter((s) => !SOURCE_NAMES.includes(s));
        return bad.length
          ? `known sources (${SOURCE_NAMES.join(", ")}), not ${bad.join(", ")}`
          : undefined;
      },
    },
    max_per_source: {
      type: "integer",
      default: 0,
      min: 0,
      description: "rows kept per source after shuffling (0 = all)",
    },
    heldout_fraction: {
      type: "number",
      default: 0.05,
      min: 0,
      max: 0.5,
      description: "fraction of each source's rows written to the .heldout files",
    },
    seed: { type: "integer", default: 0, description: "seed of the shuffles" },
    ngram: {
      type: "integer",
      default: 13,
      min: 4,
      description: "word n-gram length of the contamination check",
    },
    ngram_ko: {
      type: "integer",
      default: 8,
      min: 4,
      description: "n for Korean segments (an eojeol is ~1.5 English words)",
    },
  },
} as const satisfies CommandSpec;

/** The resolved options of {@linkcode posttrainDataSpec}. */
export type PosttrainDataOptions = Resolved<typeof posttrainDataSpec.options>;

/** What `summary.json` holds. */
export interface PosttrainDataSummary {
  options: PosttrainDataOptions;
  /** The real paths used. */
  paths: { source_dir: string; data_root: string; output: string };
  files: Record<string, number>;
  sources: Record<string, SourceStats & { dropped: number }>;
  totals: {
    sft: number;
    sft_heldout: number;
    dpo: number;
    dpo_heldout: number;
    dropped: number;
    malformed: number;
  };
  /** Malformed rows (the first 200; `totals.malformed` counts all). */
  malformed: MalformedRow[];
  contamination: Pick<ContaminationReport, "checked" | "dropped" | "sets"> & {
    tasks_checked: string[];
    tasks_skipped: string[];
  };
  seconds: { build: number; index: number; check: number; write: number; total: number };
}

/**
 * Builds the records, checks them against the eval tasks and writes the output folder; returns
 * the summary (also written to `summary.json`). Progress goes to stderr once a step has taken a
 * second, unless `quiet`.
 */
export async function runPosttrainData(
  options: PosttrainDataOptions,
  quiet = false,
): Promise<PosttrainDataSummary> {
  const t0 = performance.now();
  const mode = progressMode(quiet);
  const sourceDir = await _realDir(options.source_dir, "--source-dir");
  const dataRoot = await _realDir(options.data_root, "--data-root");
  const tasks = await Promise.all(options.tasks.map((t) => _realPath(t, "--tasks")));
  const output = await _realOutputDir(options.output);

  const buildBar = new _LazyProgress({ label: "posttrain-data: read", unit: "files", mode });
  const built = await buildPosttrainData({
    sourceDir,
    sources: options.sources,
    maxPerSource: options.max_per_source,
    seed: options.seed,
    heldoutFraction: options.heldout_fraction,
    onFile: (_f, done, total) => buildBar.set(done, total),
  });
  buildBar.done();
  const t1 = performance.now();

  const indexBar = new _LazyProgress({ label: "posttrain-data: eval items", unit: "tasks", mode });
  const index = await EvalNgramIndex.build({
    tasks,
    dataRoot,
    n: options.ngram,
    nKorean: options.ngram_ko,
    minTokens: Math.min(8, options.ngram, options.ngram_ko),
    onTask: (done, total) => indexBar.set(done, total),
  });
  indexBar.done();
  const t2 = performance.now();
  const check = new ContaminationCheck(index);
  const total = built.sft.length + built.sftHeldout.length + built.dpo.length +
    built.dpoHeldout.length;
  const checkBar = new _LazyProgress({ label: "posttrain-data: check", unit: "records", mode });
  let n = 0;
  const tick = () => {
    if (++n % 1000 === 0) checkBar.set(n, total);
  };
  const sft = check.filter("sft", built.sft, tick);
  const sftHeldout = check.filter("sft.heldout", built.sftHeldout, tick);
  const dpo = check.filter("dpo", built.dpo, tick);
  const dpoHeldout = check.filter("dpo.heldout", built.dpoHeldout, tick);
  checkBar.set(total, total);
  checkBar.done();
  const report = check.report();
  const t3 = performance.now();

  const files: Record<string, number> = {
    "sft.jsonl": await writeConversations(join(output, "sft.jsonl"), sft),
    "sft.heldout.jsonl": await writeConversations(join(output, "sft.heldout.jsonl"), sftHeldout),
    "dpo.jsonl": await writePairs(join(output, "dpo.jsonl"), dpo),
    "dpo.heldout.jsonl": await writePairs(join(output, "dpo.heldout.jsonl"), dpoHeldout),
  };
  await writeJsonAtomic(join(output, "contamination.json"), report);
  await writeFileAtomic(join(output, "contamination.md"), contaminationMarkdown(report));
  const t4 = performance.now();

  const sources: PosttrainDataSummary["sources"] = {};
  for (const [name, s] of Object.entries(built.sources)) {
    sources[name] = { ...s, dropped: report.sources[name]?.dropped ?? 0 };
  }
  const sec = (a: number, b: number) => Math.round(b - a) / 1000;
  const summary: PosttrainDataSummary = {
    options,
    paths: { source_dir: sourceDir, data_root: dataRoot, output },
    files,
    sources,
    totals: {
      sft: sft.length,
      sft_heldout: sftHeldout.length,
      dpo: dpo.length,
      dpo_heldout: dpoHeldout.length,
      dropped: report.dropped,
      malformed: built.malformed.length,
    },
    malformed: built.malformed.slice(0, 200),
    contamination: {
      checked: report.checked,
      dropped: report.dropped,
      sets: report.sets,
      tasks_checked: report.tasks.filter((t) => t.status === "checked").map((t) => t.task),
      tasks_skipped: report.tasks.filter((t) => t.status === "skipped").map((t) => t.task),
    },
    seconds: {
      build: sec(t0, t1),
      index: sec(t1, t2),
      check: sec(t2, t3),
      write: sec(t3, t4),
      total: sec(t0, performance.now()),
    },
  };
  await writeJsonAtomic(join(output, "summary.json"), summary);
  if (!quiet) {
    const skipped = report.tasks.filter((t) => t.status === "skipped");
    if (skipped.length) {
      console.warn(
        `posttrain-data: ${skipped.length} eval task(s) not checked (Hub data not here): ${
          skipped.map((t) => t.task).join(", ")
        }`,
      );
    }
    console.log(
      `${output}: sft ${sft.length} (+${sftHeldout.length} held out), dpo ${dpo.length} ` +
        `(+${dpoHeldout.length} held out); ${report.dropped} dropped as eval overlaps, ` +
        `${built.malformed.length} malformed rows; ${summary.seconds.total.toFixed(1)} s`,
    );
  }
  return summary;
}

/** A progress bar that shows itself only once its step has run for a second. */
class _LazyProgress {
  #bar?: Progress;
  #start = performance.now();
  constructor(readonly opts: { label: string; unit: string; mode: ProgressMode }) {}

  set(value: number, total: number): void {
    if (!this.#bar && performance.now() - this.#start < 1000) return;
    if (!this.#bar) {
      // The bar's clock starts when the step did, not when the bar first shows.
      let first = true;
      const now = () => first ? (first = false, this.#start) : performance.now();
      this.#bar = new Progress({ ...this.opts, total, now });
    }
    this.#bar.total = total;
    this.#bar.set(value);
  }

  done(): void {
    this.#bar?.done();
  }
}

async function _realPath(path: string, flag: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${flag} ${path}: no such path`);
    throw err;
  }
}

/**
 * Creates the output folder where it really leads: the nearest existing ancestor is resolved
 * first, so a symlink on the way cannot make the folder appear outside the allowed paths.
 */
async function _realOutputDir(path: string): Promise<string> {
  let p = resolve(path);
  const rest: string[] = [];
  let real: string;
  for (;;) {
    try {
      real = await Deno.realPath(p);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) || dirname(p) === p) throw err;
      rest.unshift(basename(p));
      p = dirname(p);
    }
  }
  const target = join(real, ...rest);
  await Deno.mkdir(target, { recursive: true });
  return await _realDir(target, "--output");
}

async function _realDir(path: string, flag: string): Promise<string> {
  const real = await _realPath(path, flag);
  if (!(await Deno.stat(real)).isDirectory) {
    throw new UserError(`${flag} ${path}: not a folder`);
  }
  return real;
}
