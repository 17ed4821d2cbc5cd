/**
 * robots.txt per RFC 9309: groups chosen by the crawler's product token (else `*`), the longest
 * matching rule wins, `Allow` wins a tie, `*` and `$` in patterns, `/robots.txt` always allowed,
 * at most 500 KiB parsed. A per-origin cache applies the RFC's status rules: 2xx → the rules, 4xx →
 * everything allowed, 5xx or unreachable → everything disallowed; entries live 24 hours.
 * `Crawl-delay` and `Sitemap` lines (not in the RFC, widely used) are read too.
 *
 * @module
 */

/** RFC 9309 §2.5: crawlers must parse at least 500 KiB; we parse exactly that much. */
export const ROBOTS_MAX_BYTES = 500 * 1024;
/** RFC 9309 §2.4: a cached robots.txt should not be used for more than 24 hours. */
export const ROBOTS_TTL_MS = 24 * 3600 * 1000;

interface Rule {
  allow: boolean;
  /** The pattern as written (its length decides precedence). */
  pattern: string;
  re: RegExp;
}

interface Group {
  agents: string[];
  rules: Rule[];
  crawlDelay?: number;
}

/** The rules of one robots.txt that apply to one crawler. */
export class RobotsRules {
  /** Rules for our agent (already chosen among groups). */
  readonly rules: Rule[];
  /** Seconds asked between requests, when the file says. */
  readonly crawlDelay?: number;
  /** Sitemap URLs the file lists. */
  readonly sitemaps: string[];
  /** "rules", "allow-all" (4xx, none) or "disallow-all" (5xx, unreachable). */
  readonly kind: "rules" | "allow-all" | "disallow-all";

  constructor(
    kind: "rules" | "allow-all" | "disallow-all",
    rules: Rule[] = [],
    crawlDelay?: number,
    sitemaps: string[] = [],
  ) {
    this.kind = kind;
    this.rules = rules;
    this.crawlDelay = crawlDelay;
    this.sitemaps = sitemaps;
  }

  /**
   * Whether `pathAndQuery` (e.g. `/a/b?c=1`, percent-encoded as in a URL) may be fetched.
   *
   * @example
   * ```ts
   * import { parseRobots } from "./robots.ts";
   * const r = parseRobots("User-agent: *\nDisallow: /a\nAllow: /a/b", "JikjiBot");
   * console.log(r.isAllowed("/a/x"), r.isAllowed("/a/b/c")); // false true
   * ```
   */
  isAllowed(pathAndQuery: string): boolean {
    if (this.kind === "allow-all") return true;
    if (pathAndQuery === "/robots.txt") return true;
    if (this.kind === "disallow-all") return false;
    let best: Rule | undefined;
    for (const rule of this.rules) {
      if (!rule.re.test(pathAndQuery)) continue;
      if (
        !best || rule.pattern.length > best.pattern.length ||
        (rule.pattern.length === best.pattern.length && rule.allow && !best.allow)
      ) {
        best = rule;
      }
    }
    return best ? best.allow : true;
  }
}

/** Percent-encodes what a URL path would encode, leaving `%XX`, `*` and `$` as they are. */
function _encodePattern(p: string): string {
  return p.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function _compile(pattern: string): RegExp {
  let p = _encodePattern(pattern);
  let anchored = false;
  if (p.endsWith("$")) {
    anchored = true;
    p = p.slice(0, -1);
  }
  const body = p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp("^" + body + (anchored ? "$" : ""));
}

/** The product token of a user-agent string: `JikjiBot/0.1 (+url)` → `jikjibot`. */
export function productToken(userAgent: string): string {
  return (userAgent.trim().split(/[\s/]/)[0] ?? "").toLowerCase();
}

/**
 * Parses robots.txt `text` and picks the groups for `userAgent`: every group naming its product
 * token (merged), else the `*` groups (merged).
 */
export function parseRobots(text: string, userAgent: string): RobotsRules {
  const token = productToken(userAgent);
  const groups: Group[] = [];
  const sitemaps: string[] = [];
  let current: Group | undefined;
  let lastWasAgent = false;
  for (const rawLine of text.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/#.*$/, "").trim();
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "user-agent") {
      if (!current || !lastWasAgent) {
        current = { agents: [], rules: [] };
        groups.push(current);
      }
      current.agents.push(value.toLowerCase());
      lastWasAgent = true;
      continue;
    }
    if (key === "sitemap") {
      if (value) sitemaps.push(value);
      continue;
    }
    lastWasAgent = false;
    if (!current) continue;
    if (key === "allow" || key === "disallow") {
      if (value === "") continue; // an empty rule matches nothing
      current.rules.push({ allow: key === "allow", pattern: value, re: _compile(value) });
    } else if (key === "crawl-delay") {
      const d = Number(value);
      if (Number.isFinite(d) && d >= 0) current.crawlDelay = d;
    }
  }
  let chosen = groups.filter((g) => g.agents.some((a) => a !== "*" && a === token));
  if (chosen.length === 0) chosen = groups.filter((g) => g.agents.includes("*"));
  const rules = chosen.flatMap((g) => g.rules);
  const delays = chosen.map((g) => g.crawlDelay).filter((d): d is number => d !== undefined);
  return new RobotsRules(
    "rules",
    rules,
    delays.length ? Math.max(...delays) : undefined,
    sitemaps,
  );
}

/** What the robots cache needs to fetch a robots.txt: status (0 = unreachable) and body. */
export type RobotsFetch = (url: string) => Promise<{ status: number; body?: Uint8Array }>;

/** A cached robots.txt decision, as saved in the crawl journal. */
export interface RobotsEntry {
  origin: string;
  status: number;
  /** The (truncated) file text for 2xx. */
  text?: string;
  fetchedAt: number;
}

/** Turns a fetched robots.txt into rules following RFC 9309 §2.3.1. */
export function rulesFromEntry(entry: RobotsEntry, userAgent: string): RobotsRules {
  if (entry.status >= 200 && entry.status < 300) return parseRobots(entry.text ?? "", userAgent);
  // 429 "too many requests" is treated like a server error, as the major crawlers do.
  if (entry.status >= 400 && entry.status < 500 && entry.status !== 429) {
    return new RobotsRules("allow-all");
  }
  return new RobotsRules("disallow-all");
}

/** Per-origin robots.txt cache (24 h), one fetch at a time per origin. */
export class RobotsCache {
  #entries = new Map<string, { entry: RobotsEntry; rules: RobotsRules }>();
  #pending = new Map<string, Promise<RobotsRules>>();
  readonly userAgent: string;
  #fetch: RobotsFetch;
  #onEntry?: (e: RobotsEntry, rules: RobotsRules) => void;
  #now: () => number;

  constructor(
    userAgent: string,
    fetch: RobotsFetch,
    options: { onEntry?: (e: RobotsEntry, rules: RobotsRules) => void; now?: () => number } = {},
  ) {
    this.userAgent = userAgent;
    this.#fetch = fetch;
    this.#onEntry = options.onEntry;
    this.#now = options.now ?? Date.now;
  }

  /** Adds an entry read back from a journal; returns its rules, or undefined when it is older
   * than 24 h (then it is fetched again when needed). */
  restore(entry: RobotsEntry): RobotsRules | undefined {
    if (this.#now() - entry.fetchedAt >= ROBOTS_TTL_MS) return undefined;
    const rules = rulesFromEntry(entry, this.userAgent);
    this.#entries.set(entry.origin, { entry, rules });
    return rules;
  }

  /** The rules for `origin`, fetching robots.txt when not cached or older than 24 h. */
  rulesFor(origin: string): Promise<RobotsRules> {
    const hit = this.#entries.get(origin);
    if (hit && this.#now() - hit.entry.fetchedAt < ROBOTS_TTL_MS) {
      return Promise.resolve(hit.rules);
    }
    const pending = this.#pending.get(origin);
    if (pending) return pending;
    const p = (async () => {
      let status = 0;
      let text: string | undefined;
      try {
        const res = await this.#fetch(`${origin}/robots.txt`);
        status = res.status;
        if (status >= 200 && status < 300 && res.body) {
          text = new TextDecoder().decode(res.body.subarray(0, ROBOTS_MAX_BYTES));
        }
      } catch {
        status = 0;
      }
      const entry: RobotsEntry = { origin, status, text, fetchedAt: this.#now() };
      const rules = rulesFromEntry(entry, this.userAgent);
      this.#entries.set(origin, { entry, rules });
      this.#onEntry?.(entry, rules);
      return rules;
    })();
    this.#pending.set(origin, p);
    return p.finally(() => this.#pending.delete(origin));
  }

  /** Whether `url` may be fetched (fetches robots.txt of its origin when needed). */
  async isAllowed(url: string): Promise<boolean> {
    const u = new URL(url);
    const rules = await this.rulesFor(u.origin);
    return rules.isAllowed(u.pathname + u.search);
  }
}
