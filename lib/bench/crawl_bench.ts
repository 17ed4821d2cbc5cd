/**
 * `bench crawl`: pages/s of the crawler on a local mirror of the Korean LibreOffice help (no
 * politeness delay: it measures the crawler's own cost — fetch, decode, extract, journal, shards),
 * against a naive peer that fetches the same pages one by one and extracts them with the same
 * extractor but keeps no journal, robots, frontier or output; and extraction precision/recall
 * against the pages' `#DisplayArea` text.
 *
 * @module
 */

import { readDocsFrom } from "../io/jsonl.ts";
import { helpPageText, listHtmlFiles, obtainHelpHtml } from "../data/libreoffice_help.ts";
import { crawl } from "../crawl/crawler.ts";
import { extractPage } from "../crawl/extract.ts";
import { helpMirrorRoot, helpStartUrl, serveStaticDir } from "../crawl/mirror.ts";
import { tokenOverlap } from "../crawl/overlap.ts";
import { defaultCrawlConfig } from "../crawl/spec.ts";
import type { BenchResult, BenchSuite } from "./harness.ts";

/** The crawl suite. */
export const crawlBench: BenchSuite = {
  name: "crawl",
  summary: "crawler pages/s on a local LibreOffice mirror; extraction precision/recall",
  async *run(ctx): AsyncIterable<BenchResult> {
    const htmlDir = await obtainHelpHtml("ko", ctx.cacheDir);
    const root = helpMirrorRoot(htmlDir);
    const server = serveStaticDir(root);
    const pages = ctx.quick ? 150 : 600;
    const out = `${ctx.cacheDir}/bench-crawl`;
    try {
      for (const perHost of [1, 4]) {
        await Deno.remove(out, { recursive: true }).catch(() => {});
        const summary = await crawl(
          defaultCrawlConfig({
            seeds: [helpStartUrl(server.origin)],
            include: ["/ko/text/.*\\.html$"],
            max_pages: pages,
            max_depth: 10,
            delay: 0,
            per_host_concurrency: perHost,
            concurrency: perHost,
          }),
          { out },
        );
        ctx.log(
          `crawl: ${summary.pages} pages, ${summary.docs} docs in ${summary.seconds.toFixed(1)} s`,
        );
        const urls: string[] = [];
        for await (const d of readDocsFrom(summary.shards)) urls.push(d.meta.final_url as string);
        // the peer: the same pages fetched and extracted one after another, nothing else
        const t0 = performance.now();
        for (const u of urls) {
          const html = await (await fetch(u)).text();
          extractPage(html, u);
        }
        const peerSeconds = (performance.now() - t0) / 1000;
        yield {
          name: `crawl local mirror, ${perHost} in flight per host`,
          value: summary.pages / summary.seconds,
          unit: "pages/s",
          peer: "sequential fetch + extract (no robots, journal, output)",
          peer_value: urls.length / peerSeconds,
          note: `${summary.pages} pages, ${summary.docs} docs, delay 0`,
        };
      }
      const files = (await listHtmlFiles(`${htmlDir}/text`)).filter((_, i) =>
        i % (ctx.quick ? 10 : 1) === 0
      );
      let both = 0, ext = 0, ref = 0;
      for (const f of files) {
        const html = await Deno.readTextFile(f);
        const r = helpPageText(html);
        if (!r || !r.text) continue;
        const o = tokenOverlap(extractPage(html, "http://127.0.0.1/x.html").text, r.text);
        both += o.precision * o.extractedTokens;
        ext += o.extractedTokens;
        ref += o.referenceTokens;
      }
      const note = `${files.length} pages, tokens pooled; reference: #DisplayArea`;
      yield { name: "extraction precision", value: both / ext, unit: "share", note };
      yield { name: "extraction recall", value: both / ref, unit: "share", note };
    } finally {
      await server.close();
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
};

/** A page of `n` links, inline in the body (the shape that made extraction quadratic). */
export function manyLinksPage(n: number): string {
  const links = Array.from({ length: n }, (_, i) => `<a href="/p/${i}.html">링크 ${i}</a> `);
  return `<html><body><p>본문입니다. 한국어 글입니다.</p>${links.join("")}</body></html>`;
}

/** The extract suite: extraction time against the number of links on one page (linear?). */
export const extractBench: BenchSuite = {
  name: "extract",
  summary: "crawl extraction time of one page against its number of links (10k, 40k)",
  async *run(ctx): AsyncIterable<BenchResult> {
    await Promise.resolve();
    const sizes = ctx.quick ? [2_500, 10_000] : [10_000, 40_000];
    const seconds: number[] = [];
    for (const n of sizes) {
      const html = manyLinksPage(n);
      const t0 = performance.now();
      const page = extractPage(html, "http://example.com/");
      seconds.push((performance.now() - t0) / 1000);
      ctx.log(`extract: ${n} links → ${page.links.length} in ${seconds.at(-1)!.toFixed(2)} s`);
      yield {
        name: `extract a page of ${n} links`,
        value: seconds.at(-1)!,
        unit: "s",
        note: `${(html.length / 1024).toFixed(0)} KB of HTML`,
      };
    }
    yield {
      name: `extraction time ×${sizes[1] / sizes[0]} links`,
      value: seconds[1] / seconds[0],
      unit: "×",
      note: `linear: about ${sizes[1] / sizes[0]}; quadratic: about ${(sizes[1] / sizes[0]) ** 2}`,
    };
  },
};
