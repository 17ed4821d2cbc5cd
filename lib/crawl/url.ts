/**
 * URL normalisation for the crawler: one canonical spelling per page, so the seen-set catches
 * `HTTP://Example.com:80/a#top` and `http://example.com/a` as the same page, and tracking
 * parameters (`utm_*`, `fbclid`, …) never make a page look new.
 *
 * @module
 */

/** Query parameters that only track where a click came from; dropped by {@linkcode normalizeUrl}. */
export const TRACKING_PARAMS: readonly RegExp[] = [
  /^utm_/i,
  /^(fbclid|gclid|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl|ref_src|spm)$/i,
];

/**
 * The canonical form of `raw` (resolved against `base`): http(s) only, no fragment, no default
 * port, lower-case host, `/` for an empty path, no tracking parameters, the remaining query
 * parameters in a stable order. Returns null for anything that is not an http(s) URL.
 *
 * @example
 * ```ts
 * import { normalizeUrl } from "./url.ts";
 * console.log(normalizeUrl("HTTP://Example.COM:80/a?b=2&utm_source=x&a=1#top"));
 * // http://example.com/a?a=1&b=2
 * ```
 */
export function normalizeUrl(raw: string, base?: string | URL): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim(), base);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  url.hash = "";
  url.username = "";
  url.password = "";
  if (url.search) {
    const kept = [...url.searchParams].filter(([k]) => !TRACKING_PARAMS.some((re) => re.test(k)));
    kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    url.search = kept.length ? new URLSearchParams(kept).toString() : "";
  }
  return url.href;
}

/** The host (with port, when not default) of a normalised URL. */
export function hostOf(url: string): string {
  return new URL(url).host;
}

/** The origin (`scheme://host[:port]`) of a URL. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** Which URLs a crawl may visit: host allow/deny lists and include/exclude patterns. */
export interface UrlScope {
  /** Hosts (and their subdomains) that may be crawled; empty: the seeds' hosts. */
  allowHosts: string[];
  /** Hosts (and their subdomains) never crawled. */
  denyHosts: string[];
  /** A URL must match one of these regular expressions (when any are given). */
  include: RegExp[];
  /** A URL matching any of these is skipped. */
  exclude: RegExp[];
}

function _hostMatches(host: string, list: string[]): boolean {
  const h = host.toLowerCase();
  return list.some((entry) => {
    const e = entry.toLowerCase().replace(/^\*\./, "");
    return h === e || h.endsWith("." + e);
  });
}

/** Why `url` lies outside `scope`, or undefined when it may be crawled. */
export function outOfScope(url: string, scope: UrlScope): string | undefined {
  const { hostname, host } = new URL(url);
  if (_hostMatches(hostname, scope.denyHosts) || _hostMatches(host, scope.denyHosts)) {
    return "host_denied";
  }
  if (
    scope.allowHosts.length > 0 &&
    !_hostMatches(hostname, scope.allowHosts) && !_hostMatches(host, scope.allowHosts)
  ) {
    return "host_not_allowed";
  }
  if (scope.include.length > 0 && !scope.include.some((re) => re.test(url))) {
    return "not_included";
  }
  if (scope.exclude.some((re) => re.test(url))) return "excluded";
  return undefined;
}
