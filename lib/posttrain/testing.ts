/**
 * For tests: a tiny random Llama saved as a Hugging Face folder with the byte-level demo tokenizer
 * (and, with `chat`, its chat template), so evaluation, post-training and task-level tests share
 * one fixture.
 *
 * @module
 */

import { writeJsonAtomic } from "../io/atomic.ts";
import { type LlamaConfig, parseLlamaConfig } from "../model/config.ts";
import { saveModel } from "../model/hf_folder.ts";
import { initParams } from "../model/params.ts";
import { byteLevelTokenizerJson } from "../train/tokenizer.ts";
import { writeByteLevelChatFiles } from "./byte_chat.ts";

/**
 * Saves into `dir` a Llama of C 16, F 32, 2 heads, 1 layer and the byte tokenizer's 260 ids
 * (config fields overridable), weights N(0, `std`) from `seed`; returns its config.
 */
export async function saveTinyLlama(
  dir: string,
  o: { config?: Record<string, unknown>; seed?: number; std?: number; chat?: boolean } = {},
): Promise<LlamaConfig> {
  const cfg = parseLlamaConfig({
    hidden_size: 16,
    intermediate_size: 32,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: 260,
    max_position_embeddings: 128,
    ...o.config,
  });
  await saveModel(dir, cfg, initParams(cfg, o.seed ?? 1, o.std));
  await writeJsonAtomic(`${dir}/tokenizer.json`, byteLevelTokenizerJson());
  if (o.chat) await writeByteLevelChatFiles(dir);
  return cfg;
}
