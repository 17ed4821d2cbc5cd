/**
 * Demo stage "tokenizer": learns the Korean Unigram vocabulary on branching-entropy pre-tokens of
 * the demo's Korean documents (`corpus.ko.docs`; 1 in 10 held out) and merges it into Llama 3.1,
 * then reports tokens per Hangul syllable before and after on the held-out Korean lines and the
 * English documents (`corpus.en.docs`). Sets `tokenizer.json` (the eval stage compares it with
 * Llama 3.1) and `tokenizer.dir`.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { DemoStage } from "../demo/stage.ts";
import { BUILD_DEFAULTS, buildTokenizer } from "./build.ts";

/** The tokenizer stage. */
export const tokenizerStage: DemoStage = {
  name: "tokenizer",
  summary: "Korean Unigram vocabulary (branching-entropy pre-tokens) merged into Llama 3.1",
  async run(ctx) {
    const ko = ctx.artifacts.get("corpus.ko.docs");
    if (!ko) throw new UserError("tokenizer: no Korean documents (run the corpus stage first)");
    const en = ctx.artifacts.get("corpus.en.docs");
    const out = ctx.run.path("tokenizer");
    const r = await buildTokenizer({
      korean: [ko],
      english: en ? [en] : [],
      out,
      ...BUILD_DEFAULTS,
      log: (line) => ctx.quiet || console.error(`tokenizer: ${line}`),
    });
    ctx.artifacts.set("tokenizer.json", `${out}/tokenizer.json`);
    ctx.artifacts.set("tokenizer.dir", out);
    const figure = (tokenizer: string, set: string) =>
      r.rows.find((x) => x.tokenizer === tokenizer && x.set === set);
    const koBase = figure("Llama 3.1", "Korean held-out"),
      koNew = figure("merged (Jikji)", "Korean held-out");
    const enBase = figure("Llama 3.1", "English"), enNew = figure("merged (Jikji)", "English");
    return {
      vocab_size: r.vocabSize,
      added: { pieces: r.merge.added, intermediates: r.merge.intermediates },
      korean_tokens_per_syllable: {
        llama31: koBase?.tokens_per_hangul,
        merged: koNew?.tokens_per_hangul,
      },
      english_tokens: { llama31: enBase?.tokens, merged: enNew?.tokens },
      english_tokens_per_word: {
        llama31: enBase?.tokens_per_word,
        merged: enNew?.tokens_per_word,
      },
      branching_entropy_f1: r.branchingEntropy.f1,
      report: `${out}/report.md`,
    };
  },
};
