/**
 * Structured pruning by importance (lib/compress/importance.ts): width — embedding channels
 * (`--hidden`), SwiGLU neurons (`--ffn`), attention heads (`--heads`, `--kv-heads`) — and depth
 * (`--layers`), each keeping its highest-scoring units in their original order.
 *
 * Heads are pruned GQA-aligned (Kanana): the kept key/value groups are the `kvHeads` with the
 * largest summed query-head scores, and every kept group keeps the same number of query heads
 * (heads / kvHeads, its best ones), so each query head still reads its own group's keys and
 * values.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import type { Params } from "../model/params.ts";
import type { Importance } from "./importance.ts";

/** The target shape; an absent field keeps the model's value. */
export interface PruneTargets {
  hidden?: number;
  ffn?: number;
  heads?: number;
  kvHeads?: number;
  layers?: number;
}

/** Which units survive, by old index. */
export interface PrunePlan {
  layers: number[];
  channels: number[];
  /** Per kept layer (in `layers` order): the kept query heads and key/value heads. */
  heads: number[][];
  kvHeads: number[][];
  neurons: number[][];
}

/** The target shape after checking it can hold for `cfg` (one line naming the flag if not). */
export function resolveTargets(cfg: LlamaConfig, t: PruneTargets): Required<PruneTargets> {
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads;
  const check = (flag: string, v: number | undefined, max: number, what: string): number => {
    if (v === undefined) return max;
    if (!Number.isInteger(v) || v < 1) {
      throw new UserError(`--${flag} ${v}: expected an integer ≥ 1`);
    }
    if (v > max) {
      throw new UserError(`--${flag} ${v}: the model has ${max} ${what}; give at most ${max}`);
    }
    return v;
  };
  const hidden = check("hidden", t.hidden, cfg.hidden_size, "hidden channels");
  const ffn = check("ffn", t.ffn, cfg.intermediate_size, "SwiGLU neurons per layer");
  const heads = check("heads", t.heads, NH, "attention heads");
  const kvHeads = check("kv-heads", t.kvHeads, NKV, "key/value heads");
  const layers = check("layers", t.layers, cfg.num_hidden_layers, "layers");
  if (heads % kvHeads !== 0) {
    throw new UserError(
      `--kv-heads ${kvHeads}: must divide --heads ${heads} (each key/value group keeps the same number of query heads)`,
    );
  }
  if (heads / kvHeads > NH / NKV) {
    throw new UserError(
      `--kv-heads ${kvHeads}: with --heads ${heads} each group would keep ${
        heads / kvHeads
      } query heads, but the model's groups have ${
        NH / NKV
      }; give more --kv-heads or fewer --heads`,
    );
  }
  return { hidden, ffn, heads, kvHeads, layers };
}

/** Indices of the `k` largest scores, in ascending index order (ties: the lower index). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

/**
 * GQA-aligned head selection for one layer: `headScores` (NH) in `NKV` groups of NH/NKV
 * consecutive query heads; keeps the `kvHeads` groups of largest summed score and, in each, its
 * `heads / kvHeads` best query heads.
 *
 * @example
 * ```ts
 * import { alignedHeads } from "./prune.ts";
 * // 4 query heads in 2 groups, keep 2 heads in 2 groups: one per group
 * console.log(alignedHeads([0.1, 0.9, 0.8, 0.2], 2, 2, 2)); // { kv: [0, 1], heads: [1, 2] }
 * ```
 */
export function alignedHeads(
  headScores: ArrayLike<number>,
  NKV: number,
  heads: number,
  kvHeads: number,
): { kv: number[]; heads: number[] } {
  const g = headScores.length / NKV, keepPer = heads / kvHeads;
  const groupScore = Array.from({ length: NKV }, (_, k) => {
    let s = 0;
    for (let j = 0; j < g; j++) s += headScores[k * g + j];
    return s;
  });
  const kv = topK(groupScore, kvHeads);
  const out: number[] = [];
  for (const k of kv) {
    const inGroup = Array.from({ length: g }, (_, j) => headScores[k * g + j]);
    for (const j of topK(inGroup, keepPer)) out.push(k * g + j);
  }
  return { kv, heads: out };
}

/** The units a target shape keeps, by importance. */
export function planPrune(cfg: LlamaConfig, imp: Importance, t: PruneTargets): PrunePlan {
  const r = resolveTargets(cfg, t);
  const layers = topK(imp.layers, r.layers);
  const sel = layers.map((l) =>
    alignedHeads(imp.heads[l], cfg.num_key_value_heads, r.heads, r.kvHeads)
  );
  return {
    layers,
    channels: topK(imp.channels, r.hidden),
    heads: sel.map((s) => s.heads),
    kvHeads: sel.map((s) => s.kv),
    neurons: layers.map((l) => topK(imp.neurons[l], r.ffn)),
  };
}

/** Rows `rows` and columns `cols` (null = all) of a row-major (R, K) matrix. */
function _take(
  m: Float32Array,
  K: number,
  rows: readonly number[] | null,
  cols: readonly number[] | null,
): Float32Array {
  const R = m.length / K;
  const rs = rows ?? Array.from({ length: R }, (_, i) => i);
  const cs = cols ?? Array.from({ length: K }, (_, i) => i);
  const out = new Float32Array(rs.length * cs.length);
  rs.forEach((r, i) => cs.forEach((c, j) => out[i * cs.length + j] = m[r * K + c]));
  return out;
}

/** Row indices of whole heads (each `HS` rows) in a (heads·HS, ·) projection. */
function _headRows(heads: readonly number[], HS: number): number[] {
  return heads.flatMap((h) => Array.from({ length: HS }, (_, i) => h * HS + i));
}

/** The config and parameters of the pruned model. */
export function applyPrune(
  cfg: LlamaConfig,
  params: Params,
  plan: PrunePlan,
): { cfg: LlamaConfig; params: Params } {
  const C = cfg.hidden_size, F = cfg.intermediate_size, HS = cfg.head_dim;
  const NH = cfg.num_attention_heads, ch = plan.channels;
  const P = (n: string) => {
    const p = params.get(n);
    if (!p) throw new UserError(`prune: missing parameter ${n}`);
    return p;
  };
  const out: Params = new Map();
  out.set("model.embed_tokens.weight", _take(P("model.embed_tokens.weight"), C, null, ch));
  plan.layers.forEach((l, i) => {
    const a = `model.layers.${l}.`, b = `model.layers.${i}.`;
    const q = _headRows(plan.heads[i], HS), kv = _headRows(plan.kvHeads[i], HS);
    const nr = plan.neurons[i];
    for (const n of ["input_layernorm.weight", "post_attention_layernorm.weight"]) {
      out.set(b + n, _take(P(a + n), C, [0], ch));
    }
    out.set(b + "self_attn.q_proj.weight", _take(P(a + "self_attn.q_proj.weight"), C, q, ch));
    out.set(b + "self_attn.k_proj.weight", _take(P(a + "self_attn.k_proj.weight"), C, kv, ch));
    out.set(b + "self_attn.v_proj.weight", _take(P(a + "self_attn.v_proj.weight"), C, kv, ch));
    out.set(b + "self_attn.o_proj.weight", _take(P(a + "self_attn.o_proj.weight"), NH * HS, ch, q));
    out.set(b + "mlp.gate_proj.weight", _take(P(a + "mlp.gate_proj.weight"), C, nr, ch));
    out.set(b + "mlp.up_proj.weight", _take(P(a + "mlp.up_proj.weight"), C, nr, ch));
    out.set(b + "mlp.down_proj.weight", _take(P(a + "mlp.down_proj.weight"), F, ch, nr));
  });
  out.set("model.norm.weight", _take(P("model.norm.weight"), C, [0], ch));
  if (!cfg.tie_word_embeddings) out.set("lm_head.weight", _take(P("lm_head.weight"), C, null, ch));
  const heads = plan.heads[0]?.length ?? NH;
  return {
    cfg: {
      ...cfg,
      hidden_size: ch.length,
      intermediate_size: plan.neurons[0]?.length ?? F,
      num_attention_heads: heads,
      num_key_value_heads: plan.kvHeads[0]?.length ?? cfg.num_key_value_heads,
      num_hidden_layers: plan.layers.length,
    },
    params: out,
  };
}
