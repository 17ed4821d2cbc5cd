/**
 * A Llama's parameters by Hugging Face name: their shapes for a config, Hugging Face's
 * initialisation, and the seeded PRNG the model code uses (initialisation, sampling, data order).
 *
 * @module
 */

import { isSequenceClassifier, type LlamaConfig } from "./config.ts";

/** Parameters (or gradients) by Hugging Face name, f32. */
export type Params = Map<string, Float32Array>;

/**
 * Every parameter's name and shape, in Hugging Face order. `valueHead` adds
 * `LlamaForSequenceClassification`'s `score.weight` (num_labels, C) (a reward model's scalar
 * head); a `LlamaForSequenceClassification` config has it and no `lm_head.weight`.
 *
 * @example
 * ```ts
 * import { parseLlamaConfig } from "./config.ts";
 * import { paramShapes } from "./params.ts";
 * const cfg = parseLlamaConfig({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2,
 *   num_hidden_layers: 1, vocab_size: 10, tie_word_embeddings: true });
 * if (paramShapes(cfg).length !== 1 + 9 + 1) throw new Error("embedding, one layer, final norm");
 * ```
 */
export function paramShapes(cfg: LlamaConfig, valueHead = false): [string, number[]][] {
  const classifier = isSequenceClassifier(cfg);
  const C = cfg.hidden_size, F = cfg.intermediate_size, HS = cfg.head_dim;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, V = cfg.vocab_size;
  const out: [string, number[]][] = [["model.embed_tokens.weight", [V, C]]];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [p + "input_layernorm.weight", [C]],
      [p + "self_attn.q_proj.weight", [NH * HS, C]],
      [p + "self_attn.k_proj.weight", [NKV * HS, C]],
      [p + "self_attn.v_proj.weight", [NKV * HS, C]],
      [p + "self_attn.o_proj.weight", [C, NH * HS]],
      [p + "post_attention_layernorm.weight", [C]],
      [p + "mlp.gate_proj.weight", [F, C]],
      [p + "mlp.up_proj.weight", [F, C]],
      [p + "mlp.down_proj.weight", [C, F]],
    );
  }
  out.push(["model.norm.weight", [C]]);
  if (!cfg.tie_word_embeddings && !classifier) out.push(["lm_head.weight", [V, C]]);
  if (valueHead || classifier) out.push(["score.weight", [cfg.num_labels ?? 1, C]]);
  return out;
}

/** A small seeded PRNG (xoshiro128**), with normal samples; its state can be saved and restored. */
export class Rng {
  s: Uint32Array;
  constructor(seed: number | number[]) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) this.s.set(seed);
    else {
      // splitmix32 to spread the seed
      let z = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        z = (z + 0x9e3779b9) >>> 0;
        let t = z;
        t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
        t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
        this.s[i] = (t ^ (t >>> 16)) >>> 0;
      }
    }
  }
  /** The state, for checkpoints. */
  state(): number[] {
    return [...this.s];
  }
  /** A uniform u32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return r;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** Initialises parameters as Hugging Face does: N(0, std) for matrices, ones for norms. */
export function initParams(cfg: LlamaConfig, seed: number, std = 0.02): Params {
  const rng = new Rng(seed);
  const params: Params = new Map();
  for (const [name, shape] of paramShapes(cfg)) {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (shape.length === 1) a.fill(1);
    else for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    params.set(name, a);
  }
  return params;
}
