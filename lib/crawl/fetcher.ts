/**
 * One polite HTTP GET with everything a crawler needs around it: the host gate before every
 * request (redirect hops and retries included), a check of every redirect target (robots.txt,
 * scope) before it is requested, a redirect limit with loop detection, retries with exponential
 * backoff on 429/5xx and network errors honouring `Retry-After`, a timeout, a size cap and a
 * content-type check.
 *
 * @module
 */

import type { HostGate } from "./politeness.ts";
import { normalizeUrl } from "./url.ts";

/** Settings of {@linkcode fetchPage}. */
export interface FetchSettings {
  userAgent: string;
  /** Per request (headers and body), ms. */
  timeoutMs: number;
  /** Largest body read, bytes (decoded). */
  maxBytes: number;
  maxRedirects: number;
  /** Retries after the first attempt, on 429/5xx/network errors. */
  retries: number;
  /** First backoff, ms; doubles each retry. */
  backoffMs: number;
  /** A `Retry-After` longer than this gives up instead of waiting, ms. */
  maxRetryAfterMs: number;
  /** Accepted media types (`text/html`, …); empty: any. */
  acceptTypes: string[];
  /** Keep the first `maxBytes` of a larger body instead of failing with "too_large". */
  truncate?: boolean;
}

/** Hooks of {@linkcode fetchPage}. */
export interface FetchHooks {
  gate: HostGate;
  /** Returns why `url` must not be requested (e.g. "robots"), or undefined. */
  check?: (url: string) => Promise<string | undefined>;
  /** Called after each request with its URL and status (0: failed). */
  onRequest?: (url: string, status: number) => void;
  /** The fetch function (tests). */
  fetch?: typeof fetch;
  /** Sleep (tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** How a fetch ended. */
export type FetchOutcome =
  | "ok"
  | "http_error"
  | "redirect_loop"
  | "too_many_redirects"
  | "too_large"
  | "bad_content_type"
  | "timeout"
  | "network_error"
  | "retry_after_too_long"
  | "refused";

/** The result of {@linkcode fetchPage}. */
export interface FetchResult {
  url: string;
  finalUrl: string;
  /** Last HTTP status (0 when no response). */
  status: number;
  outcome: FetchOutcome;
  /** For "refused": the reason the check gave; for errors: a short message. */
  detail?: string;
  contentType: string;
  /** Headers of the final response. */
  headers?: Headers;
  /** Status text of the final response. */
  statusText?: string;
  body?: Uint8Array;
  /** Body bytes read. */
  bytes: number;
  redirects: string[];
  /** Requests made, retries and hops included. */
  requests: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Parses `Retry-After` (seconds or an HTTP date) into ms from `now`; undefined if absent/bad. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function _mediaType(contentType: string): string {
  return contentType.split(";")[0].trim().toLowerCase();
}

async function _readCapped(
  res: Response,
  maxBytes: number,
  truncate: boolean,
): Promise<{ body?: Uint8Array; bytes: number; tooLarge: boolean }> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (
    !truncate && Number.isFinite(declared) && declared > maxBytes &&
    !res.headers.get("content-encoding")
  ) {
    await res.body?.cancel();
    return { bytes: 0, tooLarge: true };
  }
  if (!res.body) return { body: new Uint8Array(), bytes: 0, tooLarge: false };
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > maxBytes) {
      await reader.cancel();
      if (!truncate) return { bytes: n, tooLarge: true };
      chunks.push(value.subarray(0, value.length - (n - maxBytes)));
      n = maxBytes;
      break;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    body.set(c, off);
    off += c.length;
  }
  return { body, bytes: n, tooLarge: false };
}

/**
 * Fetches `url` politely; never throws for network or HTTP trouble (see `outcome`).
 */
export async function fetchPage(
  url: string,
  settings: FetchSettings,
  hooks: FetchHooks,
): Promise<FetchResult> {
  const doFetch = hooks.fetch ?? fetch;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const result: FetchResult = {
    url,
    finalUrl: url,
    status: 0,
    outcome: "network_error",
    contentType: "",
    bytes: 0,
    redirects: [],
    requests: 0,
  };
  const chain = new Set<string>([url]);
  let current = url;
  for (let hop = 0;; hop++) {
    const refusal = await hooks.check?.(current);
    if (refusal) {
      result.outcome = "refused";
      result.detail = refusal;
      return result;
    }
    const host = new URL(current).host;
    let res: Response | undefined;
    let release: () => void = () => {};
    for (let attempt = 0;; attempt++) {
      release = await hooks.gate.acquire(host);
      let retryWait = settings.backoffMs * 2 ** attempt;
      result.requests++;
      try {
        res = await doFetch(current, {
          redirect: "manual",
          headers: {
            "user-agent": settings.userAgent,
            "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5",
            "accept-language": "ko,en;q=0.5",
          },
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
      } catch (err) {
        release();
        hooks.onRequest?.(current, 0);
        const e = err as Error;
        result.status = 0;
        result.outcome = e.name === "TimeoutError" ? "timeout" : "network_error";
        result.detail = e.message.split("\n")[0];
        res = undefined;
      }
      if (res) {
        result.status = res.status;
        hooks.onRequest?.(current, res.status);
        if (res.status !== 429 && res.status < 500) break; // body is read while the gate is held
        const ra = retryAfterMs(res.headers.get("retry-after"));
        await res.body?.cancel().catch(() => {});
        release();
        res = undefined;
        if (ra !== undefined && ra > settings.maxRetryAfterMs) {
          result.outcome = "retry_after_too_long";
          result.detail = `Retry-After ${Math.round(ra / 1000)} s`;
          return result;
        }
        if (ra !== undefined) {
          hooks.gate.holdFor(host, ra);
          retryWait = Math.max(ra, retryWait);
        }
        result.outcome = "http_error";
      }
      if (attempt >= settings.retries) return result;
      await sleep(retryWait);
    }
    try {
      if (REDIRECTS.has(res.status)) {
        await res.body?.cancel();
        const next = normalizeUrl(res.headers.get("location") ?? "", current);
        if (!next) {
          result.outcome = "http_error";
          result.detail = "redirect without a usable Location";
          return result;
        }
        result.redirects.push(next);
        if (chain.has(next)) {
          result.outcome = "redirect_loop";
          result.detail = next;
          return result;
        }
        if (hop + 1 > settings.maxRedirects) {
          result.outcome = "too_many_redirects";
          return result;
        }
        chain.add(next);
        current = next;
        result.finalUrl = next;
        continue;
      }
      result.contentType = res.headers.get("content-type") ?? "";
      result.headers = res.headers;
      result.statusText = res.statusText;
      if (res.status < 200 || res.status >= 300) {
        await res.body?.cancel();
        result.outcome = "http_error";
        return result;
      }
      const media = _mediaType(result.contentType);
      if (settings.acceptTypes.length > 0 && media && !settings.acceptTypes.includes(media)) {
        await res.body?.cancel();
        result.outcome = "bad_content_type";
        result.detail = media;
        return result;
      }
      const read = await _readCapped(res, settings.maxBytes, settings.truncate ?? false);
      result.bytes = read.bytes;
      if (read.tooLarge) {
        result.outcome = "too_large";
        return result;
      }
      result.body = read.body;
      result.outcome = "ok";
      return result;
    } catch (err) {
      const e = err as Error;
      result.outcome = e.name === "TimeoutError" ? "timeout" : "network_error";
      result.detail = e.message.split("\n")[0];
      return result;
    } finally {
      release();
    }
  }
}
