/**
 * Registers the filter stage's pipeline steps (normalize, line_punctuation, rules, pii,
 * exact_dedup, minhash_dedup) with the shared registry, with their parameters and defaults.
 * Importing this module is enough to make them buildable from a YAML pipeline.
 *
 * @module
 */

import type { OptionsSpec } from "../cli/options.ts";
import { registerStep } from "../pipeline/registry.ts";
// The model-based steps (perplexity, edu_quality) register themselves on import.
import "../quality/steps.ts";
import { DedupStep, minhashOptions } from "./dedup.ts";
import { MINHASH_DEFAULTS, type MinhashOptions } from "./minhash.ts";
import { Normalize } from "./normalize.ts";
import { ALL_PII_TYPES, PiiScrub, type PiiType } from "./pii.ts";
import {
  KOREAN_ENDINGS,
  LINE_PUNCTUATION_DEFAULTS,
  LinePunctuation,
  type LinePunctuationOptions,
  RULE_DEFAULTS,
  type RuleOptions,
  Rules,
  TERMINAL_PUNCTUATION,
} from "./rules.ts";

/** Names of the dedup steps; in a pipeline they come last. */
export const DEDUP_STEPS = ["exact_dedup", "minhash_dedup"];

const _ruleParams: OptionsSpec = {
  min_words: {
    type: "integer",
    min: 0,
    default: RULE_DEFAULTS.min_words,
    description: "fewest whitespace words",
  },
  max_words: {
    type: "integer",
    min: 1,
    default: RULE_DEFAULTS.max_words,
    description: "most whitespace words",
  },
  min_mean_word_length: {
    type: "number",
    min: 0,
    default: RULE_DEFAULTS.min_mean_word_length,
    description: "shortest mean word length (characters)",
  },
  max_mean_word_length: {
    type: "number",
    min: 0,
    default: RULE_DEFAULTS.max_mean_word_length,
    description: "longest mean word length (characters)",
  },
  min_hangul_ratio: {
    type: "number",
    min: 0,
    max: 1,
    default: RULE_DEFAULTS.min_hangul_ratio,
    description: "least Hangul share of non-space characters",
  },
  max_top_5gram_share: {
    type: "number",
    min: 0,
    max: 1,
    default: RULE_DEFAULTS.max_top_5gram_share,
    description: "largest share of the most frequent word 5-gram",
  },
  max_word_10gram_repetition: {
    type: "number",
    min: 0,
    max: 1,
    default: RULE_DEFAULTS.max_word_10gram_repetition,
    description: "largest share of words in repeated word 10-grams",
  },
  max_char_10gram_repetition: {
    type: "number",
    min: 0,
    max: 1,
    default: RULE_DEFAULTS.max_char_10gram_repetition,
    description: "largest share of characters in repeated character 10-grams",
  },
};

let _registered = false;

/** Registers the steps (idempotent). */
export function registerFilterSteps(): void {
  if (_registered) return;
  _registered = true;
  registerStep("normalize", {
    summary: "Unicode NFC and whitespace clean-up",
    params: {},
    create: () => new Normalize(),
  });
  registerStep("line_punctuation", {
    summary: "remove lines that do not end a sentence (punctuation or Korean ending)",
    params: {
      punctuation: {
        type: "string[]",
        default: TERMINAL_PUNCTUATION,
        description: "sentence-final marks",
      },
      korean_endings: {
        type: "string[]",
        default: KOREAN_ENDINGS,
        description: "final syllables accepted without punctuation",
      },
      short_line_words: {
        type: "integer",
        min: 0,
        default: LINE_PUNCTUATION_DEFAULTS.short_line_words,
        description: "a line of at most this many words ending no sentence is a heading/label/cell",
      },
      short_lines: {
        type: "string",
        choices: ["drop", "keep"],
        default: LINE_PUNCTUATION_DEFAULTS.short_lines,
        description: "headings, list labels and table cells without an ending: drop or keep",
      },
    },
    create: (p) => new LinePunctuation(p as unknown as LinePunctuationOptions),
  });
  registerStep("rules", {
    summary: "Thunder-LLM document rules (words, word length, Hangul share, n-gram repetition)",
    params: _ruleParams,
    create: (p) => new Rules(p as unknown as RuleOptions),
  });
  registerStep("pii", {
    summary: "replace e-mail, phone, RRN, card, account, IP by typed placeholders",
    params: {
      types: {
        type: "string[]",
        default: ALL_PII_TYPES,
        description: "PII types to scrub",
        validate: (v) =>
          (v as string[]).every((t) => (ALL_PII_TYPES as string[]).includes(t))
            ? undefined
            : `types among ${ALL_PII_TYPES.join(", ")}`,
      },
    },
    create: (p) => new PiiScrub(p.types as PiiType[]),
  });
  const device = {
    type: "string",
    default: "auto",
    choices: ["auto", "cpu", "gpu"],
    description: "where MinHash signatures are computed",
  } as const;
  registerStep("exact_dedup", {
    summary: "remove exact copies (content hash), keeping the first",
    params: {},
    create: () => new DedupStep("exact_dedup", { exact: true, minhash: null, device: "cpu" }),
  });
  registerStep("minhash_dedup", {
    summary: "MinHash-LSH near-dedup (bands × rows, word or char shingles), keeping the first",
    params: {
      bands: {
        type: "integer",
        min: 1,
        max: 512,
        default: MINHASH_DEFAULTS.bands,
        description: "LSH bands",
      },
      rows: {
        type: "integer",
        min: 1,
        max: 64,
        default: MINHASH_DEFAULTS.rows,
        description: "rows (permutations) per band",
      },
      ngram: {
        type: "integer",
        min: 1,
        max: 64,
        default: MINHASH_DEFAULTS.ngram,
        description: "shingle size",
      },
      shingle: {
        type: "string",
        choices: ["word", "char"],
        default: "word",
        description: "shingle unit",
      },
      seed: {
        type: "integer",
        min: 0,
        default: MINHASH_DEFAULTS.seed,
        description: "seed of the permutations",
      },
      device,
      verify: {
        type: "number",
        min: 0,
        max: 1,
        default: 0,
        description:
          "join bucket mates only if their signatures agree on this share (0: off, as datatrove)",
      },
      threads: {
        type: "integer",
        min: 1,
        max: 256,
        default: 1,
        description: "CPU worker threads for signatures when no GPU is used",
      },
      batch_docs: {
        type: "integer",
        min: 1,
        default: 2048,
        description: "documents per GPU batch",
      },
      run_records: {
        type: "integer",
        min: 1024,
        default: 1 << 18,
        description: "records per band in memory before a sorted run is spilled",
      },
    },
    create: (p) =>
      new DedupStep("minhash_dedup", {
        exact: false,
        minhash: minhashOptions(p as Partial<MinhashOptions>),
        device: p.device as "auto" | "cpu" | "gpu",
        batch_docs: p.batch_docs as number,
        run_records: p.run_records as number,
        verify: p.verify as number,
        threads: p.threads as number,
      }),
  });
}
