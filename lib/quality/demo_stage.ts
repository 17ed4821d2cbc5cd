/**
 * Demo stage "quality": the two model-based filters on the demo's Korean documents.
 *
 * 1. Trains a 5-gram interpolated modified Kneser–Ney model on every other document of the
 *    reference corpus (`corpus.ko.docs`, the demo's stand-in for Thunder-LLM's Korean Wikipedia;
 *    whitespace tokens) and takes ccnet's 30/60 percentile cut-offs from the documents held out.
 * 2. Scores every document (ccnet perplexity and Thunder-LLM's −Σlog10 p / words) and keeps the
 *    head and middle buckets.
 * 3. Scores the kept documents with the HEURISTIC educational annotator (no LLM — labelled as such
 *    in each document's metadata), trains the fastText-style classifier on those scores (threshold
 *    3, minority oversampling, two rounds) and keeps documents with p(edu) ≥ 0.5.
 *
 * Filters `filter.ko.docs` (else `corpus.ko.docs`); sets `quality.ko.docs` and `quality.lm`,
 * `quality.classifier`.
 *
 * @module
 */

import { Progress, progressMode } from "../cli/progress.ts";
import { type Doc, JsonlWriter, readDocs } from "../io/jsonl.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import type { DemoStage } from "../demo/stage.ts";
import { trainNgram } from "./ngram/train.ts";
import { writeArpa } from "./ngram/arpa.ts";
import { bucketCutoffs, scoreDocument } from "./ngram/perplexity.ts";
import { saveFastText } from "./classifier/fasttext_bin.ts";
import { heuristicAnnotator, trainEduClassifier } from "./classifier/edu.ts";
import { EduQualityFilter, PerplexityFilter } from "./steps.ts";
import { chainSteps } from "../pipeline/step.ts";

/** The quality stage. */
export const qualityStage: DemoStage = {
  name: "quality",
  summary: "5-gram KN perplexity filter and fastText-style classifier (heuristic annotator)",
  async run(ctx) {
    const input = ctx.artifacts.get("filter.ko.docs") ?? ctx.artifacts.get("corpus.ko.docs");
    if (!input) throw new UserError("quality: no Korean documents (run the corpus stage first)");
    const out = ctx.run.path("quality");
    await Deno.mkdir(out, { recursive: true });
    const docs: Doc[] = [];
    for await (const d of readDocs(input)) docs.push(d);
    const reference: Doc[] = [];
    for await (const d of readDocs(ctx.artifacts.get("corpus.ko.docs") ?? input)) reference.push(d);
    const mode = progressMode(ctx.quiet);

    // 1. the 5-gram model on every other reference document; cut-offs from the others
    const train = reference.filter((_, i) => i % 2 === 0);
    const held = reference.filter((_, i) => i % 2 === 1);
    const t0 = performance.now();
    const lm = await trainNgram(train.flatMap((d) => d.text.split("\n")), { order: 5 });
    const lmSeconds = (performance.now() - t0) / 1000;
    const lmPath = `${out}/ko.5gram.arpa`;
    await writeArpa(lm.model, lmPath);
    const cutoffs = bucketCutoffs(
      held.map((d) => scoreDocument(lm.model, d.text)).filter((s) => s.words > 0).map((s) =>
        s.perplexity
      ),
    );
    await writeJsonAtomic(`${lmPath}.cutoffs.json`, { ...cutoffs, metric: "ccnet" });

    // 2. perplexity buckets
    const ppl = new PerplexityFilter(lm.model, {
      mode: "buckets",
      metric: "ccnet",
      maxScore: Infinity,
      keep: ["head", "middle"],
      cutoffs,
    });
    const progress = new Progress({ label: "quality", unit: "docs", mode });
    const kept: Doc[] = [];
    const ctxStep = { rank: 0, worldSize: 1 };
    const src = async function* (list: Doc[]) {
      for (const d of list) {
        progress.tick(1);
        yield d;
      }
    };
    for await (const d of ppl.run(src(docs), ctxStep)) kept.push(d);

    // 3. heuristic annotation (NOT an LLM), classifier, edu filter
    for (const d of kept) {
      d.meta.edu_score = await heuristicAnnotator.score(d.text);
      d.meta.edu_score_annotator = heuristicAnnotator.name;
    }
    const t1 = performance.now();
    const { model: clf, rounds } = trainEduClassifier(kept, {
      threshold: 3,
      rounds: 2,
      args: { dim: 10, epoch: 5, lr: 0.1, wordNgrams: 2, minn: 2, maxn: 4, bucket: 200_000 },
    });
    const clfSeconds = (performance.now() - t1) / 1000;
    const clfPath = `${out}/edu.classifier.bin`;
    await saveFastText(clf, clfPath);
    const edu = new EduQualityFilter(clf, 0.5);
    const path = `${out}/ko.jsonl.gz`;
    const writer = await JsonlWriter.open(path);
    for await (const d of chainSteps([edu], src(kept), ctxStep)) await writer.write(d);
    await writer.close();
    progress.done();
    ctx.artifacts.set("quality.ko.docs", path);
    ctx.artifacts.set("quality.lm", lmPath);
    ctx.artifacts.set("quality.classifier", clfPath);
    return {
      input,
      docs_in: docs.length,
      lm: {
        order: 5,
        trained_on_docs: train.length,
        ngrams: lm.model.counts(),
        train_seconds: Number(lmSeconds.toFixed(2)),
        cutoffs,
      },
      perplexity: { kept: kept.length, counters: ppl.stats.counters, removed: ppl.stats.removed },
      classifier: {
        annotator: heuristicAnnotator.name,
        rounds,
        train_seconds: Number(clfSeconds.toFixed(2)),
      },
      edu_quality: { kept: writer.count, removed: edu.stats.removed },
      output: path,
    };
  },
};
