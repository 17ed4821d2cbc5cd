/**
 * A chat format for the byte-level demo tokenizer (lib/train/tokenizer.ts `byteLevelTokenizerJson`),
 * which lacks Llama 3's header and end-of-turn tokens: Llama's own `chat_template` (from its
 * tokenizer_config.json) with those token names mapped to the demo tokenizer's specials —
 * `<|start_header_id|>` → `<|reserved_0|>`, `<|end_header_id|>` → `<|pad|>`, `<|eot_id|>` →
 * `<|end_of_text|>` (the demo's EOS) — so the demo and tests post-train through the same template
 * machinery as a real Llama 3.1 folder.
 *
 * @module
 */

import { writeJsonAtomic } from "../io/atomic.ts";
import { LLAMA31_TOKENIZER_CONFIG } from "./chat_template.ts";

/** Writes tokenizer_config.json and generation_config.json for the byte-level tokenizer into `dir`. */
export async function writeByteLevelChatFiles(dir: string): Promise<void> {
  const llama = JSON.parse(await Deno.readTextFile(LLAMA31_TOKENIZER_CONFIG));
  const template = (llama.chat_template as string)
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
