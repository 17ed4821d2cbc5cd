/**
 * Demo stage "crawl": serves the Korean LibreOffice help as a local mirror on 127.0.0.1 and crawls
 * a bounded number of its pages with the real crawler (robots, politeness, journal, extraction),
 * writing `crawl/docs/part-00000.jsonl.gz`.
 *
 * @module
 */

import { obtainHelpHtml } from "../data/libreoffice_help.ts";
import { progressMode } from "../cli/progress.ts";
import { crawl, hostTable } from "../crawl/crawler.ts";
import { helpMirrorRoot, helpStartUrl, serveStaticDir } from "../crawl/mirror.ts";
import { defaultCrawlConfig } from "../crawl/spec.ts";
import type { DemoStage } from "./stage.ts";

/** Pages the demo crawls (keeps the stage well under a minute on 2 cores). */
export const DEMO_CRAWL_PAGES = 300;

/** The crawl stage. Artifact: `crawl.ko.docs` (JSONL). */
export const crawlStage: DemoStage = {
  name: "crawl",
  summary: "polite crawl of a local mirror of the corpus",
  async run(ctx) {
    const htmlDir = ctx.artifacts.get("corpus.ko.html") ?? await obtainHelpHtml("ko", ctx.cacheDir);
    const server = serveStaticDir(helpMirrorRoot(htmlDir));
    try {
      const config = defaultCrawlConfig({
        seeds: [helpStartUrl(server.origin)],
        include: ["/ko/text/.*\\.html$"],
        max_pages: DEMO_CRAWL_PAGES,
        max_depth: 6,
        // one local host: a short delay keeps the demo quick; real crawls default to 1 s
        delay: 0.01,
        docs_per_shard: 1_000_000,
      });
      const out = ctx.run.path("crawl");
      const summary = await crawl(config, { out, progress: progressMode(ctx.quiet) });
      if (!ctx.quiet) console.error(hostTable(summary));
      if (summary.shards.length > 0) ctx.artifacts.set("crawl.ko.docs", summary.shards[0]);
      return {
        pages: summary.pages,
        docs: summary.docs,
        requests: summary.requests,
        seconds: Number(summary.seconds.toFixed(2)),
        pages_per_second: Number(summary.pages_per_second.toFixed(1)),
        path: summary.shards[0],
      };
    } finally {
      await server.close();
    }
  },
};
