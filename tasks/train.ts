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
import { createRun, type RunFolder } from "../lib/run/run_folder.ts";
import { loadModel, saveModel } from "../lib/model/hf_folder.ts";
import { loadTokenizer } from "../lib/train/tokenizer.ts";
import { tokenizeToShard } from "../lib/train/tokenize.ts";
import { generate } from "../lib/model/generate.ts";
import { createLlama } from "../lib/model/backend.ts";
import { extendVocabulary } from "../lib/train/extend.ts";
import { train, type TrainOptions } from "../lib/train/trainer.ts";
import { repairJsonlTail } from "../lib/train/checkpoint.ts";
import { TRAIN_OPTIONS } from "../lib/train/options.ts";
import { DPO_OPTIONS, SFT_OPTIONS } from "../lib/posttrain/options.ts";
import { posttrain, type PosttrainOptions } from "../lib/posttrain/trainer.ts";
import { loadChatFormat } from "../lib/posttrain/chat_template.ts";
import { runChat } from "../lib/posttrain/chat.ts";
import { posttrainDataSpec, runPosttrainData } from "../lib/posttrain/cli.ts";

/** Lines of standard input. */
async function* readLines(): AsyncGenerator<string> {
  const dec = new TextDecoderStream();
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(dec)) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

const SUBCOMMANDS = {
  tokenize: "turn JSONL documents into a token shard with a Hugging Face tokenizer.json",
  sample: "print text generated from a checkpoint (greedy or temperature/top-p with a KV cache)",
  extend: "resize a model's embeddings and LM head to a larger tokenizer (EEVE or N(0, 0.02))",
  sft: "supervised fine-tuning on chat conversations (assistant-token loss, packing)",
  dpo: "preference training on chosen/rejected pairs (sigmoid, ipo, hinge, thunder, simpo)",
  chat: "a terminal chat with a model through its chat template (tokens streamed)",
  "posttrain-data":
    "build SFT conversations and DPO pairs from ../shared/posttrain (eval overlaps dropped)",
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

const postSpecs = {
  sft: {
    name: "train sft",
    summary: SUBCOMMANDS.sft,
    options: { ...SFT_OPTIONS, ...runOptions() },
  },
  dpo: {
    name: "train dpo",
    summary: SUBCOMMANDS.dpo,
    options: { ...DPO_OPTIONS, ...runOptions() },
  },
} as const;

function runOptions() {
  return {
    resume: {
      type: "string",
      default: "",
      description: "run folder to resume from its latest checkpoint (uses that run's saved config)",
    },
    runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
  } as const;
}

const chatSpec = {
  name: "train chat",
  summary: SUBCOMMANDS.chat,
  options: {
    model: { type: "string", required: true, description: "model folder with its chat template" },
    system: { type: "string", default: "", description: "a system message" },
    max_new_tokens: { type: "integer", default: 256, min: 1, description: "tokens per answer" },
    temperature: { type: "number", default: 0.7, min: 0, description: "0 = greedy" },
    top_p: { type: "number", default: 0.9, min: 0, max: 1, description: "nucleus sampling mass" },
    seed: { type: "integer", default: 0, description: "sampling seed" },
    device: sampleSpec.options.device,
  },
} as const satisfies CommandSpec;

/** The background Hub pusher of `--push-to` (or none), staging under the run folder. */
async function checkpointPusher(
  opts: { push_to?: string; push_every?: number },
  run: RunFolder,
): Promise<CheckpointPusher | undefined> {
  if (!opts.push_to) return undefined;
  return await CheckpointPusher.create({
    repo: opts.push_to,
    every: opts.push_every ?? 0,
    stagingDir: run.path("push-staging"),
    log: (m, f) => run.log(m, f),
  });
}

/** Runs `deno task train sft|dpo` (a run folder, resume, the post-training loop). */
async function runPosttrain(kind: "sft" | "dpo", args: string[]) {
  const parsed = await parseOrHelp(postSpecs[kind] as unknown as CommandSpec, args);
  if (!parsed) return;
  const options = parsed.options as Record<string, unknown>;
  let opts = options as unknown as PosttrainOptions;
  const dir = (options.resume as string) || undefined;
  if (dir) {
    try {
      opts = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    } catch {
      throw new UserError(`--resume ${dir}: not a ${kind} run folder (no readable config.json)`);
    }
    for (const f of ["metrics.jsonl", "log.jsonl"]) await repairJsonlTail(`${dir}/${f}`);
  }
  const run = await createRun({
    task: `train-${kind}`,
    config: opts as unknown as Record<string, unknown>,
    seed: opts.seed,
    runsDir: options.runs_dir as string,
    dir,
    gpu: opts.engine !== "cpu",
  });
  const pusher = await checkpointPusher(opts, run);
  const summary = await posttrain(kind, opts, run, {
    quiet: parsed.quiet,
    resume: !!dir,
    onCheckpoint: pusher ? (d, step) => pusher.onCheckpoint(d, step) : undefined,
  });
  const pushFailures = pusher ? await pusher.finish(summary.model_dir) : [];
  await run.finish({ ...summary, push_failures: pushFailures.length } as unknown as Record<
    string,
    unknown
  >);
  console.log(
    `${kind}: before ${JSON.stringify(summary.before)} after ${JSON.stringify(summary.after)}`,
  );
  console.log(`run folder: ${run.dir}`);
}

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
        source: o.tokenizer,
      });
      console.log(
        `${o.output}: ${r.docs} documents, ${r.tokens} tokens (${
          (r.chars / Math.max(1, r.tokens)).toFixed(2)
        } chars/token)`,
      );
      return;
    }
    if (sub === "sft" || sub === "dpo") return await runPosttrain(sub, Deno.args.slice(1));
    if (sub === "posttrain-data") {
      const parsed = await parseOrHelp(posttrainDataSpec, Deno.args.slice(1));
      if (!parsed) return;
      const r = await runPosttrainData(
        parsed.options as unknown as Parameters<typeof runPosttrainData>[0],
        parsed.quiet,
      );
      console.log(JSON.stringify(r));
      return;
    }
    if (sub === "chat") {
      const parsed = await parseOrHelp(chatSpec, Deno.args.slice(1));
      if (!parsed) return;
      const o = parsed.options;
      const format = await loadChatFormat(o.model);
      const { cfg, params } = await loadModel(o.model);
      const model = await createLlama(cfg, params, { device: o.device });
      const lines = readLines();
      await runChat({
        format,
        system: o.system || undefined,
        maxPromptTokens: cfg.max_position_embeddings - o.max_new_tokens,
        readLine: async () => {
          await Deno.stdout.write(new TextEncoder().encode("> "));
          const r = await lines.next();
          return r.done ? null : r.value;
        },
        write: (text) => void Deno.stdout.writeSync(new TextEncoder().encode(text)),
        generateStream: async (prompt, onToken) => {
          const [g] = await generate(model, [prompt], {
            maxNewTokens: o.max_new_tokens,
            temperature: o.temperature,
            topP: o.top_p,
            seed: o.seed,
            stopIds: format.eosIds,
            onToken: (_row, id) => onToken(id),
          });
          return g.ids;
        },
      });
      model.destroy();
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
    const pusher = await checkpointPusher(opts, run);
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
