/**
 * Text generation for a batch of prompts through the model's KV cache: the prompts are prefilled
 * in one forward (right-padded), then every row decodes one token per step at its own position,
 * greedy or sampled (temperature, nucleus top-p, a seed per row), until an EOS id, a stop string
 * or `maxNewTokens`. Evaluation and `deno task train sample` use it.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { Llama } from "./llama.ts";
import { Rng } from "./params.ts";

/** Sampling options; temperature 0 = greedy. */
export interface GenerateOptions {
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Stop when one of these ids is produced (it is not returned). */
  stopIds?: number[];
  /** Stop when the decoded text contains one (the text is cut before it); needs `decode`. */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** Called with each new token of row `row` as it is produced (streaming; EOS ids included). */
  onToken?: (row: number, id: number) => void;
}

/** One row's result. */
export interface Generation {
  ids: number[];
  /** The decoded text, cut at the first stop string (with `decode`). */
  text?: string;
  /** Why it ended. */
  stop: "eos" | "string" | "length";
  /** The EOS id it stopped at (not in `ids`), when `stop` is "eos". */
  stopId?: number;
}

/** Picks the next id from logits (V): argmax at temperature ≤ 0, else a top-p sample. */
export function pickToken(
  logits: ArrayLike<number>,
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
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
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

/** Position of the earliest stop string in `text`, or -1. */
export function firstStop(text: string, until: readonly string[]): number {
  let best = -1;
  for (const u of until) {
    if (!u) continue;
    const i = text.indexOf(u);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Generates after each prompt (token ids); see the module doc. */
export async function generate(
  model: Llama<unknown>,
  prompts: number[][],
  o: GenerateOptions,
): Promise<Generation[]> {
  const B = prompts.length, maxPos = model.cfg.max_position_embeddings;
  if (!B) return [];
  if (prompts.some((p) => !p.length)) throw new UserError("generate: empty prompt");
  if (o.stopStrings?.length && !o.decode) throw new Error("generate: stopStrings need decode");
  const Tp = Math.max(...prompts.map((p) => p.length));
  if (Tp > maxPos) {
    throw new UserError(
      `generate: a prompt of ${Tp} tokens exceeds max_position_embeddings ${maxPos}`,
    );
  }
  const S = Math.min(Tp + o.maxNewTokens, maxPos);
  const kv = model.kvCache(B, S);
  const tokens = new Int32Array(B * Tp);
  prompts.forEach((p, b) => tokens.set(p, b * Tp));
  const pass = await model.forward({ B, T: Tp, tokens }, { kv });
  kv.lengths = prompts.map((p) => p.length);
  let logits = await model.logits(pass, prompts.map((p, b) => b * Tp + p.length - 1));
  model.release(pass);
  const V = model.cfg.vocab_size;
  const rngs = prompts.map((_, b) => new Rng([(o.seed ?? 0) >>> 0, b, 0x9e3779b9, 1]));
  const out: Generation[] = prompts.map(() => ({ ids: [], stop: "length" }));
  const done = new Array<boolean>(B).fill(false);
  try {
    for (let step = 0; step < o.maxNewTokens; step++) {
      const next = new Array<number>(B).fill(0);
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const id = pickToken(
          logits.subarray(b * V, (b + 1) * V),
          o.temperature ?? 0,
          o.topP ?? 1,
          rngs[b],
        );
        next[b] = id;
        o.onToken?.(b, id);
        const g = out[b];
        if (o.stopIds?.includes(id)) {
          g.stop = "eos";
          g.stopId = id;
          done[b] = true;
          continue;
        }
        g.ids.push(id);
        if (o.stopStrings?.length) {
          const text = o.decode!(g.ids);
          if (firstStop(text, o.stopStrings) >= 0) {
            g.stop = "string";
            done[b] = true;
          }
        }
        if (kv.lengths[b] + 1 >= S) done[b] = true;
      }
      if (done.every(Boolean) || step + 1 === o.maxNewTokens) break;
      if (kv.lengths.some((n) => n >= S)) break; // a finished row has filled the cache
      logits = await model.decode(kv, next);
    }
  } finally {
    model.freeKv(kv);
  }
  if (o.decode) {
    for (const g of out) {
      const text = o.decode(g.ids);
      const cut = firstStop(text, o.stopStrings ?? []);
      g.text = cut >= 0 ? text.slice(0, cut) : text;
    }
  }
  return out;
}
