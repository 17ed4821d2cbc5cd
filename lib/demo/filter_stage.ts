/**
 * Demo stage "filter": runs the default filter pipeline (data/configs/filter.yaml: normalisation,
 * Thunder-LLM rules, PII scrubbing, exact and MinHash-LSH dedup) on the crawled Korean documents
 * (`crawl.ko.docs`) when the crawl stage ran, else on the corpus (`corpus.ko.docs`), and sets
 * `filter.ko.docs` to the kept documents.
 *
 * The LibreOffice help is technical text (menu paths, English UI names, code): the paper's
 * Hangul share ≥ 0.8 rule removes most pages, and the figures say how many survive.
 *
 * @module
 */

import { FilterRunner } from "../filter/runner.ts";
import { DEFAULT_PIPELINE } from "../filter/pipeline.ts";
import { UserError } from "../io/errors.ts";
import { listDocFiles, readDocsFrom, writeDocs } from "../io/jsonl.ts";
import type { DemoStage } from "./stage.ts";

/** The filter stage. Artifact: `filter.ko.docs` (JSONL.gz of the kept documents). */
export const filterStage: DemoStage = {
  name: "filter",
  summary: "rule filters, PII scrubbing, MinHash-LSH dedup",
  async run(ctx) {
    const input = ctx.artifacts.get("crawl.ko.docs") ?? ctx.artifacts.get("corpus.ko.docs");
    if (!input) {
      throw new UserError(
        "filter stage: no crawl.ko.docs or corpus.ko.docs (run the corpus stage)",
      );
    }
    const output = ctx.run.path("filter");
    const runner = new FilterRunner({
      input,
      output,
      pipeline: DEFAULT_PIPELINE,
      where: "default pipeline",
      log: (m) => ctx.quiet || console.error(`filter: ${m}`),
    });
    const report = await runner.runAll();
    // one file for later stages, whatever the number of shards (one per input file)
    const kept = `${output}/ko.jsonl.gz`;
    await writeDocs(kept, readDocsFrom(await listDocFiles(`${output}/kept`)));
    ctx.artifacts.set("filter.ko.docs", kept);
    return {
      input,
      docs_in: report.docs_in,
      docs_out: report.docs_out,
      chars_in: report.chars_in,
      chars_out: report.chars_out,
      removed: report.removed_by_reason,
      pii: report.pii,
      kept,
    };
  },
};
