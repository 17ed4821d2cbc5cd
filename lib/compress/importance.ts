/**
 * Activation-based importance (Minitron, Muralidharan et al. 2024, "Compact Language Models via
 * Pruning and Knowledge Distillation"), read through the model's forward hooks on a calibration
 * set: attention heads (the L2 norm of each head's output), SwiGLU neurons (the intermediate
 * state silu(gate)·up), embedding channels (the RMSNorm outputs attention and the MLP read) and
 * whole layers (block importance: 1 − cos(block input, block output), or the loss increase when
 * the block is skipped).
 *
 * Aggregation, Minitron's best: over the batch (every calibration sequence) the L2 norm, then over
 * the sequence the mean — score[d] = mean_t sqrt(Σ_b a[b, t, d]²). Embedding channels follow
 * Kanana (Kanana Team 2025): each layer's norm outputs are aggregated alone and the per-layer
 * scores summed.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { Batch, Hooks, Llama } from "../model/llama.ts";
import type { Params } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { remapLayers } from "./upscale.ts";

/** Streaming batch-L2 / sequence-mean aggregation of per-token values a (B, T, D). */
export class L2MeanAggregator {
  readonly #sumsq: Float64Array; // (T, D) Σ_b a²

  constructor(readonly T: number, readonly D: number) {
    this.#sumsq = new Float64Array(T * D);
  }

  /** Adds a batch of rows a (B, T, D). */
  add(a: ArrayLike<number>, B: number): void {
    const { T, D } = this, s = this.#sumsq;
    if (a.length !== B * T * D) throw new Error(`aggregator: ${a.length} values, expected B·T·D`);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < T * D; i++) {
        const x = a[b * T * D + i];
        s[i] += x * x;
      }
    }
  }

  /** score[d] = mean_t sqrt(Σ_b a[b, t, d]²). */
  scores(): Float64Array {
    const { T, D } = this, out = new Float64Array(D);
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < D; d++) out[d] += Math.sqrt(this.#sumsq[t * D + d]) / T;
    }
    return out;
  }
}

/** Per-unit importance of a model. */
export interface Importance {
  /** (L, NH) attention heads, per layer. */
  heads: number[][];
  /** (L, F) SwiGLU neurons, per layer. */
  neurons: number[][];
  /** (C) embedding channels (per-layer scores summed). */
  channels: number[];
  /** (L) whole layers by `layerMetric`. */
  layers: number[];
  layerMetric: "cosine" | "loss";
  /** Calibration sequences and their length. */
  sequences: number;
  seqLen: number;
}

/** Per-token L2 norms of each head's output: (N, NH·HS) → (N, NH). */
function _headNorms(x: Float32Array, N: number, NH: number, HS: number): Float32Array {
  const out = new Float32Array(N * NH);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < NH; h++) {
      let s = 0;
      for (let i = 0; i < HS; i++) s += x[(n * NH + h) * HS + i] ** 2;
      out[n * NH + h] = Math.sqrt(s);
    }
  }
  return out;
}

/** Mean next-token loss of `model` over `batches` (targets: each row shifted by one). */
async function _meanLoss(model: Llama<unknown>, batches: Batch[]): Promise<number> {
  let sum = 0, n = 0;
  for (const b of batches) {
    const targets = new Int32Array(b.B * b.T).fill(-1);
    for (let r = 0; r < b.B; r++) {
      for (let t = 0; t + 1 < b.T; t++) targets[r * b.T + t] = b.tokens[r * b.T + t + 1];
    }
    const pass = await model.forward(b);
    const s = await model.score(pass, targets);
    model.release(pass);
    for (let i = 0; i < targets.length; i++) {
      if (targets[i] < 0) continue;
      sum -= s.logprob[i];
      n++;
    }
  }
  return sum / Math.max(1, n);
}

/**
 * Scores every head, neuron, embedding channel and layer of `model` on calibration `batches`
 * (rows of equal length). `layerMetric` "loss" also runs the model once per skipped layer, built
 * from `params` on `device`.
 */
export async function computeImportance(
  model: Llama<unknown>,
  batches: Batch[],
  o: { layerMetric?: "cosine" | "loss"; params?: Params; device?: string } = {},
): Promise<Importance> {
  const cfg = model.cfg, L = cfg.num_hidden_layers, C = cfg.hidden_size;
  const NH = cfg.num_attention_heads, HS = cfg.head_dim, F = cfg.intermediate_size;
  if (!batches.length) throw new UserError("--calibration: no sequences to score");
  const T = batches[0].T;
  const heads = Array.from({ length: L }, () => new L2MeanAggregator(T, NH));
  const neurons = Array.from({ length: L }, () => new L2MeanAggregator(T, F));
  const chans = Array.from({ length: 2 * L }, () => new L2MeanAggregator(T, C));
  const cosSum = new Float64Array(L);
  let tokens = 0, sequences = 0, B = 0;
  let blockIn: Float32Array | undefined;
  const hooks: Hooks = {
    names: ["block_in", "attn_norm", "attn_heads", "mlp_norm", "mlp_act", "block_out"],
    fn: (l, name, data) => {
      const N = data.length / (name === "attn_heads" ? NH * HS : name === "mlp_act" ? F : C);
      if (name === "block_in") blockIn = data.slice();
      else if (name === "attn_norm") chans[2 * l].add(data, B);
      else if (name === "mlp_norm") chans[2 * l + 1].add(data, B);
      else if (name === "attn_heads") heads[l].add(_headNorms(data, N, NH, HS), B);
      else if (name === "mlp_act") neurons[l].add(data, B);
      else if (name === "block_out") {
        for (let n = 0; n < N; n++) {
          let dot = 0, a = 0, b = 0;
          for (let i = 0; i < C; i++) {
            const x = blockIn![n * C + i], y = data[n * C + i];
            dot += x * y;
            a += x * x;
            b += y * y;
          }
          cosSum[l] += dot / (Math.sqrt(a * b) || 1);
        }
      }
    },
  };
  for (const b of batches) {
    if (b.T !== T) throw new UserError("--calibration: sequences must have one length");
    B = b.B;
    model.release(await model.forward(b, { hooks }));
    tokens += b.B * b.T;
    sequences += b.B;
  }
  const channels = new Array<number>(C).fill(0);
  for (const a of chans) a.scores().forEach((s, i) => channels[i] += s);
  const layerMetric = o.layerMetric ?? "cosine";
  let layers = Array.from(cosSum, (c) => 1 - c / tokens);
  if (layerMetric === "loss") {
    if (!o.params) throw new Error("computeImportance: layerMetric loss needs params");
    const base = await _meanLoss(model, batches);
    layers = [];
    for (let l = 0; l < L; l++) {
      const keep = Array.from({ length: L }, (_, i) => i).filter((i) => i !== l);
      if (!keep.length) {
        layers.push(Infinity);
        continue;
      }
      const r = remapLayers(cfg, o.params, keep);
      const skipped = await createLlama(r.cfg, r.params, { device: o.device ?? "cpu" });
      layers.push(await _meanLoss(skipped, batches) - base);
      skipped.destroy();
    }
  }
  return {
    heads: heads.map((a) => Array.from(a.scores())),
    neurons: neurons.map((a) => Array.from(a.scores())),
    channels,
    layers,
    layerMetric,
    sequences,
    seqLen: T,
  };
}
