/**
 * Hugging Face model folders: `config.json` (LlamaForCausalLM) + `model.safetensors` (or shards
 * with `model.safetensors.index.json`) + tokenizer files carried through unchanged.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { configJsonText, type LlamaConfig, readLlamaConfig } from "./config.ts";
import { type Params, paramShapes } from "./params.ts";
import { type FloatDtype, readModelWeights, tensorToF32, writeSafetensors } from "./safetensors.ts";

/** Tokenizer files copied with a checkpoint when present. */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
];

/** A loaded model: its config and f32 parameters by Hugging Face name. */
export interface LoadedModel {
  cfg: LlamaConfig;
  params: Params;
}

/**
 * Checks that `weights` has exactly the tensors `cfg` needs with the right shapes (a tied model
 * may still carry `lm_head.weight`, which is ignored) and converts them to f32.
 */
export function paramsFromTensors(
  cfg: LlamaConfig,
  tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>,
  source: string,
): Params {
  const params: Params = new Map();
  const want = paramShapes(cfg);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) throw new UserError(`${source}: missing tensor "${name}" that config.json requires`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      const dim = t.shape.length === shape.length
        ? t.shape.findIndex((d, i) => d !== shape[i])
        : -1;
      const field = dim >= 0 ? _shapeFields(name)[dim] : "the tensor's rank";
      throw new UserError(
        `${source}: config.json ${field} does not fit the weights: tensor "${name}" has shape [${t.shape}], the config implies [${shape}]`,
      );
    }
    params.set(name, tensorToF32(t, `${source}: ${name}`));
  }
  const names = new Set(want.map(([n]) => n));
  for (const name of tensors.keys()) {
    if (names.has(name)) continue;
    if (name === "lm_head.weight" && cfg.tie_word_embeddings) continue;
    if (name.endsWith("rotary_emb.inv_freq")) continue; // older checkpoints store it; recomputed
    throw new UserError(`${source}: unexpected tensor "${name}" (not part of this Llama config)`);
  }
  return params;
}

/** The config fields behind each dimension of a parameter's shape (for error messages). */
function _shapeFields(name: string): string[] {
  const C = "hidden_size", F = "intermediate_size", HS = "head_dim";
  if (/embed_tokens|lm_head/.test(name)) return ["vocab_size", C];
  if (/norm\.weight$/.test(name)) return [C];
  if (/q_proj/.test(name)) return [`num_attention_heads × ${HS}`, C];
  if (/[kv]_proj/.test(name)) return [`num_key_value_heads × ${HS}`, C];
  if (/o_proj/.test(name)) return [C, `num_attention_heads × ${HS}`];
  if (/gate_proj|up_proj/.test(name)) return [F, C];
  if (/down_proj/.test(name)) return [C, F];
  if (/score/.test(name)) return ["num_labels", C];
  return ["shape", "shape"];
}

/** Loads a Hugging Face Llama folder (config.json + safetensors weights). */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const cfg = await readLlamaConfig(dir);
  const st = await readModelWeights(dir);
  return { cfg, params: paramsFromTensors(cfg, st.tensors, dir) };
}

/**
 * Saves a model as a Hugging Face folder (config.json, model.safetensors in `dtype`), copying the
 * tokenizer files found in `tokenizerDir`. Files are written atomically.
 */
export async function saveModel(
  dir: string,
  cfg: LlamaConfig,
  params: Params,
  opts: { dtype?: FloatDtype; tokenizerDir?: string } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const dtype = opts.dtype ?? "F32";
  const torchDtype = { F32: "float32", BF16: "bfloat16", F16: "float16" }[dtype];
  await writeSafetensors(
    join(dir, "model.safetensors"),
    paramShapes(cfg).map(([name, shape]) => ({ name, shape, data: params.get(name)!, dtype })),
    { format: "pt" },
  );
  await writeFileAtomic(join(dir, "config.json"), configJsonText(cfg, { torch_dtype: torchDtype }));
  if (opts.tokenizerDir) {
    for (const f of TOKENIZER_FILES) {
      try {
        await Deno.copyFile(join(opts.tokenizerDir, f), join(dir, f));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
}
