/**
 * `deno task train`: continual pretraining of a Llama model (lib/train/trainer.ts), and its
 * subcommands `tokenize` (JSONL → token shards), `sample` (text from a checkpoint) and `extend`
 * (resize a model to a larger tokenizer).
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { CheckpointPusher } from "../lib/train/hub_push.ts";
import type { CommandSpec, Resolved } from "../lib/cli/options.ts";
import { progressMode } from "../lib/cli/progress.ts";
import { UserError } from "../lib/io/errors.ts";
import { createRun, type RunFolder } from "../lib/run/run_folder.ts";
import { loadModel, saveModel } from "../lib/model/hf_folder.ts";
import { loadTokenizer } from "../lib/train/tokenizer.ts";
import {
  mergeTokenRanks,
  rankShardDone,
  rankShardPath,
  tokenizeToShard,
} from "../lib/train/tokenize.ts";
import { EXECUTOR_OPTIONS, launchStage, slurmSettings } from "../lib/executor/slurm.ts";
import { parseShard } from "../lib/executor/split.ts";
import { listDocFiles } from "../lib/io/jsonl.ts";
import { generate } from "../lib/model/generate.ts";
import { createLlama } from "../lib/model/backend.ts";
import { extendVocabulary } from "../lib/train/extend.ts";
import { train, type TrainOptions } from "../lib/train/trainer.ts";
import { repairJsonlTail } from "../lib/train/checkpoint.ts";
import { DISTILL_OPTIONS, TRAIN_OPTIONS } from "../lib/train/options.ts";
import {
  BEST_OF_OPTIONS,
  DPO_OPTIONS,
  ONLINE_DPO_OPTIONS,
  REWARD_OPTIONS,
  SFT_OPTIONS,
} from "../lib/posttrain/options.ts";
import { writeBestOfN } from "../lib/posttrain/best_of.ts";
import { onlineDpo, type OnlineDpoOptions } from "../lib/posttrain/online_dpo.ts";
import { posttrain, type PosttrainKind, type PosttrainOptions } from "../lib/posttrain/trainer.ts";
import { loadChatFormat } from "../lib/posttrain/chat_template.ts";
import { runChat } from "../lib/posttrain/chat.ts";
import { posttrainDataSpec, runPosttrainData } from "../lib/posttrain/cli.ts";
import { exportMegatron } from "../lib/train/megatron.ts";
import { loadSources } from "../lib/train/trainer.ts";
import { readLlamaConfig } from "../lib/model/config.ts";
import { PRUNE_SPEC, runPrune, runUpscale, UPSCALE_SPEC } from "../lib/compress/cli.ts";

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
  sample:
    "print text generated from a checkpoint (greedy or temperature/top-p with a KV cache); --best-of N with a reward model",
  extend: "resize a model's embeddings and LM head to a larger tokenizer (EEVE or N(0, 0.02))",
  sft: "supervised fine-tuning on chat conversations (assistant-token loss, packing)",
  dpo: "preference training on chosen/rejected pairs (sigmoid, ipo, hinge, thunder, simpo)",
  reward: "a Bradley–Terry reward model on preference pairs (LlamaForSequenceClassification)",
  "online-dpo":
    "rounds of sampling, reward-model scoring and DPO against a fixed reference (Kanana)",
  chat: "a terminal chat with a model through its chat template (tokens streamed)",
  "posttrain-data":
    "build SFT conversations and DPO pairs from ../shared/posttrain (eval overlaps dropped)",
  export: "token shards + mixture as Megatron-LM's indexed dataset (.bin/.idx) and a launch recipe",
  upscale: UPSCALE_SPEC.summary,
  prune: PRUNE_SPEC.summary,
  distill: "pretraining with a teacher: τ²·KL to its (top-k, cached) logits, optional CE mix",
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

const distillSpec = {
  ...trainSpec,
  name: "train distill",
  summary: SUBCOMMANDS.distill,
  options: { ...trainSpec.options, ...DISTILL_OPTIONS },
  subcommands: undefined,
} as const satisfies CommandSpec;

const tokenizeSpec = {
  name: "train tokenize",
  summary: SUBCOMMANDS.tokenize,
  positionals: "INPUT.jsonl|DIR…",
  options: {
    tokenizer: {
      type: "string",
      default: "",
      description: "tokenizer.json (or a folder holding one); not for --merge",
    },
    output: {
      type: "string",
      required: true,
      description: "the shard to write (e.g. data/cache/ko.tok)",
    },
    max_docs: { type: "integer", min: 1, description: "stop after this many documents" },
    world: {
      type: "integer",
      min: 1,
      description: "split the input among N ranks (OUTPUT.ranks/part-RRRRR.tok), then join them",
    },
    shard: { type: "string", description: "i/N: tokenize only rank i's part, then --merge" },
    merge: {
      type: "boolean",
      default: false,
      description: "join the --world rank shards into OUTPUT",
    },
    ...EXECUTOR_OPTIONS,
  },
} as const satisfies CommandSpec;

const exportSpec = {
  name: "train export",
  summary: SUBCOMMANDS.export,
  options: {
    ...TRAIN_OPTIONS,
    format: {
      type: "string",
      default: "megatron",
      choices: ["megatron"],
      description: "megatron: MMIDIDX .bin/.idx + pretrain_megatron.sh for Megatron-LM",
    },
    output: { type: "string", required: true, description: "folder to write (e.g. runs/megatron)" },
    gpus: { type: "integer", default: 8, min: 1, description: "GPUs per node of the launch" },
    nodes: { type: "integer", default: 1, min: 1, description: "nodes of the launch" },
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
    ...BEST_OF_OPTIONS,
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
  reward: {
    name: "train reward",
    summary: SUBCOMMANDS.reward,
    options: { ...REWARD_OPTIONS, ...runOptions() },
  },
} as const;

const onlineDpoSpec = {
  name: "train online-dpo",
  summary: SUBCOMMANDS["online-dpo"],
  options: { ...ONLINE_DPO_OPTIONS, ...runOptions() },
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

/**
 * `deno task train tokenize`: one shard, one rank of a split (`--shard`), the join (`--merge`),
 * every rank in turn (`--world N`), or every rank as a Slurm job array (`--executor slurm`).
 */
async function runTokenize(
  o: Resolved<typeof tokenizeSpec.options>,
  positionals: string[],
  quiet: boolean,
): Promise<number> {
  const shard = o.shard ? parseShard(o.shard) : undefined;
  const world = shard?.count ?? o.world;
  if (shard && o.world !== undefined && o.world !== shard.count) {
    throw new UserError(`--world ${o.world} and --shard ${o.shard} disagree`);
  }
  if (o.merge) {
    if (world === undefined) throw new UserError("--merge: give --world N");
    const r = await mergeTokenRanks(o.output, world);
    console.log(`${o.output}: ${r.docs} documents, ${r.tokens} tokens from ${world} ranks`);
    return 0;
  }
  if (!positionals.length) {
    throw new UserError("train tokenize: give at least one INPUT.jsonl or folder");
  }
  if (!o.tokenizer) throw new UserError("train tokenize: give --tokenizer tokenizer.json");
  if (world !== undefined && o.max_docs !== undefined) {
    throw new UserError("--max-docs applies to one shard; drop it or --world/--shard");
  }
  if (o.executor === "slurm") {
    if (shard) throw new UserError("--executor slurm runs every rank; drop --shard");
    const n = world ?? 1;
    // bad input fails before submitting, unless an earlier stage is still to write it
    if (!o.slurm_after) { for (const p of positionals) await listDocFiles(p); }
    const dir = `${o.output}.ranks/slurm`;
    await Deno.mkdir(dir, { recursive: true });
    const { submission, unfinished } = await launchStage(
      {
        name: "tokenize",
        world: n,
        dir,
        task: ["train", "tokenize", "--tokenizer", o.tokenizer, "--output", o.output]
          .concat(["--shard", `{rank}/${n}`, "-q", "--", ...positionals]),
        merge: ["train", "tokenize", "--merge", "--output", o.output, "--world", String(n), "-q"],
        done: (r) => rankShardDone(o.output, r),
      },
      slurmSettings(o),
      { wait: o.slurm_wait, log: (m) => quiet || console.error(m) },
    );
    console.log(JSON.stringify(submission));
    return unfinished && unfinished.length > 0 ? 1 : 0;
  }
  const tok = await loadTokenizer(o.tokenizer);
  const ranks = shard ? [shard.index] : world !== undefined ? [...Array(world).keys()] : [null];
  for (const r of ranks) {
    if (r !== null && await rankShardDone(o.output, r)) continue;
    const path = r === null ? o.output : rankShardPath(o.output, r);
    if (r !== null) await Deno.mkdir(`${o.output}.ranks`, { recursive: true });
    const res = await tokenizeToShard(tok, positionals, path, {
      mode: progressMode(quiet),
      maxDocs: o.max_docs,
      shard: r === null ? undefined : { index: r, count: world! },
      source: o.tokenizer,
    });
    console.log(
      `${path}: ${res.docs} documents, ${res.tokens} tokens (${
        (res.chars / Math.max(1, res.tokens)).toFixed(2)
      } chars/token)`,
    );
  }
  if (!shard && world !== undefined) {
    const r = await mergeTokenRanks(o.output, world);
    console.log(`${o.output}: ${r.docs} documents, ${r.tokens} tokens from ${world} ranks`);
  }
  return 0;
}

/**
 * The run folder of a post-training subcommand: a new one, or with `--resume DIR` that folder with
 * the options saved in it (its JSONL tails repaired after a kill).
 */
async function openPosttrainRun<O extends { seed: number; engine: string }>(
  options: Record<string, unknown>,
  task: string,
): Promise<{ run: RunFolder; opts: O; resumed: boolean }> {
  let opts = options as unknown as O;
  const dir = (options.resume as string) || undefined;
  if (dir) {
    try {
      opts = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    } catch {
      throw new UserError(
        `--resume ${dir}: not a \`train ${task}\` run folder (no readable config.json)`,
      );
    }
    for (const f of ["metrics.jsonl", "log.jsonl"]) await repairJsonlTail(`${dir}/${f}`);
  }
  const run = await createRun({
    task: `train-${task}`,
    config: opts as unknown as Record<string, unknown>,
    seed: opts.seed,
    runsDir: options.runs_dir as string,
    dir,
    gpu: opts.engine !== "cpu",
  });
  return { run, opts, resumed: !!dir };
}

/** Runs `deno task train sft|dpo|reward` (a run folder, resume, the post-training loop). */
async function runPosttrain(kind: PosttrainKind, args: string[]) {
  const parsed = await parseOrHelp(postSpecs[kind] as unknown as CommandSpec, args);
  if (!parsed) return;
  const { run, opts, resumed } = await openPosttrainRun<PosttrainOptions>(
    parsed.options as Record<string, unknown>,
    kind,
  );
  const pusher = await checkpointPusher(opts, run);
  const summary = await posttrain(kind, opts, run, {
    quiet: parsed.quiet,
    resume: resumed,
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

/** Runs `deno task train online-dpo` (a run folder; `--resume` continues between or within rounds). */
async function runOnlineDpo(args: string[]) {
  const parsed = await parseOrHelp(onlineDpoSpec as unknown as CommandSpec, args);
  if (!parsed) return;
  const { run, opts } = await openPosttrainRun<OnlineDpoOptions>(
    parsed.options as Record<string, unknown>,
    "online-dpo",
  );
  const r = await onlineDpo(opts, run, { quiet: parsed.quiet });
  await run.finish(r as unknown as Record<string, unknown>);
  for (const m of r.rounds) {
    console.log(
      `round ${m.round}: mean reward ${m.mean_reward.toFixed(3)} ± ${
        m.mean_reward_se.toFixed(3)
      }, length ${m.mean_length.toFixed(1)}, KL ${m.kl.toFixed(3)}, pair margin ${
        m.pair_margin.toFixed(3)
      }`,
    );
  }
  console.log(`run folder: ${run.dir}`);
}

if (import.meta.main) {
  await runMain(async () => {
    const sub = Deno.args[0];
    if (sub === "tokenize") {
      const parsed = await parseOrHelp(tokenizeSpec, Deno.args.slice(1));
      if (!parsed) return;
      return await runTokenize(parsed.options, parsed.positionals, parsed.quiet);
    }
    if (sub === "sft" || sub === "dpo" || sub === "reward") {
      return await runPosttrain(sub, Deno.args.slice(1));
    }
    if (sub === "online-dpo") return await runOnlineDpo(Deno.args.slice(1));
    if (sub === "export") {
      const parsed = await parseOrHelp(exportSpec, Deno.args.slice(1));
      if (!parsed) return;
      const o = parsed.options;
      const modelFrom = o.init_from || o.model_config;
      if (!modelFrom) {
        throw new UserError(
          "train export: give --init-from MODEL_DIR or --model-config config.json",
        );
      }
      const tokenizer = o.tokenizer || o.init_from;
      if (!tokenizer) throw new UserError("train export: give --tokenizer tokenizer.json");
      const r = await exportMegatron({
        out: o.output.replace(/\/$/, ""),
        sources: await loadSources(o.data, o.mix),
        model: await readLlamaConfig(modelFrom),
        opts: o as unknown as TrainOptions,
        gpus: o.gpus,
        nodes: o.nodes,
        tokenizer,
      });
      for (const d of r.datasets) {
        console.log(
          `${d.prefix}.{bin,idx}: ${d.documents} documents, ${d.tokens} tokens (${d.dtype})`,
        );
      }
      console.log(`recipe: ${r.recipe}\nlaunch: ${r.script}`);
      return;
    }
    // model compression: depth up-scaling, pruning (lib/compress)
    if (sub === "upscale" || sub === "prune") {
      const spec = sub === "upscale" ? UPSCALE_SPEC : PRUNE_SPEC;
      const parsed = await parseOrHelp(spec as CommandSpec, Deno.args.slice(1));
      if (!parsed) return;
      const o = parsed.options as never;
      console.log(sub === "upscale" ? await runUpscale(o) : await runPrune(o));
      return;
    }
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
      if (o.best_of > 0 || o.reward_model) {
        if (!o.reward_model) {
          throw new UserError("--best-of: give --reward-model DIR to score with");
        }
        if (o.best_of < 1) {
          throw new UserError("--reward-model: give --best-of N (answers per prompt)");
        }
        const n = await writeBestOfN({
          model: o.model,
          rewardModel: o.reward_model,
          prompts: o.prompts,
          output: o.output,
          n: o.best_of,
          temperature: o.temperature,
          topP: o.top_p,
          maxNewTokens: o.max_new_tokens,
          seed: o.seed,
          seqLen: o.seq_len,
          device: o.device,
        });
        console.log(`${o.output}: ${n} prompts, best of ${o.best_of} each (all rewards in meta)`);
        return;
      }
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
    const distill = sub === "distill";
    const parsed = await parseOrHelp(
      distill ? distillSpec : trainSpec,
      Deno.args.slice(distill ? 1 : 0),
    );
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
      task: distill ? "train-distill" : "train",
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
