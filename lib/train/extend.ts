/**
 * Vocabulary extension: resize the embeddings and LM head of a model to a larger tokenizer whose
 * first ids are the old vocabulary, keeping the old rows. Each new token is initialised either as
 * the mean of the old-token embeddings its text splits into under the old tokenizer (EEVE, Kim et
 * al. 2024 — used for the input and the output embedding alike), or from N(0, 0.02), the
 * alternative Thunder-LLM's release used.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import { type Params, Rng } from "../model/params.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** How new rows are initialised. */
export type ExtendInit = "eeve" | "normal";

/**
 * Returns a config and parameters for `newTok`'s vocabulary (`newVocab` rows, at least the new
 * tokenizer's size). Refuses a tokenizer that renumbers old tokens.
 */
export function extendVocabulary(
  cfg: LlamaConfig,
  params: Params,
  oldTok: Tokenizer,
  newTok: Tokenizer,
  init: ExtendInit,
  seed = 0,
  newVocab = newTok.vocabSize,
): { cfg: LlamaConfig; params: Params; initialised: number; fallback: number } {
  const C = cfg.hidden_size, V0 = cfg.vocab_size;
  if (newVocab < V0) {
    throw new UserError(`new vocabulary ${newVocab} is smaller than the model's ${V0}`);
  }
  for (let id = 0; id < Math.min(oldTok.vocabSize, V0); id++) {
    const a = oldTok.tokenString(id), b = newTok.tokenString(id);
    if (a !== undefined && a !== b) {
      throw new UserError(
        `new tokenizer renumbers id ${id} (${JSON.stringify(a)} → ${
          JSON.stringify(b)
        }); it must keep the old ids`,
      );
    }
  }
  const rng = new Rng(seed);
  const out: Params = new Map(params);
  const newCfg = { ...cfg, vocab_size: newVocab };
  let initialised = 0, fallback = 0;
  const names = ["model.embed_tokens.weight"];
  if (!cfg.tie_word_embeddings) names.push("lm_head.weight");
  const rowsFor: number[][] = [];
  for (let id = V0; id < newVocab; id++) {
    const piece = newTok.tokenString(id);
    const ids = init === "eeve" && piece !== undefined
      ? oldTok.pieceToIds(piece).filter((i) => i < V0)
      : [];
    rowsFor.push(ids);
    if (ids.length) initialised++;
    else fallback++;
  }
  for (const name of names) {
    const old = params.get(name)!;
    const w = new Float32Array(newVocab * C);
    w.set(old);
    for (let id = V0; id < newVocab; id++) {
      const ids = rowsFor[id - V0];
      if (ids.length) {
        for (const j of ids) {
          for (let c = 0; c < C; c++) w[id * C + c] += old[j * C + c] / ids.length;
        }
      } else for (let c = 0; c < C; c++) w[id * C + c] = rng.normal() * 0.02;
    }
    out.set(name, w);
  }
  return { cfg: newCfg, params: out, initialised, fallback };
}
