/**
 * Sitemaps (sitemaps.org 0.9): a `<urlset>` lists pages, a `<sitemapindex>` lists more sitemaps;
 * either may come gzip-compressed (`.xml.gz`, or gzip bytes whatever the name). Parsed with a
 * tolerant scan of `<loc>` elements, which is all the protocol needs.
 *
 * @module
 */

import { normalizeUrl } from "./url.ts";

/** Sitemaps are limited to 50 MB uncompressed by the protocol. */
export const SITEMAP_MAX_BYTES = 50 * 1024 * 1024;

/** True for gzip data (magic 1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips `bytes` (stops with an error past `maxBytes`). */
export async function gunzip(bytes: Uint8Array, maxBytes = SITEMAP_MAX_BYTES): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > maxBytes) throw new Error(`sitemap larger than ${maxBytes} bytes uncompressed`);
    chunks.push(c);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function _unescape(s: string): string {
  return s.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, "$1")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, "&").trim();
}

/**
 * Parses sitemap XML: page URLs of a `<urlset>` and child sitemaps of a `<sitemapindex>`,
 * normalised and resolved against `base`.
 *
 * @example
 * ```ts
 * import { parseSitemap } from "./sitemap.ts";
 * const xml = "<urlset><url><loc>http://h/a?x=1&amp;y=2</loc></url></urlset>";
 * console.log(parseSitemap(xml, "http://h/sitemap.xml").urls); // ["http://h/a?x=1&y=2"]
 * ```
 */
export function parseSitemap(xml: string, base: string): { urls: string[]; sitemaps: string[] } {
  const urls: string[] = [];
  const sitemaps: string[] = [];
  const entry = /<(url|sitemap)\b[^>]*>([\s\S]*?)<\/\1\s*>/gi;
  for (const m of xml.matchAll(entry)) {
    const loc = /<loc\b[^>]*>([\s\S]*?)<\/loc\s*>/i.exec(m[2]);
    if (!loc) continue;
    const u = normalizeUrl(_unescape(loc[1]), base);
    if (!u) continue;
    (m[1].toLowerCase() === "url" ? urls : sitemaps).push(u);
  }
  return { urls, sitemaps };
}

/** Decodes a fetched sitemap body (gunzipping when needed) into its XML text. */
export async function sitemapText(body: Uint8Array): Promise<string> {
  const raw = isGzip(body) ? await gunzip(body) : body;
  return new TextDecoder().decode(raw);
}
