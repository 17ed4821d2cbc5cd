/**
 * The n-gram model's vocabulary and tokenisers. Word ids follow KenLM's conventions: 0 is `<unk>`,
 * 1 is `<s>`, 2 is `</s>`; every other word gets the next id when first seen. A sentence is one
 * line of text; `<s>` and `</s>` are added around it by the counter and the scorer, never by the
 * tokeniser.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";

/** Id of `<unk>`. */
export const UNK = 0;
/** Id of `<s>`. */
export const BOS = 1;
/** Id of `</s>`. */
export const EOS = 2;

/** Word ↔ id. */
export class Vocab {
  readonly words: string[] = ["<unk>", "<s>", "</s>"];
  readonly #ids = new Map<string, number>([["<unk>", UNK], ["<s>", BOS], ["</s>", EOS]]);

  /** Number of ids. */
  get size(): number {
    return this.words.length;
  }

  /** The id of `word`, adding it when new. */
  add(word: string): number {
    let id = this.#ids.get(word);
    if (id === undefined) {
      id = this.words.length;
      this.words.push(word);
      this.#ids.set(word, id);
    }
    return id;
  }

  /** The id of `word`, or {@linkcode UNK}. */
  id(word: string): number {
    return this.#ids.get(word) ?? UNK;
  }

  /** True when `word` has an id. */
  has(word: string): boolean {
    return this.#ids.has(word);
  }
}

/** Splits one line into tokens. */
export type LineTokenizer = (line: string) => string[];

/** Whitespace tokenisation, as KenLM reads its input. */
export const whitespaceTokenizer: LineTokenizer = (line) => {
  const out: string[] = [];
  for (const t of line.split(/[ \t\r\f\v\u00a0]+/)) if (t !== "") out.push(t);
  return out;
};

/**
 * A tokeniser from a Hugging Face `tokenizer.json` (any model type `@huggingface/tokenizers` —
 * transformers.js's tokenizers without the ONNX runtime, which would need `--allow-ffi` — knows):
 * the line's subword tokens, without special tokens. Tokens containing whitespace have it replaced by `▁` so that the tokens
 * can be written one per space in ARPA.
 */
export async function hfTokenizer(path: string): Promise<LineTokenizer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file`);
    throw new UserError(`${path}: not a JSON tokenizer file (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || !("model" in json)) {
    throw new UserError(`${path}: no "model" field; expected a Hugging Face tokenizer.json`);
  }
  const { Tokenizer } = await import("@huggingface/tokenizers");
  let tok: InstanceType<typeof Tokenizer>;
  try {
    tok = new Tokenizer(json, {});
  } catch (err) {
    throw new UserError(`${path}: not a usable tokenizer.json (${(err as Error).message})`);
  }
  return (line: string) =>
    tok.tokenize(line, { add_special_tokens: false }).map((t) => t.replace(/\s/g, "▁")).filter((
      t,
    ) => t !== "");
}
