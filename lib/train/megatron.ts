/**
 * `deno task train export --format megatron`: token shards and their mixture as Megatron-LM's
 * indexed dataset (the `.bin` + `.idx` pair that Megatron-LM, NeMo and GPT-NeoX read), plus a
 * launch recipe for Megatron-LM's `pretrain_gpt.py` carrying Jikji's training settings.
 *
 * `.bin`: every sequence's token ids back to back, in the index's dtype (uint16 when the model's
 * vocabulary has fewer than 65,500 ids, else int32 — Megatron's own choice). One sequence per document, the
 * eos id Jikji appended kept at its end.
 *
 * `.idx` (all little-endian), as Megatron-LM's `indexed_dataset.py` writes and reads it:
 *
 *   offset  size        field
 *   0       9           magic "MMIDIDX\0\0"
 *   9       8           u64 version (1)
 *   17      1           u8 dtype code (4 = int32, 8 = uint16)
 *   18      8           u64 S, the number of sequences
 *   26      8           u64 D, the number of document indices (documents + 1)
 *   34      4·S         i32 sequence lengths (tokens)
 *   …       8·S         i64 sequence byte offsets into .bin
 *   …       8·D         i64 document indices: 0, then the sequence count after each document
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { AtomicFile, writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { configJsonText } from "../model/config.ts";
import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import type { TokenShard } from "./shards.ts";
import type { Source } from "./data.ts";
import type { TrainOptions } from "./trainer.ts";

const MAGIC = new Uint8Array([0x4d, 0x4d, 0x49, 0x44, 0x49, 0x44, 0x58, 0x00, 0x00]); // MMIDIDX\0\0

/** Megatron's dtype codes (its `DType` enum) of the two dtypes used for token ids. */
export const DTYPE_CODES = { int32: 4, uint16: 8 } as const;

/** Megatron's choice of dtype for a vocabulary of `vocabSize` ids. */
export function tokenDtype(vocabSize: number): "uint16" | "int32" {
  return vocabSize < 65500 ? "uint16" : "int32";
}

/** What one exported dataset holds. */
export interface ExportedDataset {
  /** The path prefix Megatron's `--data-path` takes (without `.bin` / `.idx`). */
  prefix: string;
  source: string;
  shard: string;
  documents: number;
  tokens: number;
  dtype: "uint16" | "int32";
}

/**
 * Writes `shard` as `prefix.bin` + `prefix.idx` (each appears only when complete), ids in the dtype
 * of a `vocabSize`-id vocabulary (the model's).
 */
export async function writeIndexedDataset(
  shard: TokenShard,
  prefix: string,
  vocabSize: number,
): Promise<Omit<ExportedDataset, "source">> {
  const dtype = tokenDtype(vocabSize);
  const nDocs = shard.docStarts.length - 1;
  const size = dtype === "uint16" ? 2 : 4;
  const bin = await AtomicFile.open(`${prefix}.bin`);
  try {
    const chunk = 1 << 20;
    for (let i = 0; i < shard.tokens.length; i += chunk) {
      const ids = shard.tokens.subarray(i, Math.min(shard.tokens.length, i + chunk));
      const out = dtype === "uint16" ? Uint16Array.from(ids) : Int32Array.from(ids);
      await bin.write(new Uint8Array(out.buffer));
    }
    await bin.commit();
  } catch (err) {
    await bin.abort();
    throw err;
  }
  const S = nDocs, D = nDocs + 1;
  const idx = new Uint8Array(34 + 4 * S + 8 * S + 8 * D);
  const dv = new DataView(idx.buffer);
  idx.set(MAGIC, 0);
  dv.setBigUint64(9, 1n, true);
  dv.setUint8(17, DTYPE_CODES[dtype]);
  dv.setBigUint64(18, BigInt(S), true);
  dv.setBigUint64(26, BigInt(D), true);
  let o = 34;
  for (let s = 0; s < S; s++, o += 4) {
    dv.setInt32(o, shard.docStarts[s + 1] - shard.docStarts[s], true);
  }
  for (let s = 0; s < S; s++, o += 8) {
    dv.setBigInt64(o, BigInt(shard.docStarts[s] * size), true);
  }
  for (let d = 0; d < D; d++, o += 8) dv.setBigInt64(o, BigInt(d), true);
  await writeFileAtomic(`${prefix}.idx`, idx);
  return { prefix, shard: shard.path, documents: nDocs, tokens: shard.tokens.length, dtype };
}

/** Where the recipe's model comes from and what it launches on. */
export interface ExportPlan {
  out: string;
  sources: Source[];
  model: LlamaConfig;
  opts: TrainOptions;
  /** GPUs per node and nodes of the launch. */
  gpus: number;
  nodes: number;
  /** The tokenizer folder or file Megatron's HuggingFaceTokenizer loads. */
  tokenizer: string;
}

/** The blend of `--data-path`: each dataset weighted by its source's weight × its token share. */
export function blendWeights(datasets: ExportedDataset[], sources: Source[]): number[] {
  const total = new Map<string, number>();
  for (const d of datasets) total.set(d.source, (total.get(d.source) ?? 0) + d.tokens);
  const sum = sources.reduce((a, s) => a + s.weight, 0);
  return datasets.map((d) => {
    const w = sources.find((s) => s.name === d.source)!.weight / sum;
    return w * d.tokens / total.get(d.source)!;
  });
}

/** Exports every shard of the plan and writes `recipe.json` and `pretrain_megatron.sh`. */
export async function exportMegatron(plan: ExportPlan): Promise<{
  datasets: ExportedDataset[];
  recipe: string;
  script: string;
}> {
  const { sources, model } = plan;
  // the recipe runs from a Megatron-LM checkout: every path in it is absolute
  const out = resolve(plan.out);
  plan = {
    ...plan,
    out,
    tokenizer: resolve(plan.tokenizer),
    opts: { ...plan.opts, init_from: plan.opts.init_from && resolve(plan.opts.init_from) },
  };
  if (sources.length === 0) throw new UserError("train export: give --data NAME=FILE.tok");
  await Deno.mkdir(`${out}/data`, { recursive: true });
  const datasets: ExportedDataset[] = [];
  for (const src of sources) {
    for (const [k, shard] of src.shards.entries()) {
      if (shard.vocabSize > model.vocab_size) {
        throw new UserError(
          `${shard.path}: ids up to ${
            shard.vocabSize - 1
          }, but the model's vocab_size is ${model.vocab_size}; tokenize with the model's tokenizer`,
        );
      }
      const prefix = `${out}/data/${src.name}-${String(k).padStart(3, "0")}_text_document`;
      datasets.push({
        source: src.name,
        ...(await writeIndexedDataset(shard, prefix, model.vocab_size)),
      });
    }
  }
  const weights = blendWeights(datasets, sources);
  const recipe = {
    format: "megatron-indexed-dataset (MMIDIDX v1)",
    data_path: datasets.flatMap((d, i) => [Number(weights[i].toPrecision(8)), d.prefix]),
    datasets,
    mixture: Object.fromEntries(sources.map((s) => [s.name, s.weight])),
    model,
    training: _trainingArgs(plan),
  };
  // the model's config, which Megatron-Bridge's export reads when there is no start model
  await Deno.mkdir(`${out}/hf-reference`, { recursive: true });
  await writeFileAtomic(`${out}/hf-reference/config.json`, configJsonText(model));
  const recipePath = `${out}/recipe.json`;
  await writeJsonAtomic(recipePath, recipe);
  const scriptPath = `${out}/pretrain_megatron.sh`;
  await writeFileAtomic(scriptPath, megatronScript(plan, recipe.data_path));
  await Deno.chmod(scriptPath, 0o755);
  return { datasets, recipe: recipePath, script: scriptPath };
}

/** Jikji's settings as Megatron-LM's training flags (name → value; true = a bare flag). */
function _trainingArgs(plan: ExportPlan): Record<string, string | number | boolean> {
  const { opts, model } = plan;
  const globalBatch = opts.batch_size * opts.grad_accum;
  const args: Record<string, string | number | boolean> = {
    "train-iters": opts.steps,
    "global-batch-size": globalBatch,
    "micro-batch-size": 1,
    "seq-length": opts.seq_len,
    lr: opts.lr,
    "min-lr": opts.lr * opts.min_lr_ratio,
    "lr-decay-style": "cosine",
    "lr-warmup-iters": opts.warmup_steps,
    "lr-decay-iters": opts.steps,
    "adam-beta1": opts.beta1,
    "adam-beta2": opts.beta2,
    "adam-eps": opts.eps,
    "weight-decay": opts.weight_decay,
    "clip-grad": opts.clip,
    seed: opts.seed,
    split: `${Math.round((1 - opts.val_fraction) * 1000)},${
      Math.round(opts.val_fraction * 1000)
    },0`,
    // ZeRO-1: optimizer state sharded across data-parallel ranks
    "use-distributed-optimizer": true,
    "transformer-impl": "transformer_engine",
    bf16: opts.precision !== "fp32",
    "num-layers": model.num_hidden_layers,
    "hidden-size": model.hidden_size,
    "ffn-hidden-size": model.intermediate_size,
    "num-attention-heads": model.num_attention_heads,
    "group-query-attention": true,
    "num-query-groups": model.num_key_value_heads,
    "kv-channels": model.head_dim,
    "max-position-embeddings": model.max_position_embeddings,
    "position-embedding-type": "rope",
    "rotary-base": model.rope_theta,
    normalization: "RMSNorm",
    "norm-epsilon": model.rms_norm_eps,
    swiglu: true,
    "disable-bias-linear": true,
    "attention-dropout": 0,
    "hidden-dropout": 0,
    "untie-embeddings-and-output-weights": !model.tie_word_embeddings,
    "vocab-size": model.vocab_size,
    "make-vocab-size-divisible-by": 1,
    "tokenizer-type": "HuggingFaceTokenizer",
    // a folder holding tokenizer.json, as transformers' AutoTokenizer loads it
    "tokenizer-model": plan.tokenizer.endsWith(".json") ? dirname(plan.tokenizer) : plan.tokenizer,
  };
  if (model.rope_scaling) {
    args["use-rope-scaling"] = true;
    args["rope-scaling-factor"] = model.rope_scaling.factor;
  }
  if (opts.precision === "fp8") {
    // Transformer Engine's HYBRID recipe with Jikji's delayed scaling (E4M3 forward, E5M2 grads)
    args["fp8-format"] = "hybrid";
    args["fp8-amax-history-len"] = opts.amax_history;
    args["fp8-amax-compute-algo"] = "max";
    args["fp8-margin"] = opts.fp8_margin;
  }
  return args;
}

const _q = (s: string) => /^[A-Za-z0-9_./=:,+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;

/** The launch script: convert the start model, train with torchrun, convert back to HF. */
export function megatronScript(plan: ExportPlan, dataPath: (string | number)[]): string {
  const flags = Object.entries(_trainingArgs(plan))
    .filter(([, v]) => v !== false)
    .map(([k, v]) => (v === true ? `  --${k}` : `  --${k} ${_q(String(v))}`));
  const init = plan.opts.init_from;
  const dp = plan.gpus * plan.nodes;
  const gb = plan.opts.batch_size * plan.opts.grad_accum;
  return [
    "#!/usr/bin/env bash",
    "# Written by `deno task train export --format megatron`: continual pretraining with Megatron-LM",
    "# on the exported indexed datasets, with Jikji's settings (recipe.json holds the same values).",
    "# Run from a Megatron-LM checkout (pretrain_gpt.py) with Megatron-Bridge installed, on every node",
    "# (under srun the node rank is SLURM_NODEID; set MASTER_ADDR to the first node). Data parallel",
    "# over GPUS x NODES (ZeRO-1: the distributed optimizer); raise",
    "# --tensor-model-parallel-size for models that do not fit one GPU.",
    "set -euo pipefail",
    `OUT=\${OUT:-${_q(plan.out)}}`,
    `GPUS=\${GPUS:-${plan.gpus}}`,
    `NODES=\${NODES:-${plan.nodes}}`,
    ...(gb % dp !== 0
      ? [
        `# note: --global-batch-size ${gb} is not a multiple of ${dp} GPUs; Megatron-LM will refuse it`,
      ]
      : []),
    "",
    ...(init
      ? [
        "# 1. the start model, Hugging Face → Megatron",
        `if [ ! -d "$OUT/megatron-init" ]; then`,
        `  python examples/conversion/convert_checkpoints.py import --hf-model ${_q(init)} \\`,
        `    --megatron-path "$OUT/megatron-init" --torch-dtype bfloat16`,
        "fi",
        "",
      ]
      : []),
    "# 2. train",
    "torchrun --nproc_per_node $GPUS --nnodes $NODES --node_rank ${NODE_RANK:-${SLURM_NODEID:-0}} \\",
    "  --master_addr ${MASTER_ADDR:-localhost} --master_port ${MASTER_PORT:-29500} \\",
    "  pretrain_gpt.py \\",
    `  --data-path ${dataPath.map((x) => _q(String(x))).join(" ")} \\`,
    ...flags.map((f) => `${f} \\`),
    ...(init ? [`  --load "$OUT/megatron-init" --finetune --no-load-optim --no-load-rng \\`] : []),
    `  --save "$OUT/megatron-ckpt" --save-interval ${plan.opts.ckpt_every || plan.opts.steps} \\`,
    `  --eval-interval ${
      plan.opts.eval_every || plan.opts.steps
    } --eval-iters ${plan.opts.eval_batches} \\`,
    "  --log-interval 1",
    "",
    "# 3. back to a Hugging Face folder, which Jikji evaluates, prunes and pushes:",
    '#    deno task eval run eval/bench --backend jikji --model "$OUT/hf"',
    '#    deno task hub push "$OUT/hf" --repo OWNER/NAME',
    `python examples/conversion/convert_checkpoints.py export --hf-model ${
      init ? _q(init) : '"$OUT/hf-reference"'
    } \\`,
    `  --megatron-path "$OUT/megatron-ckpt" --hf-path "$OUT/hf"`,
    `cp ${
      _q(plan.tokenizer.endsWith(".json") ? plan.tokenizer : `${plan.tokenizer}/tokenizer.json`)
    } "$OUT/hf/tokenizer.json"`,
    "",
  ].join("\n");
}
