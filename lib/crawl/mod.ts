/**
 * The crawl stage: a polite, resumable crawler with main-text extraction. Re-exports only.
 *
 * @module
 */

export {
  crawl,
  type CrawlConfig,
  type CrawlSummary,
  type HostStats,
  hostTable,
} from "./crawler.ts";
export { CRAWL_SPEC, crawlConfigOf, DEFAULT_USER_AGENT, defaultCrawlConfig } from "./spec.ts";
export { decodeBody, encodingFor } from "./charset.ts";
export {
  DEFAULT_RESTRICTED_MARKERS,
  type Extracted,
  type ExtractOptions,
  extractPage,
  hangulRatio,
} from "./extract.ts";
export { fetchPage, type FetchResult, type FetchSettings, retryAfterMs } from "./fetcher.ts";
export { HostGate } from "./politeness.ts";
export { parseRobots, RobotsCache, type RobotsRules } from "./robots.ts";
export { parseSitemap, sitemapText } from "./sitemap.ts";
export { normalizeUrl, outOfScope, type UrlScope } from "./url.ts";
export { helpMirrorRoot, helpStartUrl, serveStaticDir } from "./mirror.ts";
export { tokenOverlap } from "./overlap.ts";
export { WarcWriter } from "./warc.ts";
