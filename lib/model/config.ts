/**
 * The Llama model config: the fields of a Hugging Face `LlamaForCausalLM` `config.json`, read and
 * validated strictly (a wrong or missing field is one line naming the file and the field), with
 * the Hugging Face defaults for fields a config may leave out, and RoPE inverse frequencies
 * including Llama 3.1's `rope_scaling` (`rope_type: llama3`).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** Llama 3.1 RoPE scaling. */
export interface RopeScaling {
  rope_type: "llama3";
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/**
 * A validated Llama config (names as in Hugging Face): `LlamaForCausalLM`, or
 * `LlamaForSequenceClassification` (a reward model: `num_labels` scores read by `score.weight` at
 * the last token that is not `pad_token_id`, and no LM head).
 */
export interface LlamaConfig {
  architectures: string[];
  model_type: "llama";
  hidden_size: number; // C
  intermediate_size: number; // F (SwiGLU width)
  num_attention_heads: number; // NH
  num_key_value_heads: number; // NKV (grouped-query attention; NH % NKV == 0)
  num_hidden_layers: number; // L
  vocab_size: number; // V
  head_dim: number; // HS
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  max_position_embeddings: number;
  hidden_act: "silu";
  attention_bias: false;
  mlp_bias: false;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  torch_dtype: string;
  /** Set where a value head reads the last token before padding (reward models). */
  pad_token_id?: number;
  /** `LlamaForSequenceClassification` only: the number of scores (1 for a reward model). */
  num_labels?: number;
}

/** The architecture name of a reward model's folder. */
export const SEQUENCE_CLASSIFIER = "LlamaForSequenceClassification";

/** True for a `LlamaForSequenceClassification` config (a value head, no LM head). */
export function isSequenceClassifier(cfg: LlamaConfig): boolean {
  return cfg.architectures[0] === SEQUENCE_CLASSIFIER;
}

const KNOWN = new Set([
  "architectures",
  "model_type",
  "hidden_size",
  "intermediate_size",
  "num_attention_heads",
  "num_key_value_heads",
  "num_hidden_layers",
  "vocab_size",
  "head_dim",
  "rms_norm_eps",
  "rope_theta",
  "rope_scaling",
  "rope_parameters",
  "tie_word_embeddings",
  "max_position_embeddings",
  "hidden_act",
  "attention_bias",
  "attention_dropout",
  "mlp_bias",
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
  "torch_dtype",
  "dtype",
  "transformers_version",
  "initializer_range",
  "pretraining_tp",
  "use_cache",
  "_name_or_path",
  "num_labels",
  "id2label",
  "label2id",
  "problem_type",
]);

/**
 * The largest value of each dimension accepted: well above the largest Llama (405B: hidden 16384,
 * FFN 53248, 126 layers, 128 heads, a 128256-token vocabulary, 131072 positions), well below what
 * would ask for terabytes.
 */
const MAX_DIMS: Record<string, number> = {
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_attention_heads: 1 << 10,
  num_key_value_heads: 1 << 10,
  num_hidden_layers: 1 << 10,
  vocab_size: 1 << 22,
  head_dim: 1 << 12,
  max_position_embeddings: 1 << 22,
};

/** The `torch_dtype` names a Llama checkpoint may declare. */
const TORCH_DTYPES = ["float32", "float16", "bfloat16", "float64", "float8_e4m3fn", "float8_e5m2"];

function _show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? "a list nested too deep to show" : String(v);
  }
  return s.length > 60 ? s.slice(0, 57) + "…" : s;
}

/**
 * transformers 5 writes RoPE as `rope_parameters: { rope_type, rope_theta, …scaling fields }` in
 * place of `rope_theta` + `rope_scaling`: returns the config in the older form (a copy), refusing
 * a `rope_theta` that disagrees between the two places.
 */
function _ropeParameters(
  o: Record<string, unknown>,
  bad: (field: string, why: string) => never,
): Record<string, unknown> {
  const rp = o.rope_parameters;
  if (rp === undefined || rp === null) return o;
  if (typeof rp !== "object" || Array.isArray(rp)) bad("rope_parameters", "expected an object");
  const { rope_theta, ...scaling } = rp as Record<string, unknown>;
  const out: Record<string, unknown> = { ...o };
  delete out.rope_parameters;
  if (rope_theta !== undefined) {
    if (o.rope_theta !== undefined && o.rope_theta !== null && o.rope_theta !== rope_theta) {
      bad("rope_parameters.rope_theta", `${_show(rope_theta)} disagrees with rope_theta`);
    }
    out.rope_theta = rope_theta;
  }
  const type = scaling.rope_type ?? scaling.type ?? "default";
  if (type !== "default") out.rope_scaling = scaling;
  else if (Object.keys(scaling).some((k) => k !== "rope_type" && k !== "type")) {
    bad("rope_parameters", `rope_type "default" takes only rope_theta, got ${_show(rp)}`);
  }
  return out;
}

/**
 * Validates a parsed `config.json` object; `source` names the file in errors. Fields Hugging Face
 * would default are filled in; fields Jikji cannot honour (biases, another activation) are refused.
 *
 * @example
 * ```ts
 * import { parseLlamaConfig } from "./config.ts";
 * const cfg = parseLlamaConfig({ hidden_size: 64, intermediate_size: 128, num_attention_heads: 4,
 *   num_hidden_layers: 2, vocab_size: 300 }, "config.json");
 * console.log(cfg.head_dim, cfg.num_key_value_heads); // 16 4
 * ```
 */
export function parseLlamaConfig(raw: unknown, source = "config.json"): LlamaConfig {
  const bad = (field: string, why: string): never => {
    throw new UserError(`${source}: ${field}: ${why}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    bad("(top level)", "expected a JSON object");
  }
  const o = _ropeParameters(raw as Record<string, unknown>, bad);
  const int = (k: string, def?: number, min = 1): number => {
    const v = o[k] ?? def;
    if (v === undefined) bad(k, "missing (required for LlamaForCausalLM)");
    const max = MAX_DIMS[k] ?? 2 ** 31 - 1;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      bad(k, `expected an integer in ${min}…${max}, got ${_show(v)}`);
    }
    return v as number;
  };
  const num = (k: string, def: number, lo = 0, hi = Infinity): number => {
    const v = o[k] ?? def;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= lo || v > hi) {
      bad(
        k,
        `expected a number above ${lo}${hi < Infinity ? ` and at most ${hi}` : ""}, got ${
          _show(v)
        }`,
      );
    }
    return v as number;
  };
  const bool = (k: string, def: boolean): boolean => {
    const v = o[k] ?? def;
    if (typeof v !== "boolean") bad(k, `expected true or false, got ${_show(v)}`);
    return v as boolean;
  };
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      bad(k, "unknown field for a Llama config (remove it, or check the spelling)");
    }
  }
  // fields Jikji does not use are still checked for their type: a wrong one is a broken file
  if (o.use_cache !== undefined) bool("use_cache", true);
  if (o.attention_dropout !== undefined && o.attention_dropout !== 0) {
    bad(
      "attention_dropout",
      `only 0 is supported (Jikji trains without dropout), got ${_show(o.attention_dropout)}`,
    );
  }
  if (o.initializer_range !== undefined) num("initializer_range", 0.02, 0, 1);
  for (const k of ["transformers_version", "_name_or_path"]) {
    if (o[k] !== undefined && typeof o[k] !== "string") {
      bad(k, `expected a string, got ${_show(o[k])}`);
    }
  }
  for (
    const k of [
      "model_type",
      "architectures",
      "hidden_act",
      "pretraining_tp",
      "rms_norm_eps",
      "rope_theta",
      "hidden_size",
      "intermediate_size",
      "num_attention_heads",
      "num_hidden_layers",
      "vocab_size",
      "tie_word_embeddings",
    ]
  ) {
    if (o[k] === null) bad(k, "null; give a value or leave the field out");
  }
  const mt = o.model_type ?? "llama";
  if (mt !== "llama") bad("model_type", `expected "llama", got ${_show(mt)}`);
  const arch = o.architectures ?? ["LlamaForCausalLM"];
  const archName = Array.isArray(arch) && arch.length === 1 ? arch[0] : undefined;
  if (archName !== "LlamaForCausalLM" && archName !== SEQUENCE_CLASSIFIER) {
    bad(
      "architectures",
      `expected ["LlamaForCausalLM"] or ["${SEQUENCE_CLASSIFIER}"], got ${_show(arch)}`,
    );
  }
  let numLabels: number | undefined;
  if (archName === SEQUENCE_CLASSIFIER) {
    const fromMap = o.id2label && typeof o.id2label === "object"
      ? Object.keys(o.id2label as object).length
      : undefined;
    numLabels = int("num_labels", fromMap ?? 1);
    if (fromMap !== undefined && fromMap !== numLabels) {
      bad("num_labels", `${numLabels} disagrees with id2label's ${fromMap} labels`);
    }
  }
  const C = int("hidden_size");
  const NH = int("num_attention_heads");
  const NKV = int("num_key_value_heads", NH);
  if (NH % NKV !== 0) bad("num_key_value_heads", `${NKV} must divide num_attention_heads ${NH}`);
  if (o.head_dim === undefined && C % NH !== 0) {
    bad("hidden_size", `${C} is not divisible by num_attention_heads ${NH}; give head_dim`);
  }
  const HS = int("head_dim", C / NH);
  if (HS % 2 !== 0) bad("head_dim", `${HS} must be even for RoPE`);
  const act = o.hidden_act ?? "silu";
  if (act !== "silu") {
    bad("hidden_act", `only "silu" (SwiGLU) is supported, got ${_show(act)}`);
  }
  for (const k of ["attention_bias", "mlp_bias"]) {
    if (o[k] !== undefined && o[k] !== false) bad(k, "biases are not supported; must be false");
  }
  const tp = o.pretraining_tp ?? 1;
  if (tp !== 1) bad("pretraining_tp", "only 1 is supported");
  let rope: RopeScaling | null = null;
  if (o.rope_scaling !== undefined && o.rope_scaling !== null) {
    const r = o.rope_scaling as Record<string, unknown>;
    if (typeof r !== "object" || Array.isArray(r)) {
      bad("rope_scaling", "expected an object or null");
    }
    const type = r.rope_type ?? r.type;
    if (type !== "llama3") {
      bad("rope_scaling.rope_type", `only "llama3" is supported, got ${_show(type)}`);
    }
    const f = (k: string): number => {
      const v = r[k];
      if (typeof v !== "number" || !(v > 0)) {
        bad(`rope_scaling.${k}`, `expected a positive number, got ${_show(v)}`);
      }
      return v as number;
    };
    rope = {
      rope_type: "llama3",
      factor: f("factor"),
      low_freq_factor: f("low_freq_factor"),
      high_freq_factor: f("high_freq_factor"),
      original_max_position_embeddings: f("original_max_position_embeddings"),
    };
    if (rope.high_freq_factor <= rope.low_freq_factor) {
      bad("rope_scaling.high_freq_factor", "must be greater than low_freq_factor");
    }
  }
  const tokenId = (k: string): number | null => {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      bad(k, `expected a token id, got ${_show(v)}`);
    }
    return v as number;
  };
  let eos: number | number[] | null = null;
  if (Array.isArray(o.eos_token_id)) {
    if (!o.eos_token_id.every((v) => Number.isSafeInteger(v) && v >= 0)) {
      bad("eos_token_id", "expected token ids");
    }
    eos = o.eos_token_id as number[];
  } else eos = tokenId("eos_token_id");
  tokenId("pad_token_id");
  tokenId("bos_token_id");
  const V = int("vocab_size");
  for (const k of ["bos_token_id", "eos_token_id", "pad_token_id"]) {
    // every id is a checked safe integer by now: the comparison never coerces a nested list
    const ids = ([] as unknown[]).concat(o[k] ?? []);
    if (ids.some((id) => typeof id === "number" && id >= V)) bad(k, `a token id ≥ vocab_size ${V}`);
  }
  const dtype = o.torch_dtype ?? o.dtype ?? "float32";
  if (typeof dtype !== "string" || !TORCH_DTYPES.includes(dtype)) {
    bad("torch_dtype", `expected one of ${TORCH_DTYPES.join(", ")}, got ${_show(dtype)}`);
  }
  const pad = tokenId("pad_token_id");
  return {
    architectures: [archName as string],
    model_type: "llama",
    hidden_size: C,
    intermediate_size: int("intermediate_size"),
    num_attention_heads: NH,
    num_key_value_heads: NKV,
    num_hidden_layers: int("num_hidden_layers"),
    vocab_size: int("vocab_size"),
    head_dim: HS,
    rms_norm_eps: num("rms_norm_eps", 1e-6, 0, 1),
    rope_theta: num("rope_theta", 10000, 1, 1e10),
    rope_scaling: rope,
    tie_word_embeddings: bool("tie_word_embeddings", false),
    max_position_embeddings: int("max_position_embeddings", 2048),
    hidden_act: "silu",
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: tokenId("bos_token_id"),
    eos_token_id: eos,
    torch_dtype: dtype as string,
    ...(pad === null ? {} : { pad_token_id: pad }),
    ...(numLabels === undefined ? {} : { num_labels: numLabels }),
  };
}

/** Reads and validates a `config.json` (a file, or a model folder holding one). */
export async function readLlamaConfig(pathOrDir: string): Promise<LlamaConfig> {
  const path = pathOrDir.endsWith(".json") ? pathOrDir : `${pathOrDir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseLlamaConfig(raw, path);
}

/** The `config.json` object to save with a checkpoint (what Hugging Face transformers reads). */
export function configToJson(cfg: LlamaConfig): Record<string, unknown> {
  const labels = cfg.num_labels === undefined ? {} : {
    id2label: Object.fromEntries(
      Array.from({ length: cfg.num_labels }, (_, i) => [i, `LABEL_${i}`]),
    ),
    label2id: Object.fromEntries(
      Array.from({ length: cfg.num_labels }, (_, i) => [`LABEL_${i}`, i]),
    ),
  };
  return {
    ...cfg,
    ...labels,
    attention_dropout: 0,
    initializer_range: 0.02,
    pretraining_tp: 1,
    use_cache: true,
  };
}

/** Fields Hugging Face types as floats (written with a decimal point even when whole). */
const FLOAT_FIELDS = [
  "rms_norm_eps",
  "rope_theta",
  "factor",
  "low_freq_factor",
  "high_freq_factor",
];

/**
 * `config.json` text for a config: {@linkcode configToJson} with float fields written as floats
 * (`8.0`, `500000.0`), as transformers writes them and expects them (it warns on integers).
 *
 * @example
 * ```ts
 * import { configJsonText, parseLlamaConfig } from "./config.ts";
 * const cfg = parseLlamaConfig({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2,
 *   num_hidden_layers: 1, vocab_size: 10, rope_theta: 500000 });
 * if (!configJsonText(cfg).includes('"rope_theta": 500000.0')) throw new Error("float");
 * ```
 */
export function configJsonText(cfg: LlamaConfig, extra: Record<string, unknown> = {}): string {
  const text = JSON.stringify({ ...configToJson(cfg), ...extra }, null, 2);
  const keys = FLOAT_FIELDS.join("|");
  return text.replace(
    new RegExp(`^(\\s*"(?:${keys})": )(-?\\d+)(,?)$`, "gm"),
    (_m, pre: string, num: string, comma: string) => `${pre}${num}.0${comma}`,
  ) + "\n";
}

/** Parameter count of a config (embeddings counted once when tied). */
export function parameterCount(cfg: LlamaConfig): number {
  const C = cfg.hidden_size, HS = cfg.head_dim, F = cfg.intermediate_size;
  const attn = C * cfg.num_attention_heads * HS * 2 + C * cfg.num_key_value_heads * HS * 2;
  const layer = attn + 3 * C * F + 2 * C;
  const emb = cfg.vocab_size * C;
  return cfg.num_hidden_layers * layer + C + emb * (cfg.tie_word_embeddings ? 1 : 2);
}

/**
 * RoPE inverse frequencies, length HS/2: `theta^(-2i/HS)`, rescaled by Llama 3.1's scheme when
 * `rope_scaling` is set (long wavelengths divided by `factor`, short ones kept, the band between
 * interpolated smoothly).
 */
export function ropeInvFreq(cfg: LlamaConfig): Float64Array {
  const HS = cfg.head_dim;
  const out = new Float64Array(HS / 2);
  for (let i = 0; i < HS / 2; i++) out[i] = 1 / Math.pow(cfg.rope_theta, (2 * i) / HS);
  const rs = cfg.rope_scaling;
  if (!rs) return out;
  const lowWave = rs.original_max_position_embeddings / rs.low_freq_factor;
  const highWave = rs.original_max_position_embeddings / rs.high_freq_factor;
  for (let i = 0; i < out.length; i++) {
    const wave = (2 * Math.PI) / out[i];
    if (wave < highWave) continue; // high frequency: unchanged
    if (wave > lowWave) {
      out[i] = out[i] / rs.factor; // low frequency: interpolated by factor
      continue;
    }
    const smooth = (rs.original_max_position_embeddings / wave - rs.low_freq_factor) /
      (rs.high_freq_factor - rs.low_freq_factor);
    out[i] = (1 - smooth) * out[i] / rs.factor + smooth * out[i];
  }
  return out;
}
