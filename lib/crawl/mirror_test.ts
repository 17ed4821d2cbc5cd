/**
 * The crawler on a local mirror of Debian's libreoffice-help-ko: extraction precision and recall
 * against each page's `#DisplayArea` text (the rule-derived reference), directly on a sample of
 * pages and end to end through a crawl of the mirror. Skips, saying why, where apt is missing.
 */

import assert from "node:assert/strict";
import { readDocsFrom } from "../io/jsonl.ts";
import { helpPageText, listHtmlFiles, obtainHelpHtml } from "../data/libreoffice_help.ts";
import { crawl } from "./crawler.ts";
import { extractPage } from "./extract.ts";
import { helpMirrorRoot, helpStartUrl, serveStaticDir } from "./mirror.ts";
import { tokenOverlap } from "./overlap.ts";
import { defaultCrawlConfig } from "./spec.ts";
import { minGap } from "./testing.ts";

async function helpDir(): Promise<string | undefined> {
  try {
    return await obtainHelpHtml("ko", "data/cache");
  } catch (err) {
    console.warn(`SKIPPED: LibreOffice help mirror unavailable (${(err as Error).message})`);
    return undefined;
  }
}

/** Pooled precision/recall over pages (token-weighted). */
function pooled(pairs: { extracted: string; reference: string }[]) {
  let both = 0, ext = 0, ref = 0;
  for (const p of pairs) {
    const o = tokenOverlap(p.extracted, p.reference);
    both += o.precision * o.extractedTokens;
    ext += o.extractedTokens;
    ref += o.referenceTokens;
  }
  return { precision: both / ext, recall: both / ref };
}

Deno.test("extractPage() keeps the DisplayArea text of LibreOffice help pages", async () => {
  const dir = await helpDir();
  if (!dir) return;
  const files = (await listHtmlFiles(`${dir}/text`)).filter((_, i) => i % 20 === 0);
  const pairs = [];
  for (const f of files) {
    const html = await Deno.readTextFile(f);
    const ref = helpPageText(html);
    if (!ref || !ref.text) continue;
    pairs.push({
      extracted: extractPage(html, "http://127.0.0.1/x.html").text,
      reference: ref.text,
    });
  }
  const { precision, recall } = pooled(pairs);
  console.log(
    `extraction on ${pairs.length} pages: precision ${precision.toFixed(3)}, recall ${
      recall.toFixed(3)
    }`,
  );
  assert.ok(pairs.length > 100);
  assert.ok(precision > 0.98, `precision ${precision}`);
  // recall loses the hidden="true" module variants the reference keeps (readers never see them)
  assert.ok(recall > 0.88, `recall ${recall}`);
});

Deno.test("crawl() of the local LibreOffice mirror keeps each page's main text", async () => {
  const dir = await helpDir();
  if (!dir) return;
  const root = helpMirrorRoot(dir);
  const server = serveStaticDir(root);
  const out = await Deno.makeTempDir();
  try {
    const summary = await crawl(
      defaultCrawlConfig({
        seeds: [helpStartUrl(server.origin)],
        include: ["/ko/text/.*\\.html$"],
        delay: 0.005,
        max_pages: 40,
        max_depth: 3,
      }),
      { out },
    );
    assert.equal(summary.pages, 40);
    assert.ok(minGap(server.log) >= 5, `requests ${minGap(server.log)} ms apart`);
    const pairs = [];
    const ratios: number[] = [];
    for await (const d of readDocsFrom(summary.shards)) {
      const path = new URL(d.meta.final_url as string).pathname;
      const ref = helpPageText(await Deno.readTextFile(root + path));
      assert.ok(ref, path);
      ratios.push(d.meta.hangul_ratio as number);
      assert.equal(d.meta.title, ref.title);
      pairs.push({ extracted: d.text, reference: ref.text });
    }
    assert.ok(pairs.length >= 35, `${pairs.length} documents`);
    // some help pages are untranslated (English), most are Korean
    const korean = ratios.filter((r) => r > 0.3).length;
    assert.ok(korean >= 0.6 * ratios.length, `only ${korean} of ${ratios.length} mostly Hangul`);
    const { precision, recall } = pooled(pairs);
    console.log(
      `crawl of ${pairs.length} pages: precision ${precision.toFixed(3)}, recall ${
        recall.toFixed(3)
      }`,
    );
    // the crawl reaches contents pages first, whose link lists are pruned as navigation
    assert.ok(precision > 0.98 && recall > 0.8, `precision ${precision}, recall ${recall}`);
  } finally {
    await server.close();
    await Deno.remove(out, { recursive: true });
  }
});
