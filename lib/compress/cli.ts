/**
 * `deno task train upscale` and `deno task train prune`: their options and runs (model folder in,
 * model folder out, tokenizer files carried through).
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { readDocs } from "../io/jsonl.ts";
import type { CommandSpec } from "../cli/options.ts";
import { parameterCount } from "../model/config.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import { createLlama } from "../model/backend.ts";
import type { Batch } from "../model/llama.ts";
import { readShard } from "../train/shards.ts";
import { loadTokenizer } from "../train/tokenizer.ts";
import { dusLayerMap, parseLayerMap, remapLayers } from "./upscale.ts";
import { computeImportance } from "./importance.ts";
import { applyPrune, planPrune, resolveTargets } from "./prune.ts";

const MODEL = {
  type: "string",
  required: true,
  description: "model folder (config.json, model.safetensors, tokenizer files)",
} as const;
const OUTPUT = {
  type: "string",
  required: true,
  description: "folder to write the new model",
} as const;
const DEVICE = {
  type: "string",
  default: "auto",
  choices: ["auto", "gpu", "cpu"],
  description: "gpu = WebGPU; cpu = TypeScript reference; auto = gpu when an adapter exists",
} as const;

/** `train upscale`. */
export const UPSCALE_SPEC = {
  name: "train upscale",
  summary: "depth up-scaling (SOLAR): two copies of the layers, m dropped at the seam",
  options: {
    model: MODEL,
    output: OUTPUT,
    drop: {
      type: "integer",
      min: 0,
      description: "SOLAR's m: last m layers of copy 1 and first m of copy 2 dropped",
    },
    layer_map: {
      type: "string",
      default: "",
      description: "explicit map of old layers, e.g. 0-23,8-31",
    },
  },
} as const satisfies CommandSpec;

/** `train prune`. */
export const PRUNE_SPEC = {
  name: "train prune",
  summary: "Minitron pruning by activation importance (GQA-aligned heads), to a target shape",
  options: {
    model: MODEL,
    output: OUTPUT,
    calibration: {
      type: "string",
      required: true,
      description: "calibration data: token shards (.tok) or JSONL documents, comma-separated",
    },
    samples: { type: "integer", default: 256, min: 1, description: "calibration sequences" },
    seq_len: {
      type: "integer",
      default: 64,
      min: 2,
      description: "tokens per calibration sequence",
    },
    batch_size: { type: "integer", default: 8, min: 1, description: "sequences per forward" },
    hidden: { type: "integer", description: "target hidden_size (embedding channels)" },
    ffn: { type: "integer", description: "target intermediate_size (SwiGLU neurons)" },
    heads: { type: "integer", description: "target num_attention_heads" },
    kv_heads: { type: "integer", description: "target num_key_value_heads (must divide --heads)" },
    layers: { type: "integer", description: "target num_hidden_layers" },
    layer_metric: {
      type: "string",
      default: "cosine",
      choices: ["cosine", "loss"],
      description: "layer importance: 1 − cos(block in, out), or the loss increase when skipped",
    },
    device: DEVICE,
  },
} as const satisfies CommandSpec;

/** Runs `train upscale`; returns the line to print. */
export async function runUpscale(
  o: { model: string; output: string; drop?: number; layer_map: string },
) {
  const { cfg, params } = await loadModel(o.model);
  const L = cfg.num_hidden_layers;
  if ((o.drop === undefined) === !o.layer_map) {
    throw new UserError("train upscale: give exactly one of --drop M or --layer-map A-B,C-D");
  }
  const map = o.layer_map ? parseLayerMap(o.layer_map, L) : dusLayerMap(L, o.drop!);
  const r = remapLayers(cfg, params, map);
  await saveModel(o.output, r.cfg, r.params, { tokenizerDir: o.model });
  await writeJsonAtomic(join(o.output, "upscale.json"), { source: o.model, layer_map: map });
  return `${o.output}: ${L} → ${map.length} layers (map ${o.layer_map || `drop ${o.drop}`}), ${
    parameterCount(cfg)
  } → ${parameterCount(r.cfg)} parameters`;
}

/**
 * Calibration rows of `T` tokens — consecutive windows of each file's packed stream, `n` rows in
 * all, shared evenly between comma-separated files — `B` rows per batch.
 */
export async function calibrationBatches(
  paths: string,
  modelDir: string,
  n: number,
  T: number,
  B: number,
  vocab: number,
): Promise<Batch[]> {
  const files = paths.split(",").filter(Boolean);
  const rows: Int32Array[] = [];
  for (const [f, path] of files.entries()) {
    const want = Math.floor(n / files.length) + (f < n % files.length ? 1 : 0);
    let stream: ArrayLike<number>;
    if (path.endsWith(".tok")) stream = (await readShard(path)).tokens;
    else {
      const tok = await loadTokenizer(modelDir);
      const ids: number[] = [];
      for await (const d of readDocs(path)) {
        ids.push(...tok.encode(d.text));
        if (tok.eosId !== null) ids.push(tok.eosId);
        if (ids.length >= want * T) break;
      }
      stream = ids;
    }
    const got = Math.min(want, Math.floor(stream.length / T));
    if (got < 1) {
      throw new UserError(
        `--calibration ${path}: ${stream.length} tokens, fewer than --seq-len ${T}`,
      );
    }
    for (let r = 0; r < got; r++) {
      const row = Int32Array.from({ length: T }, (_, t) => stream[r * T + t]);
      const bad = row.find((id) => id >= vocab);
      if (bad !== undefined) {
        throw new UserError(
          `--calibration ${path}: token id ${bad} outside the model's vocabulary ${vocab}`,
        );
      }
      rows.push(row);
    }
  }
  const out: Batch[] = [];
  for (let r0 = 0; r0 < rows.length; r0 += B) {
    const part = rows.slice(r0, r0 + B), tokens = new Int32Array(part.length * T);
    part.forEach((row, i) => tokens.set(row, i * T));
    out.push({ B: part.length, T, tokens });
  }
  return out;
}

/** Runs `train prune`; returns the line to print. */
export async function runPrune(o: {
  model: string;
  output: string;
  calibration: string;
  samples: number;
  seq_len: number;
  batch_size: number;
  hidden?: number;
  ffn?: number;
  heads?: number;
  kv_heads?: number;
  layers?: number;
  layer_metric: string;
  device: string;
}) {
  const { cfg, params } = await loadModel(o.model);
  const targets = {
    hidden: o.hidden,
    ffn: o.ffn,
    heads: o.heads,
    kvHeads: o.kv_heads,
    layers: o.layers,
  };
  resolveTargets(cfg, targets); // refuse a bad target before any work
  if (o.seq_len > cfg.max_position_embeddings) {
    throw new UserError(
      `--seq-len ${o.seq_len}: above max_position_embeddings ${cfg.max_position_embeddings}`,
    );
  }
  const batches = await calibrationBatches(
    o.calibration,
    o.model,
    o.samples,
    o.seq_len,
    o.batch_size,
    cfg.vocab_size,
  );
  const model = await createLlama(cfg, params, { device: o.device });
  const imp = await computeImportance(model, batches, {
    layerMetric: o.layer_metric as "cosine" | "loss",
    params,
    device: o.device,
  });
  model.destroy();
  const plan = planPrune(cfg, imp, targets);
  const r = applyPrune(cfg, params, plan);
  await saveModel(o.output, r.cfg, r.params, { tokenizerDir: o.model });
  await writeJsonAtomic(join(o.output, "importance.json"), {
    source: o.model,
    calibration: o.calibration,
    aggregation: "batch L2, then sequence mean",
    ...imp,
    kept: plan,
  });
  return `${o.output}: ${parameterCount(cfg)} → ${parameterCount(r.cfg)} parameters ` +
    `(hidden ${r.cfg.hidden_size}, ffn ${r.cfg.intermediate_size}, heads ${r.cfg.num_attention_heads}/${r.cfg.num_key_value_heads}, layers ${r.cfg.num_hidden_layers}); importance in ${
      join(o.output, "importance.json")
    }`;
}
