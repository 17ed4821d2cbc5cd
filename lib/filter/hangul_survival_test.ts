import assert from "node:assert/strict";
import { readDocsFrom } from "../io/jsonl.ts";
import type { Doc } from "../io/jsonl.ts";
import { crawl } from "../crawl/crawler.ts";
import { serveStaticDir } from "../crawl/mirror.ts";
import { defaultCrawlConfig } from "../crawl/spec.ts";
import { writeDocSites } from "../data/testing.ts";
import { hangulKept } from "./hangul_survival.ts";

Deno.test("crawled DocBook, Sphinx and Javadoc pages keep their paragraphs whole through the default filter", async () => {
  const dir = await Deno.makeTempDir(), out = await Deno.makeTempDir();
  const { pages, hangul } = await writeDocSites(dir, 3);
  const server = serveStaticDir(dir);
  try {
    const seeds = ["docbook", "sphinx", "javadoc"].map((s) => `${server.origin}/${s}/index.html`);
    const summary = await crawl(
      defaultCrawlConfig({ seeds, delay: 0, max_pages: 50, gzip: false }),
      { out },
    );
    const docs: Doc[] = [];
    for await (const d of readDocsFrom(summary.shards)) docs.push(d);
    assert.equal(docs.length, pages.filter((p) => p.content).length);
    const text = docs.map((d) => d.text).join("\n");
    // every paragraph is one line, whatever the source's line breaks
    for (const p of pages) {
      for (const line of p.content.split("\n").filter((l) => l.length > 40)) {
        assert.ok(text.split("\n").includes(line), `a paragraph came apart: ${line}`);
      }
    }
    // the generators' navigation is gone, the code block is verbatim
    for (
      const nav of ["이전", "다음", "위로", "처음", "다음 클래스", "탐색", "홈 »", "다음 장으로"]
    ) {
      assert.ok(!text.split("\n").includes(nav), `navigation left: ${nav}`);
    }
    assert.ok(text.includes("psql -U postgres\nCREATE DATABASE test;\n  \\q"), text);
    for (const d of docs) {
      const title = d.meta.title as string;
      assert.ok(d.text.split("\n").filter((l) => l === title).length <= 1, `title repeated`);
    }
    // what the default filter keeps: the sentences, all of them; headings and cells go
    // (with one text line per source line, as before, 40% survived here)
    const kept = await hangulKept(docs);
    assert.equal(kept.kept_docs, docs.length);
    assert.ok(kept.kept_syllables / hangul >= 0.95, JSON.stringify({ kept, hangul }));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
