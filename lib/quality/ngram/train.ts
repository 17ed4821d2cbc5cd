/**
 * Training an n-gram model from lines of text: tokenise, count out of core, estimate by
 * interpolated modified Kneser–Ney.
 *
 * @module
 */

import { NgramCounter } from "./count.ts";
import { type Estimate, estimateKneserNey, type EstimateOptions } from "./estimate.ts";
import { type LineTokenizer, Vocab, whitespaceTokenizer } from "./vocab.ts";

const SPECIAL = new Set(["<s>", "</s>", "<unk>"]);

/** Options of {@linkcode trainNgram}. */
export interface TrainNgramOptions extends EstimateOptions {
  /** Model order (default 5). */
  order?: number;
  tokenizer?: LineTokenizer;
  /** Distinct n-grams held in memory before a sorted run is spilled to disk. */
  maxGramsInMemory?: number;
  /** Folder for the sorted runs (default: a temporary folder). */
  tmpDir?: string;
  /** Called every 10,000 lines with the number of lines read. */
  onProgress?: (lines: number) => void;
}

/** The trained model, its statistics and the counting figures. */
export interface TrainedNgram extends Estimate {
  tokens: number;
  sentences: number;
  /** Sorted runs spilled to disk while counting. */
  runs: number;
}

/**
 * Trains a model on `lines` (each non-empty line is a sentence). The tokens `<s>`, `</s>` and
 * `<unk>` in the text are skipped, as lmplz does with `--skip_symbols`.
 *
 * @example
 * ```ts
 * import { trainNgram } from "./train.ts";
 * const { model } = await trainNgram(["a b c", "a b", "b c a"], {
 *   order: 3,
 *   discountFallback: [0.5, 1, 1.5],
 * });
 * console.log(model.counts()[0]); // 6: <unk> <s> </s> a b c
 * ```
 */
export async function trainNgram(
  lines: Iterable<string> | AsyncIterable<string>,
  options: TrainNgramOptions = {},
): Promise<TrainedNgram> {
  const order = options.order ?? 5;
  const tokenize = options.tokenizer ?? whitespaceTokenizer;
  const vocab = new Vocab();
  const counter = new NgramCounter({
    order,
    maxGramsInMemory: options.maxGramsInMemory,
    tmpDir: options.tmpDir,
  });
  let n = 0;
  for await (const line of lines) {
    if (++n % 10_000 === 0) options.onProgress?.(n);
    // <s>, </s> and <unk> in the text are read as whitespace (lmplz's --skip_symbols).
    const toks = tokenize(line).filter((t) => !SPECIAL.has(t));
    if (toks.length === 0) continue;
    const ids = new Int32Array(toks.length);
    for (let i = 0; i < toks.length; i++) ids[i] = vocab.add(toks[i]);
    await counter.addSentence(ids);
  }
  const counts = await counter.finish();
  const est = estimateKneserNey(counts, vocab, options);
  return { ...est, tokens: counts.tokens, sentences: counts.sentences, runs: counts.runs };
}
