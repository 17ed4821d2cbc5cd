/**
 * `deno task tokenizer SUBCOMMAND`: the tokenizer stage. `train` learns a Korean Unigram
 * vocabulary on branching-entropy pre-tokens and merges it into Llama 3.1's tokenizer; `report`
 * compares tokenizers on held-out Korean and English text. See lib/tokenizer/build.ts.
 */

import { dispatchSubcommand, parseOrHelp, runMain, type Subcommand } from "../lib/cli/main.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { ByteLevelBpe } from "../lib/tokenizer/bpe.ts";
import {
  BUILD_DEFAULTS,
  buildTokenizer,
  compareRows,
  readBase,
  reportTexts,
} from "../lib/tokenizer/build.ts";
import { readSplit } from "../lib/tokenizer/corpus.ts";
import { reportMarkdown } from "../lib/tokenizer/report.ts";

const corpusOptions = {
  korean: {
    type: "string[]",
    required: true,
    description: "Korean corpora: .jsonl[.gz] document records or .txt (one document a line)",
  },
  english: {
    type: "string[]",
    default: [],
    description: "English corpora for the report (not trained on)",
  },
  base: { type: "string", default: BUILD_DEFAULTS.base, description: "the base tokenizer.json" },
  held_out_every: {
    type: "integer",
    default: BUILD_DEFAULTS.heldOutEvery,
    min: 2,
    description: "hold out 1 in N documents (by a hash of the id) for the report",
  },
  english_limit: {
    type: "integer",
    default: BUILD_DEFAULTS.englishLimit,
    min: 1,
    description: "English lines in the report at most",
  },
} as const;

const trainSpec = {
  name: "tokenizer train",
  summary: "Korean Unigram vocabulary on branching-entropy pre-tokens, merged into Llama 3.1",
  options: {
    ...corpusOptions,
    output: {
      type: "string",
      path: "write",
      description: "output folder (default: a new runs/tokenizer-<time>/)",
    },
    add: {
      type: "integer",
      default: BUILD_DEFAULTS.add,
      min: 1,
      description: "new token ids at most",
    },
    unigram_vocab: {
      type: "integer",
      default: BUILD_DEFAULTS.unigramVocab,
      min: 300,
      description: "Unigram vocabulary size (pieces before the merge, byte pieces included)",
    },
    unit: {
      type: "string",
      default: BUILD_DEFAULTS.unit,
      choices: ["jamo", "syllable", "none"],
      description: "units of the branching entropy (none: Llama's regex split only)",
    },
    character_coverage: {
      type: "number",
      default: BUILD_DEFAULTS.characterCoverage,
      min: 0.5,
      max: 1,
      description: "share of Korean characters the vocabulary must cover",
    },
    required_chars: {
      type: "string",
      default: "",
      description: "characters the vocabulary must hold whatever their frequency",
    },
    max_piece_length: {
      type: "integer",
      default: BUILD_DEFAULTS.maxPieceLength,
      min: 1,
      description: "longest piece, in characters",
    },
  },
} as const;

const reportSpec = {
  name: "tokenizer report",
  summary: "tokens per Hangul syllable, per character, bytes per token: base vs merged, held out",
  options: {
    ...corpusOptions,
    tokenizer: {
      type: "string",
      required: true,
      description: "the tokenizer.json to compare with the base (or its folder)",
    },
    all: {
      type: "boolean",
      default: false,
      description:
        "measure every document of --korean and every --english line (an outside corpus), not only the held-out 1 in N",
    },
  },
} as const;

/** The subcommands. */
const SUBCOMMANDS: Record<string, Subcommand> = {
  train: {
    summary: trainSpec.summary,
    async main(args) {
      const parsed = await parseOrHelp(trainSpec, args);
      if (!parsed) return;
      const { options: o, quiet } = parsed;
      const run = await createRun({
        task: "tokenizer",
        config: o as Record<string, unknown>,
        dir: o.output,
        gpu: false,
        echo: !quiet,
      });
      const result = await buildTokenizer({
        korean: o.korean,
        english: o.english,
        base: o.base,
        out: run.dir,
        add: o.add,
        unigramVocab: o.unigram_vocab,
        unit: o.unit as "jamo" | "syllable" | "none",
        characterCoverage: o.character_coverage,
        maxPieceLength: o.max_piece_length,
        requiredChars: o.required_chars,
        heldOutEvery: o.held_out_every,
        englishLimit: o.english_limit,
        log: (line) => run.log(line),
      });
      await run.finish({ vocab_size: result.vocabSize, merge: result.merge });
      console.log(await Deno.readTextFile(`${run.dir}/report.md`));
      console.log(`tokenizer: ${run.dir}/tokenizer.json`);
    },
  },
  report: {
    summary: reportSpec.summary,
    async main(args) {
      const parsed = await parseOrHelp(reportSpec, args);
      if (!parsed) return;
      const o = parsed.options;
      const path = o.tokenizer.endsWith(".json") ? o.tokenizer : `${o.tokenizer}/tokenizer.json`;
      const base = ByteLevelBpe.fromJson(await readBase(o.base), o.base);
      const merged = ByteLevelBpe.fromJson(await readBase(path), path);
      const { train, heldOut } = await readSplit(o.korean, o.held_out_every);
      const ko = o.all ? [...heldOut, ...train] : heldOut;
      const limit = o.all ? Number.MAX_SAFE_INTEGER : o.english_limit;
      const texts = await reportTexts(ko, o.english, o.held_out_every, limit);
      const label = o.all ? "Korean (all)" : "Korean held-out";
      const rows = compareRows([["base", base], [path, merged]], texts, label);
      console.log(reportMarkdown(rows));
    },
  },
};

const topSpec = {
  name: "tokenizer",
  summary: "Korean vocabulary by branching entropy and Unigram, merged into Llama 3.1",
  options: {},
  subcommands: Object.fromEntries(Object.entries(SUBCOMMANDS).map(([n, s]) => [n, s.summary])),
};

if (import.meta.main) {
  await runMain(() => dispatchSubcommand(topSpec, SUBCOMMANDS, Deno.args));
}
