/**
 * `deno task filter SUBCOMMAND`: the filter stage. `run` applies a pipeline (YAML `steps:`) to
 * JSONL shards, one shard with `--shard i/N` or all; `merge` finishes a sharded run (cross-shard
 * dedup, stats); `steps` lists the step types; `eval-pii` measures the PII scrubber. See
 * lib/filter/runner.ts. Other stages add subcommands to {@linkcode FILTER_SUBCOMMANDS}.
 */

import { dispatchSubcommand, parseOrHelp, runMain, type Subcommand } from "../lib/cli/main.ts";
import { removeStaleTemps } from "../lib/io/atomic.ts";
import { UserError } from "../lib/io/errors.ts";
import { listDocFiles } from "../lib/io/jsonl.ts";
import { Progress, progressMode } from "../lib/cli/progress.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import type { Resolved } from "../lib/cli/options.ts";
import {
  buildPipeline,
  checkPipelineSpec,
  FilterRunner,
  parseShard,
  type PipelineSpec,
} from "../lib/filter/runner.ts";
import type { FilterReport } from "../lib/filter/runner.ts";
import { DEFAULT_PIPELINE } from "../lib/filter/pipeline.ts";
import { registerFilterSteps } from "../lib/filter/steps.ts";
import { listSteps, stepFactory } from "../lib/pipeline/registry.ts";
import {
  evaluatePii,
  generatePiiSet,
  LABELLED_PII_PATH,
  readLabelledPii,
} from "../lib/filter/pii_eval.ts";
import { EDIT_RATES, evaluateDedup, lshCurve } from "../lib/filter/dedup_eval.ts";
import { QUALITY_COMMANDS } from "../lib/quality/commands.ts";
import {
  EXECUTOR_OPTIONS,
  launchStage,
  mergeRankLogs,
  slurmSettings,
  type SlurmStage,
} from "../lib/executor/slurm.ts";

const runSpec = {
  name: "filter run",
  summary: "run a filter pipeline over JSONL documents (all shards, or one with --shard i/N)",
  options: {
    input: {
      type: "string",
      required: true,
      description: "a .jsonl[.gz] file or a folder of them",
    },
    output: { type: "string", description: "output folder (default: a new runs/filter-<time>/)" },
    shard: { type: "string", description: "i/N: run only shard i of N, then `filter merge`" },
    world: {
      type: "integer",
      min: 1,
      description: "number of shards (ranks) (default: one per input file, at most 256)",
    },
    steps: {
      type: "any",
      default: DEFAULT_PIPELINE,
      validate: checkPipelineSpec,
      description: "the pipeline: a list of {step: {params}} (see `filter steps`)",
    },
    ...EXECUTOR_OPTIONS,
  },
} as const;

const mergeSpec = {
  name: "filter merge",
  summary: "finish a sharded run: cross-shard dedup, kept/removed outputs, stats.json",
  options: {
    output: { type: "string", required: true, description: "the output folder of the shards" },
  },
} as const;

/** Prints a short summary of a report. */
export function reportText(r: FilterReport, out: string): string {
  const pct = (a: number, b: number) => (b === 0 ? "0" : ((100 * a) / b).toFixed(1));
  const lines = [
    `documents: ${r.docs_in} in, ${r.docs_out} kept (${
      pct(r.docs_out, r.docs_in)
    }%), ${r.rejects} malformed lines`,
    `characters: ${r.chars_in} in, ${r.chars_out} kept (${pct(r.chars_out, r.chars_in)}%)`,
  ];
  for (const [k, n] of Object.entries(r.removed_by_reason)) lines.push(`  removed ${k}: ${n}`);
  if (Object.keys(r.pii).length > 0) {
    lines.push(`PII replaced: ${Object.entries(r.pii).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  }
  lines.push(`kept documents: ${out}/kept/   stats: ${out}/stats.json`);
  return lines.join("\n");
}

type RunOptions = Resolved<typeof runSpec.options>;

/**
 * `filter run --executor slurm`: one job array over the ranks without a completion marker, each
 * running `deno task filter run --shard RANK/N`, and `filter merge` after them (afterok).
 */
async function submitFilter(
  options: RunOptions,
  configPath: string | undefined,
  quiet: boolean,
): Promise<number> {
  if (options.shard) throw new UserError("--executor slurm runs every shard; drop --shard");
  if (!options.output) {
    throw new UserError("--executor slurm: give --output, a folder every compute node can reach");
  }
  const settings = slurmSettings(options);
  const out = options.output.replace(/\/$/, "");
  const run = await createRun({
    task: "filter",
    config: options as Record<string, unknown>,
    dir: out,
    echo: !quiet,
    gpu: false,
  });
  const runner = new FilterRunner({
    input: options.input,
    output: out,
    pipeline: options.steps as PipelineSpec,
    where: configPath ?? "steps",
  });
  if (options.slurm_after && options.world === undefined) {
    throw new UserError("--slurm-after: give --world N (the input does not exist yet to count)");
  }
  const world = options.world ?? await runner.defaultShards();
  await runner.prepare(world); // refuses a folder of another run before anything is submitted
  // every rank reads the resolved pipeline from one file (JSON is YAML)
  await Deno.mkdir(`${out}/slurm`, { recursive: true });
  const steps = `${out}/slurm/steps.json`;
  await writeJsonAtomic(steps, { steps: options.steps });
  const stage: SlurmStage = {
    name: "filter",
    world,
    dir: `${out}/slurm`,
    task: ["filter", "run", "--input", options.input, "--output", out, "--config", steps]
      .concat(["--shard", `{rank}/${world}`, "-q"]),
    merge: ["filter", "merge", "--output", out, "-q"],
    done: (r) => _exists(runner.markerPath(r)),
  };
  const { submission, unfinished } = await launchStage(stage, settings, {
    wait: options.slurm_wait,
    log: (m) => run.log(m),
  });
  console.log(JSON.stringify(submission));
  run.close();
  if (!unfinished) return 0;
  if (unfinished.length > 0) return 1;
  if (!(await _exists(`${out}/stats.json`))) {
    console.error(`error: the merge job did not finish; see ${out}/slurm/logs`);
    return 1;
  }
  const report = JSON.parse(await Deno.readTextFile(`${out}/stats.json`)) as FilterReport;
  console.log(reportText(report, out));
  return 0;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The subcommands; other stages add theirs (e.g. `train-lm`). */
export const FILTER_SUBCOMMANDS: Record<string, Subcommand> = {
  run: {
    summary: runSpec.summary,
    async main(args) {
      const parsed = await parseOrHelp(runSpec, args);
      if (!parsed) return;
      const { options, quiet, configPath } = parsed;
      const shard = options.shard ? parseShard(options.shard) : null;
      if (shard && options.world !== undefined && options.world !== shard.count) {
        throw new UserError(`--world ${options.world} and --shard ${options.shard} disagree`);
      }
      // bad input or a bad pipeline fails before a run folder is made (unless an earlier Slurm
      // stage is still to write the input)
      if (!(options.executor === "slurm" && options.slurm_after)) await listDocFiles(options.input);
      await buildPipeline(options.steps as PipelineSpec, configPath ?? "steps");
      if (options.executor === "slurm") return await submitFilter(options, configPath, quiet);
      const run = await createRun({
        task: "filter",
        config: options as Record<string, unknown>,
        dir: options.output,
        echo: !quiet,
      });
      const progress = new Progress({ label: "filter", unit: "docs", mode: progressMode(quiet) });
      const perShard = new Map<number, number>();
      const runner = new FilterRunner({
        input: options.input,
        output: run.dir,
        pipeline: options.steps as PipelineSpec,
        where: configPath ?? "steps",
        log: (m) => run.log(m),
        progressEvery: quiet ? 100_000 : 1e12, // the bar shows progress; the log keeps milestones
        onProgress: (i, docs) => {
          perShard.set(i, docs);
          progress.set([...perShard.values()].reduce((a, b) => a + b, 0));
        },
      });
      if (shard) {
        await runner.runShard(shard.index, shard.count);
        progress.done();
        run.log(
          `shard ${shard.index}/${shard.count} done; when all are: deno task filter merge --output ${run.dir}`,
        );
        run.close();
        return;
      }
      const report = await runner.runAll(options.world);
      progress.done();
      const stale = await removeStaleTemps(run.dir);
      if (stale) run.log(`removed ${stale} temporary file(s) left by an interrupted run`);
      await run.finish({ report });
      console.log(reportText(report, run.dir));
      return 0;
    },
  },
  merge: {
    summary: mergeSpec.summary,
    async main(args) {
      const parsed = await parseOrHelp(mergeSpec, args);
      if (!parsed) return;
      const out = parsed.options.output.replace(/\/$/, "");
      let saved: { input: string; shards: number; pipeline: PipelineSpec };
      try {
        saved = JSON.parse(await Deno.readTextFile(`${out}/work/pipeline.json`));
      } catch {
        throw new UserError(
          `${out}/work/pipeline.json: missing; is ${out} the --output of \`filter run --shard\`?`,
        );
      }
      const run = await createRun({
        task: "filter",
        config: { merge: out },
        dir: out,
        echo: !parsed.quiet,
      });
      const runner = new FilterRunner({
        input: saved.input,
        output: out,
        pipeline: saved.pipeline,
        where: `${out}/work/pipeline.json`,
        log: (m) => run.log(m),
      });
      const report = await runner.mergeShards(saved.shards);
      const logs = await mergeRankLogs(`${out}/slurm`, "filter");
      if (logs) run.log(`per-rank logs of the Slurm jobs: ${logs}`);
      await run.finish({ report });
      console.log(reportText(report, out));
    },
  },
  steps: {
    summary: "list the pipeline step types with their parameters and defaults",
    main() {
      registerFilterSteps();
      for (const [name, summary] of listSteps()) {
        console.log(`${name} — ${summary}`);
        for (const [key, p] of Object.entries(stepFactory(name)?.params ?? {})) {
          const def = p.default !== undefined ? ` (default: ${JSON.stringify(p.default)})` : "";
          console.log(`    ${key.padEnd(28)} ${p.type.padEnd(9)} ${p.description}${def}`);
        }
      }
      return Promise.resolve();
    },
  },
  "eval-dedup": {
    summary: "MinHash-LSH quality on synthetic near duplicates: F1 vs Jaccard ≥ 0.8, LSH curve",
    async main() {
      await Deno.mkdir("data/cache", { recursive: true });
      console.log("LSH candidate rate (14 bands × 8 rows, 2400 pairs) vs 1 − (1 − s^8)^14:");
      for (const b of lshCurve(2400, 11)) {
        console.log(
          `  J ${b.from.toFixed(1)}–${b.to.toFixed(1)}  pairs ${String(b.pairs).padStart(4)}  ` +
            `measured ${b.measured.toFixed(3)}  expected ${b.expected.toFixed(3)} ± ${
              b.sd.toFixed(3)
            }`,
        );
      }
      console.log("Duplicate detection vs true Jaccard ≥ 0.8 (1500 pairs each):");
      for (const [name, seed] of [["split", 8], ["hard", 9]] as const) {
        for (const verify of [0, 0.8]) {
          const r = await evaluateDedup(EDIT_RATES[name], seed, { verify, workDir: "data/cache" });
          console.log(
            `  edit rates ${name.padEnd(5)} verify ${
              verify.toFixed(1)
            }: positives ${r.positives}, ` +
              `precision ${r.precision.toFixed(3)} recall ${r.recall.toFixed(3)} F1 ${
                r.f1.toFixed(3)
              }`,
          );
        }
      }
    },
  },
  "eval-pii": {
    summary:
      "precision and recall of PII scrubbing on a generated set with near-misses and on hand-labelled page lines",
    async main() {
      const sets = [
        ["generated (seed 12345, 500 per kind)", generatePiiSet(12345, 500)],
        [
          `hand-labelled (${LABELLED_PII_PATH.split("/").slice(-3).join("/")})`,
          await readLabelledPii(),
        ],
      ] as const;
      for (const [name, set] of sets) {
        console.log(`${name}:`);
        const { scores, falsePositives } = evaluatePii([...set]);
        for (const [t, s] of Object.entries(scores)) {
          console.log(
            `  ${t.padEnd(8)} precision ${s.precision.toFixed(4)}  recall ${
              s.recall.toFixed(4)
            }  (tp ${s.tp}, fp ${s.fp}, fn ${s.fn})`,
          );
        }
        console.log("  false positives by near-miss kind:", JSON.stringify(falsePositives));
      }
    },
  },
};

const topSpec = {
  name: "filter",
  summary:
    "rule filters, PII scrubbing, MinHash-LSH dedup and model-based quality filters of JSONL documents",
  options: {},
  get subcommands() {
    return Object.fromEntries(Object.entries(FILTER_SUBCOMMANDS).map(([n, s]) => [n, s.summary]));
  },
};

// The model-based quality filters (lib/quality): train-lm, score, annotate, train-classifier.
for (const [name, cmd] of Object.entries(QUALITY_COMMANDS)) {
  FILTER_SUBCOMMANDS[name] = {
    summary: cmd.spec.summary,
    async main(args) {
      const result = await cmd.run(args);
      if (result) console.log(JSON.stringify(result, null, 2));
    },
  };
}

if (import.meta.main) {
  await runMain(() => dispatchSubcommand(topSpec, FILTER_SUBCOMMANDS, Deno.args));
}
