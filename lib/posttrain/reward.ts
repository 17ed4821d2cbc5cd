/**
 * Reward models on the one Llama: a causal model becomes a `LlamaForSequenceClassification`
 * (its layers, a fresh `score.weight` (1, C), no LM head), sequences become right-padded rows,
 * and the score of each row is read where transformers reads it — at the last token that is not
 * `pad_token_id` — so a folder Jikji writes scores the same in Python.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { isSequenceClassifier, type LlamaConfig, SEQUENCE_CLASSIFIER } from "../model/config.ts";
import type { LoadedModel } from "../model/hf_folder.ts";
import type { Llama } from "../model/llama.ts";
import { type Params, Rng } from "../model/params.ts";
import type { ChatFormat } from "./chat_template.ts";
import type { Example } from "./examples.ts";

/** Right-padded rows of whole sequences and where each row's score is read. */
export interface ValueRows {
  B: number;
  T: number;
  /** (B·T) ids, `padId` after each sequence. */
  tokens: Int32Array;
  /** (B·T) 0 on the sequence, 1 on its padding (no attention between them). */
  docIds: Int32Array;
  /** (B) row-major token index of each row's score: its last token that is not `padId`. */
  scoreAt: Int32Array;
}

/**
 * The pad id a reward model is saved with: the tokenizer config's `pad_token`, else Llama 3's
 * `<|finetune_right_pad_id|>` where the vocabulary has it, else the first EOS id.
 */
export function rewardPadId(format: ChatFormat): number {
  const tok = format.tokenizer;
  for (const name of [format.specialTokens.pad_token, "<|finetune_right_pad_id|>"]) {
    if (!name) continue;
    const ids = tok.encode(name);
    if (ids.length === 1 && tok.tokenString(ids[0]) === name) return ids[0];
  }
  return format.eosIds[0];
}

/**
 * Rows of whole sequences (the last T ids of a longer one), right-padded with `padId`; each score
 * at the row's last id that is not `padId` (transformers' pooling of
 * `LlamaForSequenceClassification`).
 *
 * @example
 * ```ts
 * import { valueRows } from "./reward.ts";
 * const r = valueRows([{ ids: [5, 6, 7], mask: new Uint8Array(3) }, { ids: [8], mask: new Uint8Array(1) }], 4, 0);
 * if (r.scoreAt.join() !== "2,4") throw new Error("rows 0 and 1 end at t 2 and t 0");
 * ```
 */
export function valueRows(examples: Example[], T: number, padId: number): ValueRows {
  const B = examples.length;
  const tokens = new Int32Array(B * T).fill(padId), docIds = new Int32Array(B * T);
  const scoreAt = new Int32Array(B);
  examples.forEach((e, b) => {
    const ids = e.ids.slice(-T);
    tokens.set(ids, b * T);
    docIds.fill(1, b * T + ids.length, (b + 1) * T);
    let last = ids.length - 1;
    while (last > 0 && ids[last] === padId) last--;
    scoreAt[b] = b * T + Math.max(0, last);
  });
  return { B, T, tokens, docIds, scoreAt };
}

/** Scores (B) of rows: the value head at each row's position. */
export async function rowScores(model: Llama<unknown>, rows: ValueRows): Promise<Float32Array> {
  const pass = await model.forward(rows);
  const v = await model.values(pass, rows.scoreAt);
  model.release(pass);
  return v;
}

/**
 * A reward model to train from a model folder: a `LlamaForSequenceClassification` one as it is,
 * a causal one with its LM head dropped and `score.weight` drawn N(0, 1/(C+1)) from `seed` (as
 * TRL's reward models start), its config naming `pad_token_id`.
 */
export function toRewardModel(loaded: LoadedModel, padId: number, seed: number): LoadedModel {
  if (isSequenceClassifier(loaded.cfg)) {
    if ((loaded.cfg.num_labels ?? 1) !== 1) {
      throw new UserError(
        `config.json: num_labels is ${loaded.cfg.num_labels}; a reward model has 1 (one score)`,
      );
    }
    return {
      cfg: { ...loaded.cfg, pad_token_id: loaded.cfg.pad_token_id ?? padId },
      params: loaded.params,
    };
  }
  const cfg: LlamaConfig = {
    ...loaded.cfg,
    architectures: [SEQUENCE_CLASSIFIER],
    num_labels: 1,
    pad_token_id: padId,
  };
  const params: Params = new Map(loaded.params);
  params.delete("lm_head.weight");
  const C = cfg.hidden_size, rng = new Rng([seed >>> 0, 0x5c0e, 7, 1]);
  const w = new Float32Array(C);
  for (let i = 0; i < C; i++) w[i] = rng.normal() / Math.sqrt(C + 1);
  params.set("score.weight", w);
  return { cfg, params };
}

/** Refuses in one line a folder that is not a reward model (no `score.weight`). */
export function requireRewardModel(loaded: LoadedModel, dir: string): void {
  if (!loaded.params.has("score.weight")) {
    throw new UserError(
      `${dir}: not a reward model (no score.weight): train one with \`deno task train reward\`, or give a LlamaForSequenceClassification folder`,
    );
  }
}
