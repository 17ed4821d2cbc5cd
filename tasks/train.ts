/**
 * `deno task train`: continual pretraining of a Llama model (lib/train/trainer.ts), and its
 * subcommands `tokenize` (JSONL → token shards), `sample` (text from a checkpoint) and `extend`
 * (resize a model to a larger tokenizer).
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { CheckpointPusher } from "../lib/train/hub_push.ts";
import type { CommandSpec } from "../lib/cli/options.ts";
import { progressMode } from "../lib/cli/progress.ts";
import { UserError } from "../lib/io/errors.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { loadModel, saveModel } from "../lib/model/hf_folder.ts";
import { loadTokenizer } from "../lib/train/tokenizer.ts";
import { tokenizeToShard } from "../lib/train/tokenize.ts";
import { generate } from "../lib/model/generate.ts";
import { createLlama } from "../lib/model/backend.ts";
import { extendVocabulary } from "../lib/train/extend.ts";
import { train, type TrainOptions } from "../lib/train/trainer.ts";
import { repairJsonlTail } from "../lib/train/checkpoint.ts";
import { TRAIN_OPTIONS } from "../lib/train/options.ts";

const SUBCOMMANDS = {
  tokenize: "turn JSONL documents into a token shard with a Hugging Face tokenizer.json",
  sample: "print text generated from a checkpoint (greedy or temperature/top-p with a KV cache)",
  extend: "resize a model's embeddings and LM head to a larger tokenizer (EEVE or N(0, 0.02))",
};

const trainSpec = {
  name: "train",
  summary: "continual pretraining of a Llama model on mixed token shards (fp32 | bf16 | fp8)",
  options: {
    ...TRAIN_OPTIONS,
    resume: {
      type: "string",
      default: "",
      description: "run folder to resume from its latest checkpoint (uses that run's saved config)",
    },
    runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
  },
  subcommands: SUBCOMMANDS,
} as const satisfies CommandSpec;

const tokenizeSpec = {
  name: "train tokenize",
  summary: SUBCOMMANDS.tokenize,
  positionals: "INPUT.jsonl|DIR…",
  options: {
    tokenizer: {
      type: "string",
      required: true,
      description: "tokenizer.json (or a folder holding one)",
    },
    output: {
      type: "string",
      required: true,
      description: "the shard to write (e.g. data/cache/ko.tok)",
    },
    max_docs: { type: "integer", min: 1, description: "stop after this many documents" },
  },
} as const satisfies CommandSpec;

const sampleSpec = {
  name: "train sample",
  summary: SUBCOMMANDS.sample,
  options: {
    model: {
      type: "string",
      required: true,
      description: "model folder (config.json, model.safetensors, tokenizer.json)",
    },
    prompt: { type: "string", default: "", description: "text to continue" },
    max_new_tokens: { type: "integer", default: 64, min: 1, description: "tokens to generate" },
    temperature: { type: "number", default: 0, min: 0, description: "0 = greedy" },
    top_p: { type: "number", default: 1, min: 0, max: 1, description: "nucleus sampling mass" },
    seed: { type: "integer", default: 0, description: "sampling seed" },
    device: {
      type: "string",
      default: "auto",
      choices: ["auto", "gpu", "cpu"],
      description: "gpu = WebGPU; cpu = TypeScript reference; auto = gpu when an adapter exists",
    },
  },
} as const satisfies CommandSpec;

const extendSpec = {
  name: "train extend",
  summary: SUBCOMMANDS.extend,
  options: {
    model: {
      type: "string",
      required: true,
      description: "model folder with its old tokenizer.json",
    },
    tokenizer: {
      type: "string",
      required: true,
      description: "the larger tokenizer.json (keeps the old ids)",
    },
    output: {
      type: "string",
      required: true,
      description: "folder for the extended model (under runs/)",
    },
    init: {
      type: "string",
      default: "eeve",
      choices: ["eeve", "normal"],
      description: "new-row init",
    },
    seed: { type: "integer", default: 0, description: "seed for N(0, 0.02) rows" },
  },
} as const satisfies CommandSpec;

if (import.meta.main) {
  await runMain(async () => {
    const sub = Deno.args[0];
    if (sub === "tokenize") {
      const parsed = await parseOrHelp(tokenizeSpec, Deno.args.slice(1));
      if (!parsed) return;
      const { options: o, positionals, quiet } = parsed;
      if (!positionals.length) {
        throw new UserError("train tokenize: give at least one INPUT.jsonl or folder");
      }
      const tok = await loadTokenizer(o.tokenizer);
      const r = await tokenizeToShard(tok, positionals, o.output, {
        mode: progressMode(quiet),
        maxDocs: o.max_docs,
      });
      console.log(
        `${o.output}: ${r.docs} documents, ${r.tokens} tokens (${
          (r.chars / Math.max(1, r.tokens)).toFixed(2)
        } chars/token)`,
      );
      return;
    }
    if (sub === "sample") {
      const parsed = await parseOrHelp(sampleSpec, Deno.args.slice(1));
      if (!parsed) return;
      const o = parsed.options;
      const { cfg, params } = await loadModel(o.model);
      const tok = await loadTokenizer(o.model);
      const prompt = tok.encode(o.prompt);
      if (tok.bosId !== null) prompt.unshift(tok.bosId);
      if (!prompt.length) {
        throw new UserError("--prompt: empty, and the tokenizer has no begin-of-text token");
      }
      const model = await createLlama(cfg, params, { device: o.device });
      const [out] = await generate(model, [prompt], {
        maxNewTokens: o.max_new_tokens,
        temperature: o.temperature,
        topP: o.top_p,
        seed: o.seed,
        stopIds: tok.eosId !== null ? [tok.eosId] : [],
      });
      model.destroy();
      console.log(o.prompt + tok.decode(out.ids));
      return;
    }
    if (sub === "extend") {
      const parsed = await parseOrHelp(extendSpec, Deno.args.slice(1));
      if (!parsed) return;
      const o = parsed.options;
      const { cfg, params } = await loadModel(o.model);
      const oldTok = await loadTokenizer(o.model);
      const newTok = await loadTokenizer(o.tokenizer);
      const r = extendVocabulary(cfg, params, oldTok, newTok, o.init as "eeve" | "normal", o.seed);
      await saveModel(o.output, r.cfg, r.params);
      await Deno.copyFile(
        o.tokenizer.endsWith(".json") ? o.tokenizer : `${o.tokenizer}/tokenizer.json`,
        `${o.output}/tokenizer.json`,
      );
      console.log(
        `${o.output}: vocab ${cfg.vocab_size} → ${r.cfg.vocab_size}; ${r.initialised} rows by ${o.init}, ${r.fallback} from N(0, 0.02)`,
      );
      return;
    }
    const parsed = await parseOrHelp(trainSpec, Deno.args);
    if (!parsed) return;
    const { options, quiet } = parsed;
    let opts = options as unknown as TrainOptions;
    let dir: string | undefined;
    if (options.resume) {
      dir = options.resume;
      try {
        opts = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      } catch {
        throw new UserError(`--resume ${dir}: not a train run folder (no readable config.json)`);
      }
      for (const f of ["metrics.jsonl", "log.jsonl"]) await repairJsonlTail(`${dir}/${f}`);
    }
    const run = await createRun({
      task: "train",
      config: opts as unknown as Record<string, unknown>,
      seed: opts.seed,
      runsDir: options.runs_dir,
      dir,
      gpu: opts.engine !== "cpu",
    });
    const pusher = opts.push_to
      ? await CheckpointPusher.create({
        repo: opts.push_to,
        every: opts.push_every ?? 0,
        stagingDir: run.path("push-staging"),
        log: (m, f) => run.log(m, f),
      })
      : undefined;
    const summary = await train(opts, run, {
      quiet,
      resume: Boolean(dir),
      onCheckpoint: pusher ? (d, step) => pusher.onCheckpoint(d, step) : undefined,
    });
    const pushFailures = pusher ? await pusher.finish(summary.model_dir) : [];
    await run.finish({ ...summary, push_failures: pushFailures.length });
    console.log(
      `done: ${summary.steps} steps, loss ${
        summary.final_loss.toFixed(4)
      }, ${summary.tokens_per_s} tokens/s; model in ${summary.model_dir}`,
    );
  });
}
