/**
 * The quality filters as pipeline steps (importing this module registers them):
 *
 * ```yaml
 * steps:
 *   - perplexity: { model: models/ko.arpa, mode: buckets, keep: [head, middle] }
 *   - edu_quality: { model: models/edu.bin, threshold: 0.5 }
 * ```
 *
 * - `perplexity` scores each document with a 5-gram model (ccnet's perplexity, or Thunder-LLM's
 *   −Σlog10 p / words with `metric: thunder`) and keeps it by a threshold or by ccnet's buckets
 *   (head ≤ 30th percentile < middle ≤ 60th < tail, the cut-offs read from `MODEL.cutoffs.json`
 *   written by `train-lm`, or given as `p30`/`p60`). Adds `perplexity`, `nll_per_word` and
 *   `ppl_bucket` to the document's metadata and counts the buckets in the step's stats.
 * - `edu_quality` keeps documents whose probability of the "edu" label under the classifier is at
 *   least `threshold`, adding `edu_prob` to the metadata.
 *
 * @module
 */

import { BaseFilter, type FilterVerdict } from "../pipeline/step.ts";
import { registerStep } from "../pipeline/registry.ts";
import type { Doc } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { loadArpa } from "./ngram/arpa_cache.ts";
import type { NgramModel } from "./ngram/model.ts";
import {
  type BucketCutoffs,
  bucketOf,
  type PerplexityBucket,
  scoreDocument,
} from "./ngram/perplexity.ts";
import { hfTokenizer, type LineTokenizer, whitespaceTokenizer } from "./ngram/vocab.ts";
import type { FastText } from "./classifier/fasttext.ts";
import { loadFastText } from "./classifier/fasttext_bin.ts";
import { EDU, eduProbability, NOT_EDU } from "./classifier/edu.ts";

/** Options of {@linkcode PerplexityFilter}. */
export interface PerplexityOptions {
  mode: "threshold" | "buckets";
  metric: "ccnet" | "thunder";
  /** Threshold mode: keep documents whose metric is at most this. */
  maxScore: number;
  /** Buckets mode: the buckets kept. */
  keep: PerplexityBucket[];
  cutoffs?: BucketCutoffs;
  tokenizer?: LineTokenizer;
}

/** Keeps documents by n-gram perplexity. */
export class PerplexityFilter extends BaseFilter {
  readonly name = "perplexity";
  readonly model: NgramModel;
  readonly options: PerplexityOptions;

  constructor(model: NgramModel, options: PerplexityOptions) {
    super();
    this.model = model;
    this.options = options;
    if (options.mode === "buckets" && !options.cutoffs) {
      throw new UserError("perplexity: buckets mode needs cut-offs (p30, p60)");
    }
  }

  /** Scores the document (into its metadata) and keeps or drops it. */
  filter(doc: Doc): FilterVerdict {
    const s = scoreDocument(this.model, doc.text, this.options.tokenizer ?? whitespaceTokenizer);
    const value = this.options.metric === "ccnet" ? s.perplexity : s.nll_per_word;
    doc.meta.perplexity = Number(s.perplexity.toFixed(2));
    doc.meta.nll_per_word = Number(s.nll_per_word.toFixed(4));
    const c = this.stats.counters;
    if (s.words === 0) return [false, "no_words"];
    c.scored_docs = (c.scored_docs ?? 0) + 1;
    c.scored_words = (c.scored_words ?? 0) + s.words;
    c.oov_words = (c.oov_words ?? 0) + s.oov;
    if (this.options.cutoffs) {
      const b = bucketOf(value, this.options.cutoffs);
      doc.meta.ppl_bucket = b;
      c[`bucket_${b}`] = (c[`bucket_${b}`] ?? 0) + 1;
    }
    if (this.options.mode === "threshold") {
      return value <= this.options.maxScore ? true : [
        false,
        "perplexity_above_threshold",
        { value: Number(value.toFixed(4)), threshold: this.options.maxScore },
      ];
    }
    const b = doc.meta.ppl_bucket as PerplexityBucket;
    return this.options.keep.includes(b) ? true : [false, `perplexity_${b}`];
  }
}

/** Keeps documents the educational classifier scores at or above a threshold. */
export class EduQualityFilter extends BaseFilter {
  readonly name = "edu_quality";
  readonly model: FastText;
  readonly threshold: number;

  constructor(model: FastText, threshold: number) {
    super();
    this.model = model;
    this.threshold = threshold;
  }

  /** Adds `edu_prob` to the metadata; keeps the document when it reaches the threshold. */
  filter(doc: Doc): FilterVerdict {
    const p = eduProbability(this.model, doc.text);
    doc.meta.edu_prob = Number(p.toFixed(4));
    return p >= this.threshold ? true : [false, "edu_prob_below_threshold", {
      value: doc.meta.edu_prob as number,
      threshold: this.threshold,
    }];
  }
}

/** Reads the cut-offs file written by `train-lm` (`{ "p30": …, "p60": … }`). */
export async function readCutoffs(path: string): Promise<BucketCutoffs> {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: no cut-offs file; run train-lm or give p30 and p60`);
    }
    throw new UserError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof v.p30 !== "number" || typeof v.p60 !== "number") {
    throw new UserError(`${path}: needs numbers "p30" and "p60"`);
  }
  return { p30: v.p30, p60: v.p60 };
}

const BUCKETS = ["head", "middle", "tail"];

registerStep("perplexity", {
  summary: "n-gram (KenLM ARPA) perplexity filter: threshold or ccnet head/middle/tail buckets",
  params: {
    model: { type: "string", required: true, description: "ARPA model (train-lm)" },
    tokenizer: {
      type: "string",
      default: "",
      description: "HF tokenizer.json the model was trained with (empty: whitespace)",
    },
    mode: {
      type: "string",
      default: "buckets",
      choices: ["threshold", "buckets"],
      description: "how to keep",
    },
    metric: {
      type: "string",
      default: "ccnet",
      choices: ["ccnet", "thunder"],
      description: "ccnet perplexity or Thunder-LLM's -sum(log10 p)/words",
    },
    max_score: {
      type: "number",
      default: 1000,
      min: 0,
      description: "threshold mode: largest kept",
    },
    keep: {
      type: "string[]",
      default: ["head", "middle"],
      validate: (v) =>
        Array.isArray(v) && v.every((b) => BUCKETS.includes(b as string))
          ? undefined
          : "a list of head, middle, tail",
      description: "buckets mode: buckets kept",
    },
    cutoffs: {
      type: "string",
      default: "",
      description: "cut-offs JSON (default MODEL.cutoffs.json)",
    },
    p30: { type: "number", description: "30th-percentile cut-off (instead of the file)" },
    p60: { type: "number", description: "60th-percentile cut-off (instead of the file)" },
  },
  async create(p) {
    const model = await loadArpa(p.model as string);
    const tokenizer = p.tokenizer ? await hfTokenizer(p.tokenizer as string) : undefined;
    let cutoffs: BucketCutoffs | undefined;
    if (typeof p.p30 === "number" && typeof p.p60 === "number") {
      cutoffs = { p30: p.p30, p60: p.p60 };
    } else if (p.cutoffs) cutoffs = await readCutoffs(p.cutoffs as string);
    else if (p.mode === "buckets") cutoffs = await readCutoffs(`${p.model}.cutoffs.json`);
    return new PerplexityFilter(model, {
      mode: p.mode as "threshold" | "buckets",
      metric: p.metric as "ccnet" | "thunder",
      maxScore: p.max_score as number,
      keep: p.keep as PerplexityBucket[],
      cutoffs,
      tokenizer,
    });
  },
});

registerStep("edu_quality", {
  summary: "fastText-style educational-quality classifier: keep documents with p(edu) ≥ threshold",
  params: {
    model: { type: "string", required: true, description: "classifier (train-classifier)" },
    threshold: { type: "number", default: 0.5, min: 0, max: 1, description: "least p(edu) kept" },
  },
  async create(p) {
    const model = await loadFastText(p.model as string);
    // without the label every document would score 0 and be removed
    if (!model.labels.includes(EDU)) {
      throw new UserError(
        `${p.model}: the classifier's labels are ${
          model.labels.map((l) => `"${l}"`).join(", ")
        }, not "${EDU}": it would remove every document; give a classifier trained by \`filter train-classifier\` (labels ${EDU}, ${NOT_EDU})`,
      );
    }
    return new EduQualityFilter(model, p.threshold as number);
  },
});
