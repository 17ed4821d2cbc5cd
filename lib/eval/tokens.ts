/**
 * `eval tokens`: how many tokens each benchmark's texts take under a set of tokenizer.json files
 * (e.g. Llama 3.1 against a Korean-extended vocabulary), the figure behind Thunder-LLM's
 * evaluation-speed comparison. The text of a row is its full prompt plus its gold continuation.
 *
 * Tokenizers load through `@huggingface/tokenizers` (transformers.js's tokenizers without the ONNX
 * runtime, whose native binding `@xenova/transformers/src/tokenizers.js` loads at import and which
 * would need `--allow-ffi`).
 *
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { UserError } from "../io/errors.ts";
import { type DataOptions, loadTaskData } from "./data.ts";
import { buildInstances } from "./instances.ts";
import type { TaskConfig } from "./task_file.ts";
import { TokenLMModel } from "./model.ts";
import { NgramLM, tokenizerSegmenter } from "./ngram.ts";

/** A named tokenizer. */
export interface NamedTokenizer {
  name: string;
  encode(text: string): number[];
  decode(ids: number[]): string;
}

/** Loads a tokenizer.json file. */
export async function loadTokenizer(path: string): Promise<NamedTokenizer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new UserError(`${path}: cannot read tokenizer.json (${(err as Error).message})`);
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, {});
  } catch (err) {
    throw new UserError(`${path}: not a Hugging Face tokenizer (${(err as Error).message})`);
  }
  return {
    name: path,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false }),
  };
}

/** Token figures of one task under one tokenizer. */
export interface TokenRow {
  task: string;
  tokenizer: string;
  texts: number;
  chars: number;
  tokens: number;
  tokens_per_text: number;
  chars_per_token: number;
  /** Seconds to score every text with a token n-gram model over this tokenizer (with --time). */
  seconds?: number;
}

/** The texts of a task's rows: prompt plus gold continuation. */
export async function taskTexts(
  task: TaskConfig,
  data: DataOptions,
  limit?: number,
): Promise<string[]> {
  const { instances } = buildInstances(task, await loadTaskData(task, data), limit);
  return instances.map((inst) => {
    if (task.output_type === "multiple_choice") {
      const g = inst.gold as number;
      return inst.contexts[g] + inst.continuations[g];
    }
    if (task.output_type === "loglikelihood" || task.output_type === "loglikelihood_rolling") {
      return inst.contexts[0] + inst.continuations[0];
    }
    return inst.contexts[0] + (inst.goldOutput ? " " + inst.goldOutput : "");
  });
}

/** Counts tokens of `texts` under `tok`. */
export function countTokens(task: string, texts: string[], tok: NamedTokenizer): TokenRow {
  let chars = 0;
  let tokens = 0;
  for (const t of texts) {
    chars += [...t].length;
    tokens += tok.encode(t).length;
  }
  return {
    task,
    tokenizer: tok.name,
    texts: texts.length,
    chars,
    tokens,
    tokens_per_text: texts.length ? tokens / texts.length : 0,
    chars_per_token: tokens ? chars / tokens : 0,
  };
}

/**
 * Seconds to score every text (log-likelihood from an empty context) with `model`: the
 * evaluation-time figure, proportional to the tokens a tokenizer makes of the texts.
 */
export function timeScoring(texts: string[], model: TokenLMModel): number {
  const t0 = performance.now();
  for (const t of texts) model.score("", t);
  return (performance.now() - t0) / 1000;
}

/** A token n-gram model over `tok`, trained on `train` (for {@linkcode timeScoring}). */
export function tokenNgram(tok: NamedTokenizer, train: string[], order = 3): TokenLMModel {
  return new TokenLMModel(
    new NgramLM(train, order, `${order}gram:${tok.name}`, tokenizerSegmenter(tok)),
  );
}

/** A Markdown table of token rows, with each tokenizer's ratio to the first one. */
export function tokensTable(rows: TokenRow[]): string {
  const first = new Map<string, number>();
  for (const r of rows) if (!first.has(r.task)) first.set(r.task, r.tokens);
  const firstSec = new Map<string, number>();
  for (const r of rows) if (!firstSec.has(r.task) && r.seconds) firstSec.set(r.task, r.seconds);
  const timed = rows.some((r) => r.seconds !== undefined);
  const lines = [
    "| task | tokenizer | texts | chars | tokens | tokens/text | chars/token | vs first |" +
    (timed ? " seconds | time vs first |" : ""),
    "|---|---|---|---|---|---|---|---|" + (timed ? "---|---|" : ""),
  ];
  for (const r of rows) {
    const ratio = first.get(r.task) ? r.tokens / first.get(r.task)! : NaN;
    const sec = r.seconds === undefined
      ? ""
      : ` ${r.seconds.toFixed(3)} | ${(r.seconds / firstSec.get(r.task)!).toFixed(3)} |`;
    lines.push(
      `| ${r.task} | ${r.tokenizer} | ${r.texts} | ${r.chars} | ${r.tokens} | ${
        r.tokens_per_text.toFixed(1)
      } | ${r.chars_per_token.toFixed(2)} | ${ratio.toFixed(3)} |${sec}`,
    );
  }
  return lines.join("\n") + "\n";
}
