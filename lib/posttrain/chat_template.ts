/**
 * Chat formats from a tokenizer folder, as Hugging Face's `apply_chat_template` uses them: the
 * Jinja `chat_template` and special tokens of `tokenizer_config.json`, the ids that end a turn in
 * `generation_config.json`, and `tokenizer.json`. Conversations are rendered by the template
 * itself (`npm:@huggingface/jinja`, the Jinja subset Hugging Face's templates use) — there is no
 * second, hand-written copy of any format — and tokenized like `apply_chat_template(...,
 * tokenize=True)`: the rendered text with `add_special_tokens=False`, the special tokens written
 * in it (`<|begin_of_text|>`, `<|eot_id|>`, …) becoming their ids.
 *
 * For supervised fine-tuning, {@link tokenizeChat} also marks each assistant turn's tokens — its
 * content and what the template writes after it up to the next turn (Llama 3.1: `<|eot_id|>`), so
 * that a model trained on them learns to end its answers. The turns are found from the template
 * alone: the conversation is rendered up to turn k with the generation prompt (the text before
 * the answer) and through turn k (the text after it), so any template whose renderings of a
 * conversation's beginning are the beginning of the whole works.
 *
 * @module
 */

import { Template } from "@huggingface/jinja";
import { UserError } from "../io/errors.ts";
import { LLAMA31_CHAT_TEMPLATE } from "../tokenizer/llama31.ts";
import { loadTokenizer, type Tokenizer } from "../train/tokenizer.ts";

/** One turn of a conversation. */
export interface ChatMessage {
  /** "system", "user", "assistant" (or another role the template knows). */
  role: string;
  content: string;
}

/** How to render a conversation. */
export interface ChatRenderOptions {
  /** End with the header of an assistant turn, for generation (default false). */
  addGenerationPrompt?: boolean;
  /** More template variables (e.g. Llama 3.1's `date_string`, `tools`). */
  context?: Record<string, unknown>;
}

/** A conversation as token ids, with the assistant's tokens marked. */
export interface TokenizedChat {
  ids: number[];
  /** 1 where the token belongs to an assistant turn (its content and end-of-turn token). */
  assistantMask: Uint8Array;
}

/** A tokenizer folder's chat format. */
export interface ChatFormat {
  /** The folder it was read from. */
  dir: string;
  /** The Jinja source of the chat template. */
  template: string;
  /** Special tokens the template may use: `bos_token`, `eos_token`, `unk_token`, `pad_token`. */
  specialTokens: Record<string, string>;
  /** Ids that end generation: generation_config.json's `eos_token_id`, else `eos_token`'s id. */
  eosIds: number[];
  tokenizer: Tokenizer;
  /** {@link renderChat} on this format. */
  render(messages: ChatMessage[], opts?: ChatRenderOptions): string;
  /** {@link tokenizeChat} on this format. */
  tokenize(messages: ChatMessage[], opts?: ChatRenderOptions): TokenizedChat;
  /** The compiled template. */
  _compiled: Template;
}

const SPECIAL_FIELDS = ["bos_token", "eos_token", "unk_token", "pad_token"];

/**
 * Reads the chat format of a tokenizer (or model) folder: `tokenizer_config.json`,
 * `generation_config.json` (optional) and `tokenizer.json` (not read when `opts.tokenizer` is
 * given). Refuses in one line a folder whose template is missing or is not valid Jinja.
 *
 * @example
 * ```ts ignore
 * const format = await loadChatFormat("runs/tokenizer-x");
 * const prompt = format.tokenize([{ role: "user", content: "안녕?" }], { addGenerationPrompt: true });
 * // generate from prompt.ids, stopping at format.eosIds
 * ```
 */
export async function loadChatFormat(
  dir: string,
  opts: { tokenizer?: Tokenizer } = {},
): Promise<ChatFormat> {
  const configPath = `${dir}/tokenizer_config.json`;
  const fix =
    `put a tokenizer_config.json with a "chat_template" in ${dir} (Llama 3.1 Instruct's: ${LLAMA31_CHAT_TEMPLATE}), one that matches tokenizer.json`;
  const config = await _readJson(configPath);
  if (config === null) {
    throw new UserError(
      `${configPath}: file not found — the tokenizer has no chat_template: ${fix}`,
    );
  }
  const template = _pickTemplate(config.chat_template, configPath);
  if (template === null) {
    throw new UserError(`${configPath}: the tokenizer has no chat_template: ${fix}`);
  }
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (err) {
    throw new UserError(`${configPath}: chat_template is not valid Jinja (${_oneLine(err)})`);
  }
  const specialTokens: Record<string, string> = {};
  for (const f of SPECIAL_FIELDS) {
    const v = config[f];
    const s = typeof v === "string"
      ? v
      : v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string"
      ? (v as { content: string }).content
      : null;
    if (s !== null) specialTokens[f] = s;
  }
  const genPath = `${dir}/generation_config.json`;
  const gen = await _readJson(genPath);
  const tokenizer = opts.tokenizer ?? await loadTokenizer(dir);
  let eosIds: number[];
  if (gen !== null && gen.eos_token_id !== undefined && gen.eos_token_id !== null) {
    const e = gen.eos_token_id;
    const list = Array.isArray(e) ? e : [e];
    if (!list.length || !list.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new UserError(
        `${genPath}: eos_token_id must be a token id or a list of ids, not ${JSON.stringify(e)}`,
      );
    }
    eosIds = list as number[];
  } else {
    const eos = specialTokens.eos_token;
    const id = eos === undefined ? undefined : _tokenId(tokenizer, eos);
    if (id === undefined) {
      throw new UserError(
        `${genPath}: no eos_token_id, and ${configPath} has no eos_token in the vocabulary: add generation_config.json with "eos_token_id" (Llama 3.1: [128001, 128008, 128009])`,
      );
    }
    eosIds = [id];
  }
  const bad = eosIds.find((id) => id >= tokenizer.vocabSize);
  if (bad !== undefined) {
    throw new UserError(
      `${genPath}: eos_token_id ${bad} is outside the vocabulary of tokenizer.json (${tokenizer.vocabSize} ids)`,
    );
  }
  const format: ChatFormat = {
    dir,
    template,
    specialTokens,
    eosIds,
    tokenizer,
    render: (messages, o) => renderChat(format, messages, o),
    tokenize: (messages, o) => tokenizeChat(format, messages, o),
    _compiled: compiled,
  };
  return format;
}

/**
 * Renders a conversation with the format's template, as `apply_chat_template(messages,
 * tokenize=False, add_generation_prompt=…)` does.
 *
 * @example
 * ```ts ignore
 * renderChat(format, [{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
 * // Llama 3.1: "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge
 * //   Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user
 * //   <|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
 * ```
 */
export function renderChat(
  format: ChatFormat,
  messages: ChatMessage[],
  opts: ChatRenderOptions = {},
): string {
  try {
    return format._compiled.render({
      ...format.specialTokens,
      ...opts.context,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    });
  } catch (err) {
    throw new UserError(
      `${format.dir}/tokenizer_config.json: chat_template refused the conversation (${
        _oneLine(err)
      })`,
    );
  }
}

/**
 * Renders and tokenizes a conversation, marking each assistant turn's content and end-of-turn
 * token (see the module doc). The ids are those of `tokenizer.encode(renderChat(...))`.
 *
 * @example
 * ```ts ignore
 * const { ids, assistantMask } = tokenizeChat(format, [
 *   { role: "user", content: "2+2?" },
 *   { role: "assistant", content: "4" },
 * ]);
 * // Llama 3.1: the mask is 1 on "4" and <|eot_id|>, 0 elsewhere
 * ```
 */
export function tokenizeChat(
  format: ChatFormat,
  messages: ChatMessage[],
  opts: ChatRenderOptions = {},
): TokenizedChat {
  const full = renderChat(format, messages, opts);
  const spans = _assistantSpans(format, messages, opts, full);
  const tok = format.tokenizer;
  const ids = tok.encode(full);
  const mask = new Uint8Array(ids.length);
  if (!spans.length) return { ids, assistantMask: mask };
  // Cut the text at the spans' edges and tokenize each piece: where the pieces' tokens are the
  // whole text's (the edges fall between pre-tokens, as after Llama 3.1's "<|end_header_id|>\n\n"),
  // the mask follows the pieces exactly.
  const cuts = [0, ...spans.flat(), full.length];
  const pieces: number[][] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    pieces.push(tok.encode(full.slice(cuts[i], cuts[i + 1])));
  }
  if (_equal(pieces.flat(), ids)) {
    let at = 0;
    pieces.forEach((p, i) => {
      if (i % 2 === 1) mask.fill(1, at, at + p.length);
      at += p.length;
    });
    return { ids, assistantMask: mask };
  }
  // Otherwise a token straddles an edge: tokens shared with the text before the edge are before
  // it, and a straddling token counts as the assistant's.
  for (const [a, b] of spans) {
    const start = _commonPrefix(tok.encode(full.slice(0, a)), ids);
    const through = tok.encode(full.slice(0, b));
    const same = _commonPrefix(through, ids);
    const end = same < through.length ? Math.min(same + 1, ids.length) : same;
    mask.fill(1, start, Math.max(start, end));
  }
  return { ids, assistantMask: mask };
}

/** Character spans [start, end) of the assistant turns in `full`. */
function _assistantSpans(
  format: ChatFormat,
  messages: ChatMessage[],
  opts: ChatRenderOptions,
  full: string,
): [number, number][] {
  const spans: [number, number][] = [];
  let last = 0;
  messages.forEach((m, k) => {
    if (m.role !== "assistant") return;
    const before = renderChat(format, messages.slice(0, k), { ...opts, addGenerationPrompt: true });
    const through = k === messages.length - 1 && !opts.addGenerationPrompt
      ? full
      : renderChat(format, messages.slice(0, k + 1), { ...opts, addGenerationPrompt: false });
    if (!through.startsWith(before) || !full.startsWith(through) || before.length < last) {
      throw new UserError(
        `${format.dir}/tokenizer_config.json: chat_template does not render the conversation through turn ${k} as the beginning of the whole, so the assistant's tokens cannot be found`,
      );
    }
    spans.push([before.length, through.length]);
    last = through.length;
  });
  return spans;
}

/** The template of a `chat_template` field: a string, or the "default" of a named list. */
function _pickTemplate(v: unknown, path: string): string | null {
  if (typeof v === "string") return v.trim() ? v : null;
  if (Array.isArray(v)) {
    const d = v.find((t) => t && typeof t === "object" && t.name === "default");
    if (d && typeof d.template === "string") return d.template;
    throw new UserError(`${path}: chat_template is a list without a "default" template`);
  }
  if (v === undefined || v === null) return null;
  throw new UserError(`${path}: chat_template must be a string, not ${typeof v}`);
}

/** The single id of a special token string, or undefined. */
function _tokenId(tok: Tokenizer, token: string): number | undefined {
  const ids = tok.encode(token);
  return ids.length === 1 && tok.tokenString(ids[0]) === token ? ids[0] : undefined;
}

async function _readJson(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new UserError(`${path}: cannot read (${_oneLine(err)})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${_oneLine(err)})`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new UserError(`${path}: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

function _oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
}

function _equal(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function _commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
