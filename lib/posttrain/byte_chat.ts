/**
 * A chat format for the byte-level demo tokenizer (lib/train/tokenizer.ts `byteLevelTokenizerJson`),
 * which lacks Llama 3's header and end-of-turn tokens: Llama 3.1 Instruct's own `chat_template`
 * (lib/tokenizer/llama31.ts) with those token names mapped to the demo tokenizer's specials —
 * `<|start_header_id|>` → `<|reserved_0|>`, `<|end_header_id|>` → `<|pad|>`, `<|eot_id|>` →
 * `<|end_of_text|>` (the demo's EOS) — so the demo and tests post-train through the same template
 * machinery as a real Llama 3.1 folder.
 *
 * @module
 */

import { writeJsonAtomic } from "../io/atomic.ts";
import { llama31ChatTemplate } from "../tokenizer/llama31.ts";

/** Writes tokenizer_config.json and generation_config.json for the byte-level tokenizer into `dir`. */
export async function writeByteLevelChatFiles(dir: string): Promise<void> {
  const template = (await llama31ChatTemplate())
    .replaceAll("<|start_header_id|>", "<|reserved_0|>")
    .replaceAll("<|end_header_id|>", "<|pad|>")
    .replaceAll("<|eot_id|>", "<|end_of_text|>");
  await writeJsonAtomic(`${dir}/tokenizer_config.json`, {
    chat_template: template,
    bos_token: "<|begin_of_text|>",
    eos_token: "<|end_of_text|>",
  });
  await writeJsonAtomic(`${dir}/generation_config.json`, {
    bos_token_id: 256,
    eos_token_id: [257],
  });
}
