/**
 * Trains a Unigram vocabulary on a text file as `spm_train --model_type=unigram` does (its word
 * split, its defaults, character coverage 0.9995), in a process of its own so that the tokenizer
 * bench can read the trainer's peak memory beside spm_train's (both under GNU time):
 *
 *     deno run --allow-read=TEXT --allow-write=VOCAB lib/tokenizer/unigram_file_train.ts \
 *       TEXT VOCAB_SIZE VOCAB
 *
 * writes the `.vocab` (`piece<TAB>score`) and prints one JSON line: `seconds`, from reading the
 * text to the finished model.
 *
 * @module
 */

import { readLines } from "../io/jsonl.ts";
import { countPreTokens, spmValidPiece, spmWords } from "./pretokens.ts";
import { trainUnigram } from "./unigram_trainer.ts";
import { sentencePieceVocabText } from "./unigram_files.ts";

if (import.meta.main) {
  const [text, size, vocab] = Deno.args;
  if (!vocab || !(Number(size) > 0)) {
    console.error("usage: unigram_file_train.ts TEXT VOCAB_SIZE VOCAB");
    Deno.exit(2);
  }
  const t0 = performance.now();
  const counts = new Map<string, number>();
  for await (const [, line] of readLines(text)) countPreTokens(counts, spmWords(line));
  const model = trainUnigram(counts, { vocabSize: Number(size), isValidPiece: spmValidPiece });
  const seconds = (performance.now() - t0) / 1000;
  await Deno.writeTextFile(vocab, sentencePieceVocabText(model));
  console.log(JSON.stringify({ seconds }));
}
