import assert from "node:assert/strict";
import { gunzip, isGzip, parseSitemap, sitemapText } from "./sitemap.ts";

Deno.test("parseSitemap() reads url sets and sitemap indexes", () => {
  const urlset = `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc> http://h/a?x=1&amp;y=2 </loc><lastmod>2025-01-01</lastmod></url>
    <url><loc><![CDATA[http://h/b#frag]]></loc></url><url><loc>ftp://h/c</loc></url></urlset>`;
  assert.deepEqual(parseSitemap(urlset, "http://h/sitemap.xml"), {
    urls: ["http://h/a?x=1&y=2", "http://h/b"],
    sitemaps: [],
  });
  const index = `<sitemapindex><sitemap><loc>http://h/s1.xml.gz</loc></sitemap>
    <sitemap><loc>/s2.xml</loc></sitemap></sitemapindex>`;
  assert.deepEqual(parseSitemap(index, "http://h/index.xml").sitemaps, [
    "http://h/s1.xml.gz",
    "http://h/s2.xml",
  ]);
});

Deno.test("sitemapText() gunzips gzip bodies whatever their name", async () => {
  const xml = "<urlset><url><loc>http://h/가</loc></url></urlset>";
  const gz = new Uint8Array(
    await new Response(new Blob([xml]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  assert.ok(isGzip(gz));
  assert.equal(await sitemapText(gz), xml);
  assert.equal(await sitemapText(new TextEncoder().encode(xml)), xml);
  await assert.rejects(() => gunzip(gz, 10), /larger than 10 bytes/);
});
