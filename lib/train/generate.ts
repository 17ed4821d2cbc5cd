/**
 * Text generation with a KV cache: greedy, or sampling with temperature and nucleus (top-p).
 * Evaluation uses the same code.
 *
 * @module
 */

import type { LlamaConfig } from "../model/config.ts";
import { decodeStep, KVCache, type Params, Rng } from "../model/llama_ref.ts";

/** Sampling options; temperature 0 = greedy. */
export interface SampleOptions {
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Stop when one of these ids is produced. */
  stopIds?: number[];
}

/** Picks the next id from logits (V). */
export function pickToken(
  logits: Float32Array,
  temperature: number,
  topP: number,
  rng: Rng,
): number {
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let m = -Infinity;
  for (const x of logits) if (x > m) m = x;
  const probs = Array.from(logits, (x, i) => ({ i, p: Math.exp((x - m) / temperature) }));
  const z = probs.reduce((a, b) => a + b.p, 0);
  probs.sort((a, b) => b.p - a.p || a.i - b.i);
  let keep = probs.length, acc = 0;
  for (let k = 0; k < probs.length; k++) {
    acc += probs[k].p / z;
    if (acc >= topP) {
      keep = k + 1;
      break;
    }
  }
  const kept = probs.slice(0, keep);
  const zk = kept.reduce((a, b) => a + b.p, 0);
  let r = rng.next() * zk;
  for (const { i, p } of kept) if ((r -= p) < 0) return i;
  return kept[kept.length - 1].i;
}

/** Generates ids after `prompt` (ids); returns only the new ids. */
export function generate(
  cfg: LlamaConfig,
  params: Params,
  prompt: number[],
  opts: SampleOptions,
): number[] {
  if (!prompt.length) throw new Error("generate: empty prompt");
  const maxT = Math.min(prompt.length + opts.maxNewTokens, cfg.max_position_embeddings);
  const cache = new KVCache(cfg, maxT);
  const rng = new Rng(opts.seed ?? 0);
  let logits: Float32Array = new Float32Array(0);
  for (const id of prompt.slice(0, maxT)) logits = decodeStep(cfg, params, cache, id);
  const out: number[] = [];
  for (let n = 0; n < opts.maxNewTokens; n++) {
    const id = pickToken(logits, opts.temperature ?? 0, opts.topP ?? 1, rng);
    out.push(id);
    if (opts.stopIds?.includes(id) || cache.length >= maxT) break;
    logits = decodeStep(cfg, params, cache, id);
  }
  return out;
}
