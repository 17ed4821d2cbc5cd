import assert from "node:assert/strict";
import { readDocsFrom } from "../io/jsonl.ts";
import { crawl } from "./crawler.ts";
import { readJournal } from "./journal.ts";
import { defaultCrawlConfig } from "./spec.ts";
import { CP949_TEXT, minGap, PAGE_TEXT, startTestSite } from "./testing.ts";

const DELAY = 0.05;

Deno.test("crawl() is polite, obeys robots.txt and handles the test site's traps", async () => {
  const site = await startTestSite();
  const out = await Deno.makeTempDir();
  try {
    const config = defaultCrawlConfig({
      seeds: [site.origin + "/"],
      sitemaps: [site.origin + "/sitemap_index.xml"],
      delay: DELAY,
      backoff: 0.05,
      retries: 3,
      max_bytes: 64 * 1024,
      blocked_keywords: ["도박"],
      max_pages: 200,
      concurrency: 4,
      gzip: false,
    });
    const summary = await crawl(config, { out });
    const paths = site.log.map((r) => r.path);

    // robots.txt: fetched once; disallowed URLs never requested, also not through a redirect
    assert.equal(paths.filter((p) => p === "/robots.txt").length, 1);
    assert.ok(!paths.includes("/private/secret.html"), "disallowed page was requested");
    assert.ok(!paths.includes("/doc.pdf"), "disallowed pattern /*.pdf$ was requested");
    assert.ok(paths.includes("/private/open.html"), "Allow rule ignored");
    // politeness: no two requests to the host closer than the delay (server's own clock)
    const gap = minGap(site.log);
    assert.ok(gap >= DELAY * 1000, `requests ${gap.toFixed(1)} ms apart, delay ${DELAY * 1000} ms`);
    // Retry-After: 1 s between the 429 and the retry
    const busy = site.log.filter((r) => r.path === "/busy.html");
    assert.equal(busy.length, 2);
    assert.ok(busy[1].t - busy[0].t >= 1000, `Retry-After ignored: ${busy[1].t - busy[0].t} ms`);
    // 500 twice then success: three requests
    assert.equal(paths.filter((p) => p === "/flaky.html").length, 3);
    // every URL requested once, apart from the retries
    const counts = new Map<string, number>();
    for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
    for (const [p, n] of counts) {
      if (p !== "/flaky.html" && p !== "/busy.html") {
        assert.equal(n, 1, `${p} requested ${n} times`);
      }
    }
    assert.ok(site.log.every((r) => r.userAgent.startsWith("JikjiBot/")));

    const docs = [];
    for await (const d of readDocsFrom(summary.shards)) docs.push(d);
    const byUrl = new Map(docs.map((d) => [d.meta.url as string, d]));
    for (const [path, text] of Object.entries(PAGE_TEXT)) {
      const url = path === "/target.html" ? site.origin + "/r1" : site.origin + path;
      const d = byUrl.get(url);
      assert.ok(d, `no document for ${path}`);
      assert.ok(d.text.includes(text), `${path}: ${d.text}`);
      assert.ok(!d.text.includes("약관") && !d.text.includes("인기 글"), `boilerplate in ${path}`);
      assert.ok((d.meta.hangul_ratio as number) > 0.9);
      for (const k of ["final_url", "status", "fetched_at", "title"]) assert.ok(k in d.meta, k);
    }
    assert.equal(byUrl.get(site.origin + "/r1")!.meta.final_url, site.origin + "/target.html");
    for (const p of ["/euckr.html", "/euckr-meta.html"]) {
      assert.equal(byUrl.get(site.origin + p)?.text, CP949_TEXT, `${p} not decoded`);
    }
    assert.equal(new Set(docs.map((d) => d.id)).size, docs.length, "duplicate documents");

    const host = summary.hosts[new URL(site.origin).host];
    assert.equal(host.skipped["robots"], 2); // /private/secret.html and /doc.pdf
    assert.equal(host.skipped["redirect_robots"], 1); // /go-private
    assert.equal(host.skipped["too_large"], 1);
    assert.equal(host.skipped["login_wall"], 1);
    assert.equal(host.skipped["restricted:비밀글입니다"], 1);
    assert.equal(host.skipped["blocked_keyword:도박"], 1);
    assert.equal(host.skipped["bad_content_type"], 1);
    assert.equal(host.errors["redirect_loop"], 1);
    assert.equal(host.errors["http_404"], 2); // /missing.html and /terms
    assert.equal(host.docs, docs.length);
  } finally {
    await site.close();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("crawl() on a finished folder resumes without requesting anything again", async () => {
  const site = await startTestSite({ chainPages: 12 });
  const out = await Deno.makeTempDir();
  try {
    const config = defaultCrawlConfig({
      seeds: [site.origin + "/p/0.html"],
      delay: 0.01,
      max_pages: 8,
      docs_per_shard: 3,
      max_depth: 20,
      warc: true,
      include: ["/p/\\d+\\.html$"],
    });
    const first = await crawl(config, { out });
    assert.equal(first.pages, 8);
    const before = site.log.length;
    // what a kill can leave: a shard committed after its journal line was lost, a temp file
    await Deno.writeTextFile(`${out}/docs/part-00009.jsonl.gz`, "not from this journal");
    await Deno.writeTextFile(`${out}/docs/.part-00003.jsonl.gz.123.abc.tmp`, "half");
    // a higher page limit continues where the first crawl stopped
    const second = await crawl({ ...config, max_pages: 100 }, { out });
    assert.ok(second.resumed);
    assert.equal(second.pages, 12);
    const again = site.log.slice(before).map((r) => r.path);
    assert.ok(!again.includes("/robots.txt"), "robots.txt refetched despite the journal");
    assert.equal(again.length, 4, `requests after resume: ${again}`);
    const docs = [];
    for await (const d of readDocsFrom(second.shards)) docs.push(d);
    assert.equal(docs.length, 12);
    assert.ok(second.shards.every((p) => /part-0000[0-4]\.jsonl\.gz$/.test(p)), `${second.shards}`);
    for await (const e of Deno.readDir(`${out}/docs`)) assert.ok(!e.name.startsWith("."), e.name);
    assert.equal(new Set(docs.map((d) => d.meta.url)).size, 12);
    const events = await readJournal(`${out}/journal.jsonl`);
    assert.equal(events.filter((e) => e.k === "page").length, 12);
    // every document is in a committed shard, so the journal keeps none of their text
    assert.equal(events.filter((e) => e.k === "page" && e.doc).length, 0);
    // one WARC file per process start, one response record per fetched page
    const warcs = [];
    for await (const e of Deno.readDir(`${out}/warc`)) warcs.push(`${out}/warc/${e.name}`);
    assert.equal(warcs.length, 2);
    let responses = 0;
    for (const w of warcs) {
      const o = await new Deno.Command("gzip", { args: ["-dc", w], stdout: "piped" }).output();
      responses += new TextDecoder().decode(o.stdout).split("WARC-Type: response").length - 1;
    }
    assert.equal(responses, 12);
  } finally {
    await site.close();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("crawl() honours robots.txt Crawl-delay above its own delay", async () => {
  const site = await startTestSite({ chainPages: 6, crawlDelay: 0.15 });
  const out = await Deno.makeTempDir();
  try {
    const summary = await crawl(
      defaultCrawlConfig({
        seeds: [site.origin + "/p/0.html"],
        include: ["/p/"],
        delay: 0.01,
        max_pages: 4,
      }),
      { out },
    );
    assert.equal(summary.pages, 4);
    assert.equal(site.log.length, 5); // robots.txt and four pages
    assert.ok(minGap(site.log) >= 150, `requests ${minGap(site.log)} ms apart`);
  } finally {
    await site.close();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("crawl() keeps each host's own delay while crawling hosts in parallel", async () => {
  const sites = [await startTestSite({ chainPages: 8 }), await startTestSite({ chainPages: 8 })];
  const out = await Deno.makeTempDir();
  try {
    const summary = await crawl(
      defaultCrawlConfig({
        seeds: sites.map((s) => s.origin + "/p/0.html"),
        include: ["/p/"],
        delay: 0.06,
        max_depth: 20,
        concurrency: 4,
      }),
      { out },
    );
    assert.equal(summary.pages, 16);
    for (const s of sites) {
      assert.equal(s.log.length, 9);
      assert.ok(minGap(s.log) >= 60, `requests ${minGap(s.log)} ms apart`);
    }
    // the hosts were served side by side, not one after the other
    const [a, b] = sites.map((s) => [s.log[0].t, s.log.at(-1)!.t]);
    assert.ok(a[0] < b[1] && b[0] < a[1], "hosts were crawled one after the other");
  } finally {
    for (const s of sites) await s.close();
    await Deno.remove(out, { recursive: true });
  }
});
