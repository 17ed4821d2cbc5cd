/**
 * A terminal chat with a model: the conversation is kept, rendered by the tokenizer's chat
 * template with the generation prompt, and handed to a token generator; its tokens are decoded
 * and written as they arrive, and the turn ends at one of the format's EOS ids (or when the
 * generator returns). `/reset` starts a new conversation, `/exit` or the end of input quits.
 *
 * The loop knows nothing of the model: the caller supplies `generateStream` (prompt ids in, each
 * new id to `onToken` as it is made, all new ids returned), `readLine` and `write`, so the same
 * loop serves a terminal, a test and a pipe.
 *
 * @module
 */

import type { ChatFormat, ChatMessage } from "./chat_template.ts";

/** Generates after `promptIds`, calling `onToken` with each new id; resolves to the new ids. */
export type GenerateStream = (
  promptIds: number[],
  onToken: (id: number) => void,
) => Promise<number[]>;

/** What {@link runChat} needs. */
export interface ChatLoopOptions {
  generateStream: GenerateStream;
  format: ChatFormat;
  /** The next line the user typed (without its newline), or null at the end of input. */
  readLine: () => Promise<string | null>;
  /** Writes text to the user (no newline added). */
  write: (text: string) => void | Promise<void>;
  /** A system message that starts every conversation (kept by `/reset`). */
  system?: string;
  /** Written before each line is read (default "> "). */
  prompt?: string;
  /** Drop the oldest exchanges while the prompt has more tokens than this. */
  maxPromptTokens?: number;
}

/** How a chat went. */
export interface ChatSummary {
  /** Answers generated. */
  turns: number;
}

/**
 * Decodes a stream of ids into text increments: each `push` returns the new suffix of
 * `decode(all ids so far)`, holding back trailing U+FFFD characters (a UTF-8 sequence split
 * across tokens, which later tokens complete); `flush` returns what is held back.
 *
 * @example
 * ```ts
 * const bytes = [0xec, 0x95, 0x88]; // "안" split into three byte-tokens
 * const decode = (ids: number[]) =>
 *   new TextDecoder().decode(new Uint8Array(ids.map((i) => bytes[i])));
 * const d = new StreamDecoder(decode);
 * const parts = [d.push(0), d.push(1), d.push(2), d.flush()];
 * if (parts.join("|") !== "||안|") throw new Error(parts.join("|"));
 * ```
 */
export class StreamDecoder {
  #ids: number[] = [];
  #shown = "";
  #decode: (ids: number[]) => string;

  constructor(decode: (ids: number[]) => string) {
    this.#decode = decode;
  }

  /** Ids pushed so far. */
  get ids(): number[] {
    return this.#ids;
  }

  /** Adds one id; returns the text it completes ("" when none). */
  push(id: number): string {
    this.#ids.push(id);
    const text = this.#decode(this.#ids);
    let end = text.length;
    while (end > this.#shown.length && text[end - 1] === "\uFFFD") end--;
    if (end <= this.#shown.length) return "";
    const out = text.slice(this.#shown.length, end);
    this.#shown = text.slice(0, end);
    return out;
  }

  /** The text not yet returned (held-back characters included). */
  flush(): string {
    const text = this.#decode(this.#ids);
    const out = text.slice(this.#shown.length);
    this.#shown = text;
    return out;
  }
}

/**
 * Runs the chat loop until `/exit` or the end of input.
 *
 * @example
 * ```ts ignore
 * await runChat({
 *   format: await loadChatFormat(modelDir),
 *   generateStream: (ids, onToken) => myGenerate(ids, onToken),
 *   readLine: async () => prompt("") ?? null,
 *   write: (t) => Deno.stdout.writeSync(new TextEncoder().encode(t)),
 * });
 * ```
 */
export async function runChat(o: ChatLoopOptions): Promise<ChatSummary> {
  const start: ChatMessage[] = o.system ? [{ role: "system", content: o.system }] : [];
  const eos = new Set(o.format.eosIds);
  const tok = o.format.tokenizer;
  let history = [...start];
  let turns = 0;
  for (;;) {
    await o.write(o.prompt ?? "> ");
    const line = await o.readLine();
    if (line === null) {
      await o.write("\n");
      break;
    }
    const command = line.trim();
    if (command === "/exit") break;
    if (command === "/reset") {
      history = [...start];
      await o.write("(new conversation)\n");
      continue;
    }
    if (!command) continue;
    history.push({ role: "user", content: line });
    const promptIds = await _fitPrompt(o, history, start.length);
    if (promptIds === null) {
      history.pop();
      continue;
    }
    // onToken is synchronous: writes are chained and awaited once the generator returns.
    let pending: Promise<void> = Promise.resolve();
    const say = (text: string) => {
      if (text) pending = pending.then(() => o.write(text));
    };
    const decoder = new StreamDecoder((ids) => tok.decode(ids));
    let ended = false;
    const returned = await o.generateStream(promptIds, (id) => {
      if (ended) return;
      if (eos.has(id)) ended = true;
      else say(decoder.push(id));
    });
    const streamed = decoder.ids.length;
    const reply = _untilEos(returned.length ? returned : decoder.ids, eos);
    if (reply.length >= streamed && decoder.ids.every((id, i) => id === reply[i])) {
      for (const id of reply.slice(streamed)) say(decoder.push(id));
    }
    say(decoder.flush());
    say("\n");
    await pending;
    history.push({ role: "assistant", content: tok.decode(reply) });
    turns++;
  }
  return { turns };
}

/** The ids before the first EOS id. */
function _untilEos(ids: number[], eos: Set<number>): number[] {
  const i = ids.findIndex((id) => eos.has(id));
  return i < 0 ? [...ids] : ids.slice(0, i);
}

/**
 * The prompt of `history` with the generation prompt, the oldest exchanges (after the system
 * message) dropped from `history` while it is longer than `maxPromptTokens`; null (after telling
 * the user) when the last message alone is too long.
 */
async function _fitPrompt(
  o: ChatLoopOptions,
  history: ChatMessage[],
  keep: number,
): Promise<number[] | null> {
  for (;;) {
    const ids = o.format.tokenize(history, { addGenerationPrompt: true }).ids;
    if (o.maxPromptTokens === undefined || ids.length <= o.maxPromptTokens) return ids;
    if (history.length - keep <= 1) {
      await o.write(`(message too long: ${ids.length} tokens, limit ${o.maxPromptTokens})\n`);
      return null;
    }
    // drop the oldest user message and the answers up to the next user message
    let end = keep + 1;
    while (end < history.length - 1 && history[end].role !== "user") end++;
    history.splice(keep, end - keep);
  }
}
