/**
 * A crawl split among ranks by host ({@linkcode hostRank}): rank R crawls into `OUT/rank-RRRRR/`
 * (a whole crawl folder of its own: journal, docs, summary.json, which is its completion marker);
 * {@linkcode mergeCrawlRanks} then links every rank's document shards into `OUT/docs/` and adds
 * their per-host figures into one summary.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { CrawlSummary, HostStats } from "./crawler.ts";

/** The folder of rank `r` of a crawl into `out`. */
export function rankDir(out: string, r: number): string {
  return `${out.replace(/\/$/, "")}/rank-${String(r).padStart(5, "0")}`;
}

/** Whether rank `r` finished (its summary.json exists). */
export async function rankDone(out: string, r: number): Promise<boolean> {
  try {
    await Deno.stat(`${rankDir(out, r)}/summary.json`);
    return true;
  } catch {
    return false;
  }
}

function _addHost(a: HostStats, b: HostStats): void {
  a.pages += b.pages;
  a.docs += b.docs;
  a.bytes += b.bytes;
  a.requests += b.requests;
  for (const [k, v] of Object.entries(b.skipped)) a.skipped[k] = (a.skipped[k] ?? 0) + v;
  for (const [k, v] of Object.entries(b.errors)) a.errors[k] = (a.errors[k] ?? 0) + v;
}

/**
 * Needs every rank's summary; links rank R's `docs/part-N…` as `OUT/docs/part-RRRRR-N…` (a
 * rerun keeps links made before) and returns the ranks' summaries added up (`seconds`: the
 * longest rank).
 */
export async function mergeCrawlRanks(out: string, world: number): Promise<CrawlSummary> {
  out = out.replace(/\/$/, "");
  const missing: number[] = [];
  const summaries: CrawlSummary[] = [];
  for (let r = 0; r < world; r++) {
    try {
      summaries.push(JSON.parse(await Deno.readTextFile(`${rankDir(out, r)}/summary.json`)));
    } catch {
      missing.push(r);
    }
  }
  if (missing.length > 0) {
    throw new UserError(
      `${out}: crawl ranks ${
        missing.join(", ")
      } of ${world} have not finished; run them first (--shard ${missing[0]}/${world})`,
    );
  }
  await Deno.mkdir(`${out}/docs`, { recursive: true });
  const total: CrawlSummary = {
    out,
    resumed: summaries.some((s) => s.resumed),
    pages: 0,
    docs: 0,
    bytes: 0,
    requests: 0,
    seconds: 0,
    pages_per_second: 0,
    queue_left: 0,
    shards: [],
    hosts: {},
  };
  for (const [r, s] of summaries.entries()) {
    total.pages += s.pages;
    total.docs += s.docs;
    total.bytes += s.bytes;
    total.requests += s.requests;
    total.queue_left += s.queue_left;
    total.seconds = Math.max(total.seconds, s.seconds);
    for (const [host, h] of Object.entries(s.hosts)) {
      total.hosts[host] ??= { pages: 0, docs: 0, bytes: 0, requests: 0, skipped: {}, errors: {} };
      _addHost(total.hosts[host], h);
    }
    for (const shard of s.shards) {
      const name = shard.split("/").pop()!.replace(/^part-/, `part-${String(r).padStart(5, "0")}-`);
      const link = `${out}/docs/${name}`;
      try {
        await Deno.link(`${rankDir(out, r)}/docs/${shard.split("/").pop()}`, link);
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
      total.shards.push(link);
    }
  }
  total.pages_per_second = total.seconds > 0 ? total.pages / total.seconds : 0;
  total.hosts = Object.fromEntries(Object.entries(total.hosts).sort());
  total.shards.sort();
  return total;
}
