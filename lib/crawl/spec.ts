/**
 * The options of `deno task crawl`, typed with their defaults in one place (the YAML preset
 * `data/configs/crawl.yaml` spells out the same keys).
 *
 * @module
 */

import type { CommandSpec } from "../cli/options.ts";
import type { CrawlConfig } from "./crawler.ts";
import { DEFAULT_RESTRICTED_MARKERS } from "./extract.ts";

const regexList = (v: unknown) => {
  for (const p of v as string[]) {
    try {
      new RegExp(p);
    } catch {
      return `valid regular expressions ("${p}" is not)`;
    }
  }
  return undefined;
};

/** The default user agent: a product token robots.txt can name, and where to read about it. */
export const DEFAULT_USER_AGENT = "JikjiBot/0.1 (+https://github.com/jikji-llm/jikji; research)";

/** `deno task crawl run`. */
export const CRAWL_SPEC = {
  name: "crawl run",
  summary: "polite, resumable crawl of seed URLs and sitemaps into JSONL document shards",
  options: {
    out: {
      type: "string",
      default: "",
      description: "output folder; one holding a journal is resumed (default: new runs/crawl-*)",
    },
    runs_dir: { type: "string", default: "runs", description: "parent of new run folders" },
    seeds: { type: "string[]", default: [], description: "start URLs" },
    sitemaps: {
      type: "string[]",
      default: [],
      description: "sitemap URLs (urlset, sitemap index, .xml.gz)",
    },
    robots_sitemaps: {
      type: "boolean",
      default: false,
      description: "also follow the Sitemap: lines of the seeds' robots.txt",
    },
    allow_hosts: {
      type: "string[]",
      default: [],
      description: "hosts (and subdomains) that may be crawled (default: the seeds' hosts)",
    },
    deny_hosts: { type: "string[]", default: [], description: "hosts never crawled" },
    include: {
      type: "string[]",
      default: [],
      validate: regexList,
      description: "URL regexps; when given a URL must match one",
    },
    exclude: {
      type: "string[]",
      default: [],
      validate: regexList,
      description: "URL regexps never crawled",
    },
    max_depth: { type: "integer", default: 3, min: 0, description: "link depth from a seed" },
    max_pages: { type: "integer", default: 1000, min: 1, description: "pages to visit at most" },
    concurrency: {
      type: "integer",
      default: 8,
      min: 1,
      max: 1024,
      description: "requests in flight, all hosts",
    },
    per_host_concurrency: {
      type: "integer",
      default: 1,
      min: 1,
      max: 1024,
      description: "requests in flight per host",
    },
    delay: {
      type: "number",
      default: 1,
      min: 0,
      max: 3600,
      description: "seconds between requests to one host (robots.txt Crawl-delay may raise it)",
    },
    max_crawl_delay: {
      type: "number",
      default: 30,
      min: 0,
      max: 86400,
      description: "largest Crawl-delay honoured, seconds",
    },
    user_agent: { type: "string", default: DEFAULT_USER_AGENT, description: "User-Agent header" },
    timeout: {
      type: "number",
      default: 30,
      min: 0.001,
      max: 3600,
      description: "seconds per request",
    },
    max_bytes: {
      type: "integer",
      default: 5 * 1024 * 1024,
      min: 1024,
      description: "largest page body, bytes",
    },
    max_redirects: { type: "integer", default: 5, min: 0, max: 100, description: "redirect hops" },
    retries: {
      type: "integer",
      default: 3,
      min: 0,
      max: 100,
      description: "retries on 429/5xx/network",
    },
    backoff: {
      type: "number",
      default: 1,
      min: 0,
      max: 3600,
      description: "first retry wait, seconds",
    },
    max_retry_after: {
      type: "number",
      default: 120,
      min: 0,
      max: 86400,
      description: "longest Retry-After waited for, seconds",
    },
    restricted_markers: {
      type: "string[]",
      default: [...DEFAULT_RESTRICTED_MARKERS],
      description: "phrases of login walls, private posts, paywalls (page skipped)",
    },
    blocked_keywords: {
      type: "string[]",
      default: [],
      description: "pages holding any of these are skipped",
    },
    min_text_chars: {
      type: "integer",
      default: 10,
      min: 0,
      description: "pages with less main text (non-space chars) are skipped",
    },
    docs_per_shard: { type: "integer", default: 10000, min: 1, description: "documents per shard" },
    gzip: { type: "boolean", default: true, description: "gzip the shards" },
    warc: { type: "boolean", default: false, description: "also write WARC files of responses" },
  },
} as const satisfies CommandSpec;

/** The crawl config part of parsed options. */
export function crawlConfigOf(o: Record<string, unknown>): CrawlConfig {
  const { out: _o, runs_dir: _r, config: _c, quiet: _q, help: _h, ...rest } = o;
  return rest as unknown as CrawlConfig;
}

/** The defaults as a config (for demo, bench and tests), with `overrides` applied. */
export function defaultCrawlConfig(overrides: Partial<CrawlConfig> = {}): CrawlConfig {
  const d: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(CRAWL_SPEC.options)) {
    const dv = (v as { default?: unknown }).default;
    d[k] = Array.isArray(dv) ? [...dv] : dv;
  }
  return { ...crawlConfigOf(d), ...overrides };
}
