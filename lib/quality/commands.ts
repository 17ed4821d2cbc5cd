/**
 * The quality subcommands: `train-lm`, `score`, `annotate`, `train-classifier`. Each is a function
 * taking its arguments (after the subcommand name) with a {@linkcode CommandSpec}; `tasks/filter.ts`
 * dispatches to them (and `deno task filter` can too).
 *
 * @module
 */

import { parseOrHelp } from "../cli/main.ts";
import type { CommandSpec } from "../cli/options.ts";
import { Progress, progressMode } from "../cli/progress.ts";
import { UserError } from "../io/errors.ts";
import { type Doc, JsonlWriter, listDocFiles, readDocsFrom, readLines } from "../io/jsonl.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { buildStep } from "../pipeline/registry.ts";
import { chainSteps, type PipelineStep, type RemovalDetail } from "../pipeline/step.ts";
import { trainNgram } from "./ngram/train.ts";
import { writeArpa } from "./ngram/arpa.ts";
import { KENLM_FALLBACK } from "./ngram/estimate.ts";
import { bucketCutoffs, scoreDocument } from "./ngram/perplexity.ts";
import { hfTokenizer, type LineTokenizer, whitespaceTokenizer } from "./ngram/vocab.ts";
import {
  type Example,
  type FastTextArgs,
  readLabelledFile,
  testFastText,
  trainFastTextParallel,
} from "./classifier/fasttext.ts";
import { saveFastText } from "./classifier/fasttext_bin.ts";
import { readVec } from "./classifier/vec.ts";
import {
  heuristicAnnotator,
  LlmAnnotator,
  oversample,
  trainEduClassifier,
} from "./classifier/edu.ts";
import type { EduAnnotator } from "./classifier/edu.ts";
import { ChatClient } from "./classifier/llm_client.ts";
import "./steps.ts";

/** Documents of a JSONL file or folder, or one document per line of a `.txt` file. */
export async function* inputDocs(path: string): AsyncGenerator<Doc> {
  if (/\.txt$/.test(path)) {
    for await (const [no, line] of readLines(path)) {
      yield { id: `${path}:${no}`, text: line, meta: {} };
    }
    return;
  }
  yield* readDocsFrom(await listDocFiles(path));
}

function _dir(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

// ---------------------------------------------------------------- train-lm

/** `train-lm INPUT OUTPUT.arpa` */
export const TRAIN_LM_SPEC = {
  name: "quality train-lm",
  summary: "train a KenLM-compatible n-gram model (interpolated modified Kneser–Ney) → ARPA",
  positionals: "INPUT(.jsonl[.gz]|dir|.txt) OUTPUT.arpa",
  options: {
    order: { type: "integer", default: 5, min: 1, max: 10, description: "n-gram order" },
    tokenizer: {
      type: "string",
      default: "",
      description: "HF tokenizer.json (empty: whitespace)",
    },
    prune: {
      type: "string",
      default: "",
      description: 'count thresholds per order, e.g. "0 0 1" (empty: no pruning)',
    },
    discount_fallback: {
      type: "boolean",
      default: false,
      description: "use discounts 0.5 1 1.5 where the data gives none (as lmplz)",
    },
    max_grams_in_memory: {
      type: "integer",
      default: 4_000_000,
      min: 1000,
      description: "distinct n-grams in memory before a sorted run is spilled to disk",
    },
    holdout_every: {
      type: "integer",
      default: 20,
      min: 0,
      description: "hold out every N-th document to compute the bucket cut-offs (0: none)",
    },
    metric: {
      type: "string",
      default: "ccnet",
      choices: ["ccnet", "thunder"],
      description: "metric of the cut-offs",
    },
  },
} as const satisfies CommandSpec;

/** Trains an n-gram model; writes OUTPUT and OUTPUT.cutoffs.json; returns figures. */
export async function trainLmCommand(args: string[]): Promise<Record<string, unknown> | undefined> {
  const parsed = await parseOrHelp(TRAIN_LM_SPEC, args);
  if (!parsed) return;
  const { options: o, positionals, quiet } = parsed;
  if (positionals.length !== 2) throw new UserError("train-lm needs INPUT and OUTPUT.arpa");
  const [input, output] = positionals;
  const tokenizer: LineTokenizer = o.tokenizer
    ? await hfTokenizer(o.tokenizer)
    : whitespaceTokenizer;
  const prune = parsePrune(o.prune, o.order);
  const held: string[] = [];
  const progress = new Progress({ label: "train-lm", unit: "docs", mode: progressMode(quiet) });
  async function* lines(): AsyncGenerator<string> {
    let i = 0;
    for await (const d of inputDocs(input)) {
      progress.tick(1);
      if (o.holdout_every > 0 && i++ % o.holdout_every === o.holdout_every - 1) {
        held.push(d.text);
        continue;
      }
      yield* d.text.split("\n");
    }
  }
  const t0 = performance.now();
  const tmpDir = `${_dir(output)}/.ngram-runs-${Deno.pid}`;
  await Deno.mkdir(tmpDir, { recursive: true });
  let est;
  try {
    est = await trainNgram(lines(), {
      order: o.order,
      tokenizer,
      prune,
      discountFallback: o.discount_fallback ? KENLM_FALLBACK : undefined,
      maxGramsInMemory: o.max_grams_in_memory,
      tmpDir,
    });
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
  progress.done();
  const trainSeconds = (performance.now() - t0) / 1000;
  await writeArpa(est.model, output);
  const result: Record<string, unknown> = {
    output,
    ngrams: est.model.counts(),
    tokens: est.tokens,
    sentences: est.sentences,
    sorted_runs: est.runs,
    discounts: est.discounts,
    fallback_orders: est.fallbackOrders,
    train_seconds: Number(trainSeconds.toFixed(2)),
  };
  if (held.length > 0) {
    const values = held.map((t) => scoreDocument(est.model, t, tokenizer))
      .filter((s) => s.words > 0)
      .map((s) => (o.metric === "ccnet" ? s.perplexity : s.nll_per_word));
    if (values.length > 0) {
      const cutoffs = { ...bucketCutoffs(values), metric: o.metric, docs: values.length };
      await writeJsonAtomic(`${output}.cutoffs.json`, cutoffs);
      result.cutoffs = cutoffs;
    }
  }
  return result;
}

// ---------------------------------------------------------------- score

/** `score INPUT OUTPUT.jsonl` */
export const SCORE_SPEC = {
  name: "quality score",
  summary: "score documents with the n-gram model and/or the classifier and keep the good ones",
  positionals: "INPUT(.jsonl[.gz]|dir) OUTPUT.jsonl[.gz]",
  options: {
    lm: { type: "string", default: "", description: "ARPA model (perplexity filter)" },
    lm_tokenizer: { type: "string", default: "", description: "its HF tokenizer.json" },
    mode: {
      type: "string",
      default: "buckets",
      choices: ["threshold", "buckets"],
      description: "perplexity: how to keep",
    },
    metric: {
      type: "string",
      default: "ccnet",
      choices: ["ccnet", "thunder"],
      description: "perplexity metric",
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
      description: "buckets mode: buckets kept",
    },
    classifier: { type: "string", default: "", description: "edu classifier (edu_quality filter)" },
    threshold: { type: "number", default: 0.5, min: 0, max: 1, description: "least p(edu) kept" },
    removed: { type: "string", default: "", description: "also write removed documents here" },
  },
} as const satisfies CommandSpec;

/** Runs the perplexity and/or edu filters over documents; returns their stats. */
export async function scoreCommand(args: string[]): Promise<Record<string, unknown> | undefined> {
  const parsed = await parseOrHelp(SCORE_SPEC, args);
  if (!parsed) return;
  const { options: o, positionals, quiet } = parsed;
  if (positionals.length !== 2) throw new UserError("score needs INPUT and OUTPUT");
  if (!o.lm && !o.classifier) throw new UserError("score needs --lm and/or --classifier");
  const steps: PipelineStep[] = [];
  if (o.lm) {
    steps.push(
      await buildStep("perplexity", {
        model: o.lm,
        tokenizer: o.lm_tokenizer,
        mode: o.mode,
        metric: o.metric,
        max_score: o.max_score,
        keep: o.keep,
      }, "--lm"),
    );
  }
  if (o.classifier) {
    steps.push(
      await buildStep(
        "edu_quality",
        { model: o.classifier, threshold: o.threshold },
        "--classifier",
      ),
    );
  }
  const [input, output] = positionals;
  const out = await JsonlWriter.open(output);
  const removed = o.removed ? await JsonlWriter.open(o.removed) : undefined;
  const progress = new Progress({ label: "score", unit: "docs", mode: progressMode(quiet) });
  try {
    const src = (async function* () {
      for await (const d of inputDocs(input)) {
        progress.tick(1);
        yield d;
      }
    })();
    const ctx = {
      rank: 0,
      worldSize: 1,
      onRemoved: async (doc: Doc, step: string, reason: string, detail?: RemovalDetail) => {
        await removed?.write({
          ...doc,
          meta: { ...doc.meta, removed_by: step, reason, ...detail },
        });
      },
    };
    for await (const d of chainSteps(steps, src, ctx)) await out.write(d);
  } catch (err) {
    await out.abort();
    await removed?.abort();
    throw err;
  }
  progress.done();
  await out.close();
  await removed?.close();
  return {
    output,
    kept: out.count,
    stats: Object.fromEntries(steps.map((s) => [s.name, s.stats])),
  };
}

// ---------------------------------------------------------------- annotate

/** `annotate INPUT OUTPUT.jsonl` */
export const ANNOTATE_SPEC = {
  name: "quality annotate",
  summary:
    "give documents an educational score 0–5 by an LLM (OpenAI-compatible URL) or a heuristic",
  positionals: "INPUT(.jsonl[.gz]|dir) OUTPUT.jsonl",
  options: {
    url: {
      type: "string",
      default: "",
      description: "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1",
    },
    model: { type: "string", default: "", description: "model name sent to the endpoint" },
    api_key_env: {
      type: "string",
      default: "JIKJI_LLM_API_KEY",
      description: "environment variable holding the API key (optional; never logged)",
    },
    heuristic: {
      type: "boolean",
      default: false,
      description: "use the HEURISTIC annotator (no LLM; for demos and tests)",
    },
    field: { type: "string", default: "edu_score", description: "metadata field for the score" },
    limit: {
      type: "integer",
      default: 0,
      min: 0,
      description: "annotate at most N documents (0: all)",
    },
    max_chars: {
      type: "integer",
      default: 4000,
      min: 100,
      description: "characters sent per document",
    },
  },
} as const satisfies CommandSpec;

/**
 * Annotates documents. Progress is appended to `OUTPUT.partial` one document at a time, so a
 * killed run resumes where it stopped; OUTPUT appears when all are done.
 */
export async function annotateCommand(
  args: string[],
): Promise<Record<string, unknown> | undefined> {
  const parsed = await parseOrHelp(ANNOTATE_SPEC, args);
  if (!parsed) return;
  const { options: o, positionals, quiet } = parsed;
  if (positionals.length !== 2) throw new UserError("annotate needs INPUT and OUTPUT");
  let annotator: EduAnnotator;
  if (o.heuristic) annotator = heuristicAnnotator;
  else {
    if (!o.url || !o.model) {
      throw new UserError(
        "annotate needs --url and --model (or --heuristic for the no-LLM heuristic)",
      );
    }
    let apiKey: string | undefined;
    try {
      apiKey = Deno.env.get(o.api_key_env) || undefined;
    } catch {
      throw new UserError(
        `--api-key-env ${o.api_key_env}: the task may read only JIKJI_LLM_API_KEY (see deno.json)`,
      );
    }
    annotator = new LlmAnnotator(
      new ChatClient({ url: o.url, model: o.model, apiKey }),
      o.model,
      o.max_chars,
    );
  }
  const [input, output] = positionals;
  const partial = `${output}.partial`;
  let done = 0;
  try {
    for await (const [, line] of readLines(partial)) {
      JSON.parse(line);
      done++;
    }
  } catch (err) {
    if (!(err instanceof UserError) && !(err instanceof SyntaxError)) throw err;
    if (err instanceof SyntaxError) {
      throw new UserError(
        `${partial}: line ${done + 1} is not JSON; delete the file to start over`,
      );
    }
  }
  const file = await Deno.open(partial, { create: true, append: true });
  const enc = new TextEncoder();
  const progress = new Progress({
    label: `annotate (${annotator.name})`,
    unit: "docs",
    mode: progressMode(quiet),
  });
  let i = 0, scored = 0, missing = 0;
  const hist: Record<string, number> = {};
  try {
    for await (const d of inputDocs(input)) {
      if (o.limit > 0 && i >= o.limit) break;
      if (i++ < done) continue;
      const score = await annotator.score(d.text.slice(0, o.max_chars));
      const meta: Record<string, unknown> = { ...d.meta, [`${o.field}_annotator`]: annotator.name };
      if (score === undefined) missing++;
      else {
        meta[o.field] = score;
        scored++;
        hist[score] = (hist[score] ?? 0) + 1;
      }
      await file.write(enc.encode(JSON.stringify({ ...d, meta }) + "\n"));
      progress.tick(1);
    }
  } finally {
    file.close();
  }
  progress.done();
  await Deno.rename(partial, output);
  return {
    output,
    annotator: annotator.name,
    resumed_after: done,
    scored,
    no_score: missing,
    histogram: hist,
  };
}

// ---------------------------------------------------------------- train-classifier

/** `train-classifier INPUT OUTPUT.bin` */
export const TRAIN_CLASSIFIER_SPEC = {
  name: "quality train-classifier",
  summary: "train the fastText-style classifier (edu scores in JSONL, or a __label__ .txt file)",
  positionals: "INPUT(.jsonl[.gz]|dir|.txt) OUTPUT.bin",
  options: {
    score_field: {
      type: "string",
      default: "edu_score",
      description: "JSONL: metadata field of the score",
    },
    threshold: { type: "number", default: 3, description: 'JSONL: scores at or above are "edu"' },
    rounds: { type: "integer", default: 2, min: 1, max: 10, description: "retraining rounds" },
    unlabeled: {
      type: "string",
      default: "",
      description: "documents for pseudo-labels in later rounds",
    },
    confidence: {
      type: "number",
      default: 0.9,
      min: 0.5,
      max: 1,
      description: "pseudo-label confidence",
    },
    valid_fraction: {
      type: "number",
      default: 0.1,
      min: 0,
      max: 0.5,
      description: "held out for validation",
    },
    oversample: { type: "boolean", default: true, description: "oversample the minority class" },
    test: { type: "string", default: "", description: "__label__ file to report P@1 on" },
    dim: { type: "integer", default: 50, min: 1, max: 1000, description: "embedding size" },
    epoch: { type: "integer", default: 5, min: 1, description: "passes over the data" },
    lr: {
      type: "number",
      default: 0.1,
      min: 0,
      description: "initial learning rate (decays linearly)",
    },
    word_ngrams: {
      type: "integer",
      default: 2,
      min: 1,
      max: 5,
      description: "longest word n-gram",
    },
    minn: { type: "integer", default: 2, min: 0, description: "shortest char n-gram (0: none)" },
    maxn: { type: "integer", default: 4, min: 0, description: "longest char n-gram (0: none)" },
    bucket: { type: "integer", default: 1_000_000, min: 1, description: "hash buckets" },
    min_count: { type: "integer", default: 1, min: 1, description: "least count of a word" },
    seed: { type: "integer", default: 1, description: "random seed" },
    threads: {
      type: "integer",
      default: 1,
      min: 1,
      max: 64,
      description: "Hogwild worker threads (.txt input; >1 is not bit-for-bit reproducible)",
    },
    pretrained_vectors: {
      type: "string",
      default: "",
      description: "fastText .vec to start word rows from",
    },
  },
} as const satisfies CommandSpec;

/**
 * `--prune` as lmplz reads it: count thresholds per order from unigrams up, non-decreasing, the
 * last one applying to every remaining order ("0 1" for a 5-gram is "0 1 1 1 1"); undefined when
 * empty (no pruning).
 */
export function parsePrune(text: string, order: number): number[] | undefined {
  if (text.trim() === "") return undefined;
  const given = text.trim().split(/[\s,]+/).map(Number);
  const bad = (why: string): never => {
    throw new UserError(`--prune "${text}": ${why}`);
  };
  if (given.some((x) => !Number.isInteger(x) || x < 0)) bad("expected non-negative integers");
  if (given.length > order) bad(`${given.length} thresholds for a ${order}-gram model`);
  if (given[0] !== 0) bad("unigrams are never pruned, so the first threshold must be 0 (as lmplz)");
  if (given.some((x, i) => i > 0 && x < given[i - 1])) {
    bad("thresholds must not decrease with the order (as lmplz requires)");
  }
  return Array.from({ length: order }, (_, i) => given[Math.min(i, given.length - 1)]);
}

/** Trains and saves the classifier; returns its figures. */
export async function trainClassifierCommand(
  args: string[],
): Promise<Record<string, unknown> | undefined> {
  const parsed = await parseOrHelp(TRAIN_CLASSIFIER_SPEC, args);
  if (!parsed) return;
  const { options: o, positionals } = parsed;
  if (positionals.length !== 2) throw new UserError("train-classifier needs INPUT and OUTPUT.bin");
  const [input, output] = positionals;
  const ftArgs: Partial<FastTextArgs> = {
    dim: o.dim,
    epoch: o.epoch,
    lr: o.lr,
    wordNgrams: o.word_ngrams,
    minn: o.minn,
    maxn: o.maxn,
    bucket: o.bucket,
    minCount: o.min_count,
    seed: o.seed,
  };
  const pretrained = o.pretrained_vectors
    ? (await readVec(o.pretrained_vectors)).vectors
    : undefined;
  const t0 = performance.now();
  let model;
  const result: Record<string, unknown> = { output };
  if (input.endsWith(".txt")) {
    const data: Example[] = await readLabelledFile(input);
    model = await trainFastTextParallel(o.oversample ? oversample(data, o.seed) : data, ftArgs, {
      pretrained,
      threads: o.threads,
    });
    result.examples = data.length;
  } else {
    const docs: Doc[] = [];
    for await (const d of inputDocs(input)) docs.push(d);
    const unlabeled: Doc[] = [];
    if (o.unlabeled) { for await (const d of inputDocs(o.unlabeled)) unlabeled.push(d); }
    const r = trainEduClassifier(docs, {
      scoreField: o.score_field,
      threshold: o.threshold,
      rounds: o.rounds,
      confidence: o.confidence,
      validFraction: o.valid_fraction,
      oversample: o.oversample,
      args: ftArgs,
      seed: o.seed,
      unlabeled,
    });
    model = r.model;
    result.rounds = r.rounds;
  }
  result.train_seconds = Number(((performance.now() - t0) / 1000).toFixed(2));
  result.labels = model.labels;
  if (o.test) result.test = testFastText(model, await readLabelledFile(o.test));
  await saveFastText(model, output);
  return result;
}

/** Subcommands by name. */
export const QUALITY_COMMANDS: Record<
  string,
  { spec: CommandSpec; run: (args: string[]) => Promise<Record<string, unknown> | undefined> }
> = {
  "train-lm": { spec: TRAIN_LM_SPEC, run: trainLmCommand },
  "score": { spec: SCORE_SPEC, run: scoreCommand },
  "annotate": { spec: ANNOTATE_SPEC, run: annotateCommand },
  "train-classifier": { spec: TRAIN_CLASSIFIER_SPEC, run: trainClassifierCommand },
};
