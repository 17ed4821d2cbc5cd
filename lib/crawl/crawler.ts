/**
 * The crawl itself: seeds and sitemaps → frontier → robots check → polite fetch → decode →
 * extract → document records in JSONL shards, every step journaled so that a killed crawl
 * restarted on the same output folder refetches nothing it finished, loses nothing and writes no
 * document twice.
 *
 * Output folder layout: `journal.jsonl` (the journal), `docs/part-NNNNN.jsonl[.gz]` (documents),
 * `warc/` (raw responses, when asked), `summary.json` (per-host figures, at the end).
 *
 * @module
 */

import { ShardedDocWriter } from "../io/jsonl.ts";
import { Progress, type ProgressMode } from "../cli/progress.ts";
import { decodeBody } from "./charset.ts";
import { type Extracted, extractPage } from "./extract.ts";
import { fetchPage, type FetchResult, type FetchSettings } from "./fetcher.ts";
import { Frontier } from "./frontier.ts";
import {
  type JournalEvent,
  JournalWriter,
  type PageEvent,
  type QueuedUrl,
  readJournal,
} from "./journal.ts";
import { HostGate } from "./politeness.ts";
import { RobotsCache, type RobotsRules } from "./robots.ts";
import { parseSitemap, SITEMAP_MAX_BYTES, sitemapText } from "./sitemap.ts";
import { normalizeUrl, outOfScope, type UrlScope } from "./url.ts";
import { WarcWriter } from "./warc.ts";
import { fnv1a } from "../filter/minhash.ts";

/** Everything a crawl is told (the task's options, snake_case as in the YAML config). */
export interface CrawlConfig {
  seeds: string[];
  sitemaps: string[];
  /** Also read the `Sitemap:` lines of the seeds' robots.txt. */
  robots_sitemaps: boolean;
  allow_hosts: string[];
  deny_hosts: string[];
  include: string[];
  exclude: string[];
  max_depth: number;
  max_pages: number;
  concurrency: number;
  per_host_concurrency: number;
  /** Seconds between requests to one host (at least this; `Crawl-delay` may raise it). */
  delay: number;
  /** Largest `Crawl-delay` honoured, seconds (larger ones are capped to this). */
  max_crawl_delay: number;
  user_agent: string;
  timeout: number;
  max_bytes: number;
  max_redirects: number;
  retries: number;
  backoff: number;
  max_retry_after: number;
  restricted_markers: string[];
  blocked_keywords: string[];
  min_text_chars: number;
  docs_per_shard: number;
  gzip: boolean;
  warc: boolean;
}

/** Figures of one host. */
export interface HostStats {
  pages: number;
  docs: number;
  bytes: number;
  requests: number;
  skipped: Record<string, number>;
  errors: Record<string, number>;
}

/** What {@linkcode crawl} returns (also saved as `summary.json`). */
export interface CrawlSummary {
  out: string;
  resumed: boolean;
  pages: number;
  docs: number;
  bytes: number;
  requests: number;
  seconds: number;
  pages_per_second: number;
  queue_left: number;
  shards: string[];
  hosts: Record<string, HostStats>;
}

/** Options of {@linkcode crawl} besides the config. */
export interface CrawlRunOptions {
  /** Output folder (a journal there means: resume). */
  out: string;
  progress?: ProgressMode;
  /** Log a line (default: nothing). */
  log?: (msg: string) => void;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
  /**
   * Crawl only the hosts of rank `index` of `count` ({@linkcode hostRank}): every URL and sitemap
   * of one host goes to one rank, so per-host politeness holds across the ranks of a job.
   */
  hostShard?: { index: number; count: number };
}

/** The rank of `host` among `count` ranks: FNV-1a of the lower-cased host, mod `count`. */
export function hostRank(host: string, count: number): number {
  return fnv1a(host.toLowerCase()) % count;
}

function _emptyStats(): HostStats {
  return { pages: 0, docs: 0, bytes: 0, requests: 0, skipped: {}, errors: {} };
}

async function _docId(url: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url)));
  return [...d.subarray(0, 10)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs (or resumes) a crawl into `options.out`; returns the per-host summary. */
export async function crawl(config: CrawlConfig, options: CrawlRunOptions): Promise<CrawlSummary> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const out = options.out.replace(/\/$/, "");
  const docsDir = `${out}/docs`;
  await Deno.mkdir(docsDir, { recursive: true });
  const journalPath = `${out}/journal.jsonl`;

  const seeds = config.seeds.map((s) => {
    const u = normalizeUrl(s);
    if (!u) throw new Error(`seed "${s}" is not an http(s) URL`);
    return u;
  });
  const sitemapSeeds = config.sitemaps.map((s) => {
    const u = normalizeUrl(s);
    if (!u) throw new Error(`sitemap "${s}" is not an http(s) URL`);
    return u;
  });
  const scope: UrlScope = {
    allowHosts: config.allow_hosts.length > 0
      ? config.allow_hosts
      : [...new Set([...seeds, ...sitemapSeeds].map((u) => new URL(u).host))],
    denyHosts: config.deny_hosts,
    include: config.include.map((p) => new RegExp(p)),
    exclude: config.exclude.map((p) => new RegExp(p)),
  };

  const gate = new HostGate(config.delay * 1000, config.per_host_concurrency);
  const frontier = new Frontier(gate, config.per_host_concurrency);
  const seen = new Set<string>();
  const done = new Set<string>();
  const stats = new Map<string, HostStats>();
  const hostStats = (host: string) => {
    let s = stats.get(host);
    if (!s) stats.set(host, s = _emptyStats());
    return s;
  };
  const sitemapsDone = new Set<string>();
  const sitemapsPending: string[] = [];
  const pendingDocs: PageEvent["doc"][] = [];
  let docsTotal = 0;
  let shardsCommitted = 0;
  let docsInShards = 0;
  let pages = 0;
  let bytes = 0;
  let requests = 0;

  // ---- replay the journal (resume) ----
  const events = await readJournal(journalPath);
  const resumed = events.length > 0;
  const robotsEntries: (JournalEvent & { k: "robots" })[] = [];
  const addedOrder: QueuedUrl[] = [];
  const addItems = (items: QueuedUrl[]) => {
    for (const it of items) {
      if (seen.has(it[0])) continue;
      seen.add(it[0]);
      addedOrder.push(it);
    }
  };
  for (const ev of events) {
    switch (ev.k) {
      case "add":
        addItems(ev.urls);
        break;
      case "robots":
        robotsEntries.push(ev);
        break;
      case "sitemap":
        sitemapsDone.add(ev.url);
        addItems(ev.urls);
        for (const s of ev.sitemaps) if (!sitemapsDone.has(s)) sitemapsPending.push(s);
        break;
      case "page": {
        done.add(ev.url);
        seen.add(ev.url);
        for (const r of ev.redirects ?? []) seen.add(r);
        if (ev.links) addItems(ev.links);
        _count(hostStats(ev.host), ev);
        pages++;
        bytes += ev.bytes;
        requests += ev.requests;
        if (ev.result === "doc") {
          docsTotal++;
          pendingDocs.push(ev.doc); // undefined once compacted (its shard is committed)
        }
        break;
      }
      case "shard":
        shardsCommitted = ev.index + 1;
        docsInShards = ev.docs;
        break;
    }
  }
  // Documents already in committed shards are not pending.
  pendingDocs.splice(0, docsInShards);
  if (pendingDocs.some((d) => d === undefined)) {
    throw new Error(`${journalPath}: a document missing from both the journal and the shards`);
  }
  // A shard committed after its journal line was lost is redone; temp files of a kill go.
  for await (const e of Deno.readDir(docsDir)) {
    const m = /^part-(\d+)\.jsonl(\.gz)?$/.exec(e.name);
    if (
      (m && Number(m[1]) >= shardsCommitted) || (e.name.startsWith(".") && e.name.endsWith(".tmp"))
    ) {
      await Deno.remove(`${docsDir}/${e.name}`);
    }
  }

  const fetchSettings: FetchSettings = {
    userAgent: config.user_agent,
    timeoutMs: config.timeout * 1000,
    maxBytes: config.max_bytes,
    maxRedirects: config.max_redirects,
    retries: config.retries,
    backoffMs: config.backoff * 1000,
    maxRetryAfterMs: config.max_retry_after * 1000,
    acceptTypes: ["text/html", "application/xhtml+xml"],
  };
  for await (const e of Deno.readDir(out)) {
    if (e.name.startsWith(".journal.jsonl.") && e.name.endsWith(".tmp")) {
      await Deno.remove(`${out}/${e.name}`); // a compaction cut short by a kill
    }
  }
  const journal = await JournalWriter.open(journalPath);
  const applyCrawlDelay = (origin: string, rules: RobotsRules) => {
    if (rules.crawlDelay === undefined) return;
    const seconds = Math.min(rules.crawlDelay, config.max_crawl_delay);
    gate.setDelay(new URL(origin).host, seconds * 1000);
  };
  const robots = new RobotsCache(config.user_agent, async (url) => {
    const r = await fetchPage(url, {
      ...fetchSettings,
      acceptTypes: [],
      truncate: true,
      maxBytes: 500 * 1024,
    }, { gate, fetch: options.fetch });
    requests += r.requests;
    hostStats(new URL(url).host).requests += r.requests;
    if (r.outcome === "ok" || r.outcome === "http_error") return { status: r.status, body: r.body };
    return { status: 0 };
  }, {
    onEntry: (e, rules) => {
      journal.append({ k: "robots", ...e });
      applyCrawlDelay(e.origin, rules);
    },
  });
  for (const e of robotsEntries) {
    const { k: _k, ...entry } = e;
    const rules = robots.restore(entry);
    if (rules) applyCrawlDelay(entry.origin, rules);
  }

  // ---- the output writer: a shard is committed, then journaled ----
  const writer = new ShardedDocWriter(
    docsDir,
    { docsPerShard: config.docs_per_shard, gzip: config.gzip },
    shardsCommitted,
  );
  let written = docsInShards;
  let writeChain = Promise.resolve();
  const writeDoc = (doc: NonNullable<PageEvent["doc"]>) => {
    writeChain = writeChain.then(async () => {
      const before = writer.shards.length;
      await writer.write(doc);
      written++;
      if (writer.shards.length > before) {
        journal.append({ k: "shard", index: shardsCommitted++, docs: written });
        // the committed documents' text need not stay in the journal
        journal.compact(written);
      }
    });
    return writeChain;
  };
  for (const d of pendingDocs) await writeDoc(d!);

  const warc = config.warc ? await WarcWriter.open(`${out}/warc`) : undefined;

  // ---- seeds, on a fresh crawl ----
  const shard = options.hostShard;
  const ours = (url: string) => !shard || hostRank(new URL(url).host, shard.count) === shard.index;
  const queueIfNew = (url: string, depth: number, into: QueuedUrl[]) => {
    if (seen.has(url) || depth > config.max_depth) return;
    if (outOfScope(url, scope) || !ours(url)) return;
    seen.add(url);
    into.push([url, depth]);
  };
  if (!resumed) {
    const first: QueuedUrl[] = [];
    for (const s of seeds) queueIfNew(s, 0, first);
    journal.append({ k: "add", urls: first });
    for (const it of first) addedOrder.push(it);
  } else {
    log(
      `resuming ${out}: ${pages} pages done, ${docsTotal} documents, ${
        addedOrder.length - done.size
      } queued`,
    );
  }
  for (const it of addedOrder) if (!done.has(it[0])) frontier.push(it);
  // sitemaps named by the config or the seeds' robots.txt (those done are skipped below)
  sitemapsPending.push(...sitemapSeeds.filter(ours));
  if (config.robots_sitemaps) {
    for (const origin of new Set(seeds.filter(ours).map((s) => new URL(s).origin))) {
      const rules = await robots.rulesFor(origin);
      for (const sm of rules.sitemaps) {
        const u = normalizeUrl(sm, origin);
        if (u && ours(u) && !sitemapsPending.includes(u)) sitemapsPending.push(u);
      }
    }
  }

  // ---- sitemaps (index and .xml.gz), breadth-first ----
  while (sitemapsPending.length > 0) {
    const sm = sitemapsPending.shift()!;
    if (sitemapsDone.has(sm)) continue;
    sitemapsDone.add(sm);
    const r = await fetchPage(sm, {
      ...fetchSettings,
      acceptTypes: [],
      maxBytes: SITEMAP_MAX_BYTES,
    }, {
      gate,
      fetch: options.fetch,
      check: async (u) => (await robots.isAllowed(u)) ? undefined : "robots",
    });
    requests += r.requests;
    hostStats(new URL(sm).host).requests += r.requests;
    const found: QueuedUrl[] = [];
    let children: string[] = [];
    let outcome: string = r.outcome;
    if (r.outcome === "ok" && r.body) {
      try {
        const parsed = parseSitemap(await sitemapText(r.body), r.finalUrl);
        for (const u of parsed.urls) queueIfNew(u, 0, found);
        children = parsed.sitemaps.filter((c) => !sitemapsDone.has(c));
      } catch (err) {
        outcome = `unreadable: ${(err as Error).message}`;
      }
    }
    journal.append({ k: "sitemap", url: sm, outcome, urls: found, sitemaps: children });
    sitemapsPending.push(...children.filter(ours));
    for (const it of found) frontier.push(it);
    log(`sitemap ${sm}: ${outcome}, ${found.length} new URLs, ${children.length} sitemaps`);
  }

  // ---- the page loop ----
  const progress = new Progress({
    label: "crawl",
    total: config.max_pages,
    unit: "pages",
    mode: options.progress ?? "quiet",
  });
  progress.set(pages);
  let startedPages = pages;
  const processOne = async (item: QueuedUrl): Promise<void> => {
    const [url, depth] = item;
    const host = new URL(url).host;
    const ev: PageEvent = {
      k: "page",
      url,
      host,
      result: "skipped",
      status: 0,
      bytes: 0,
      requests: 0,
      fetched_at: new Date().toISOString(),
    };
    let res: FetchResult | undefined;
    if (!(await robots.isAllowed(url))) {
      ev.reason = "robots";
    } else {
      res = await fetchPage(url, fetchSettings, {
        gate,
        fetch: options.fetch,
        check: async (u) => {
          if (u === url) return undefined;
          const why = outOfScope(u, scope);
          if (why) return why;
          if (!(await robots.isAllowed(u))) return "robots";
          // a page queued or fetched on its own is not fetched again through a redirect
          return done.has(u) || seen.has(u) ? "duplicate" : undefined;
        },
      });
      ev.fetched_at = new Date().toISOString();
      ev.status = res.status;
      ev.bytes = res.bytes;
      ev.requests = res.requests;
      if (res.redirects.length > 0) {
        ev.final_url = res.finalUrl;
        ev.redirects = res.redirects;
        for (const r of res.redirects) seen.add(r);
      }
      if (res.outcome === "refused") ev.reason = `redirect_${res.detail}`;
      else if (res.outcome === "bad_content_type" || res.outcome === "too_large") {
        ev.reason = res.outcome;
      } else if (res.outcome !== "ok") {
        ev.result = "error";
        ev.reason = res.outcome === "http_error" ? `http_${res.status}` : res.outcome;
      } else {
        let encoding = "";
        let page: Extracted | undefined;
        try {
          const decoded = decodeBody(res.body!, res.contentType);
          encoding = decoded.encoding;
          page = extractPage(decoded.text, res.finalUrl, {
            restrictedMarkers: config.restricted_markers,
            blockedKeywords: config.blocked_keywords,
          });
        } catch (err) {
          ev.result = "error";
          ev.reason = "extract_failed";
          ev.detail = (err as Error).message.split("\n")[0];
        }
        if (page && depth < config.max_depth) {
          const fresh: QueuedUrl[] = [];
          for (const link of page.links) queueIfNew(link, depth + 1, fresh);
          if (fresh.length > 0) ev.links = fresh;
        }
        if (!page) { /* extraction failed: nothing to keep */ }
        else if (page.skip) ev.reason = page.skip;
        else if (page.noindex) ev.reason = "noindex";
        else if (page.text.replace(/\s/g, "").length < config.min_text_chars) {
          ev.reason = "too_little_text";
        } else {
          ev.result = "doc";
          ev.doc = {
            id: await _docId(res.finalUrl),
            text: page.text,
            meta: {
              url,
              final_url: res.finalUrl,
              status: res.status,
              fetched_at: ev.fetched_at,
              title: page.title,
              hangul_ratio: Number(page.hangulRatio.toFixed(4)),
              encoding,
              depth,
            },
          };
        }
      }
    }
    // The journal line first: from here on the page counts as done, with its links and document.
    // The document is queued for the shards in the same synchronous step, so shards receive
    // documents in journal order (resume relies on it).
    journal.append(ev);
    done.add(url);
    const queued = ev.doc ? writeDoc(ev.doc) : undefined;
    _count(hostStats(host), ev);
    pages++;
    bytes += ev.bytes;
    requests += ev.requests;
    if (ev.doc) docsTotal++;
    if (ev.links) { for (const it of ev.links) frontier.push(it); }
    if (warc && res?.body) await warc.write(res, ev.fetched_at);
    await queued;
    progress.set(
      pages,
      `${(bytes / 1e6).toFixed(1)} MB  queue ${frontier.size}  docs ${docsTotal}`,
    );
  };

  const worker = async () => {
    for (;;) {
      if (startedPages >= config.max_pages) {
        frontier.close();
        return;
      }
      const item = await frontier.next();
      if (!item) return;
      startedPages++;
      try {
        await processOne(item);
      } finally {
        frontier.done(item);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, config.concurrency) }, worker));
  await writeChain;
  const before = writer.shards.length;
  await writer.close();
  if (writer.shards.length > before) {
    journal.append({ k: "shard", index: shardsCommitted++, docs: written });
    journal.compact(written);
  }
  journal.sync();
  journal.close();
  await warc?.close();
  progress.done();

  const seconds = (performance.now() - started) / 1000;
  const shards: string[] = [];
  for await (const e of Deno.readDir(docsDir)) {
    if (/^part-\d+\.jsonl(\.gz)?$/.test(e.name)) shards.push(`${docsDir}/${e.name}`);
  }
  return {
    out,
    resumed,
    pages,
    docs: docsTotal,
    bytes,
    requests,
    seconds,
    pages_per_second: seconds > 0 ? pages / seconds : 0,
    queue_left: frontier.size,
    shards: shards.sort(),
    hosts: Object.fromEntries([...stats].sort()),
  };
}

function _count(s: HostStats, ev: PageEvent): void {
  s.pages++;
  s.bytes += ev.bytes;
  s.requests += ev.requests;
  if (ev.result === "doc") s.docs++;
  else if (ev.result === "skipped") s.skipped[ev.reason!] = (s.skipped[ev.reason!] ?? 0) + 1;
  else s.errors[ev.reason!] = (s.errors[ev.reason!] ?? 0) + 1;
}

/** A per-host table of a summary (markdown). */
export function hostTable(summary: CrawlSummary): string {
  const fmt = (r: Record<string, number>) =>
    Object.entries(r).map(([k, v]) => `${k} ${v}`).join(", ") || "-";
  const rows = Object.entries(summary.hosts).map(([h, s]) =>
    `| ${h} | ${s.pages} | ${s.docs} | ${fmt(s.skipped)} | ${fmt(s.errors)} | ${s.requests} |`
  );
  return [
    "| host | pages | docs | skipped | errors | requests |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
