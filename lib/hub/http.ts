/**
 * The fetch every Hub call goes through: it retries 429 (waiting as long as `Retry-After`, or the
 * Hub's `RateLimit` header when it says none are left, asks), 5xx answers, dropped connections
 * and requests without a body that got no answer within `timeoutMs`, with exponential backoff,
 * and reports each retry. Handed to `@huggingface/hub` as its `fetch`.
 *
 * @module
 */

/** Options of {@linkcode retryingFetch}. */
export interface RetryOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  baseDelayMs?: number;
  /** Longest wait in ms, also for Retry-After (default 30 s). */
  maxDelayMs?: number;
  /** Called before each retry. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
  /** Give up on an attempt of a body-less request with no answer after this long (default 60 s). */
  timeoutMs?: number;
  /** The fetch to wrap (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Delay in ms asked for by a Retry-After header (seconds or an HTTP date), if any. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/**
 * Delay in ms until the quota resets, from the Hub's `RateLimit` header (IETF draft form,
 * `"api";r=0;t=55`) when it says no requests are left; undefined otherwise.
 */
export function rateLimitResetMs(header: string | null): number | undefined {
  const m = /;\s*r\s*=\s*(\d+)\s*;\s*t\s*=\s*(\d+)/.exec(header ?? "");
  return m && Number(m[1]) === 0 ? Number(m[2]) * 1000 : undefined;
}

/** A fetch that retries transient failures (see the module doc). */
export function retryingFetch(options: RetryOptions = {}): typeof fetch {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const inner = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    for (let attempt = 1;; attempt++) {
      let reason: string;
      let wait: number | undefined;
      // a request with a body (an upload) may rightly take long before its answer
      const timer = init?.body == null && !init?.signal ? new AbortController() : undefined;
      const t = timer && setTimeout(() => timer.abort(new Error("timed out")), timeoutMs);
      try {
        const res = await inner(input, timer ? { ...init, signal: timer.signal } : init);
        if (res.status !== 429 && res.status < 500) return res;
        if (attempt >= attempts) return res;
        reason = `HTTP ${res.status}`;
        wait = retryAfterMs(res.headers.get("retry-after")) ??
          rateLimitResetMs(res.headers.get("ratelimit"));
        await res.body?.cancel();
      } catch (err) {
        const timedOut = timer?.signal.aborted;
        if ((err as Error).name === "AbortError" && !timedOut) throw err;
        if (attempt >= attempts) {
          throw timedOut ? new Error(`no answer within ${timeoutMs} ms from ${url}`) : err;
        }
        if (init?.body instanceof ReadableStream) throw err; // a stream cannot be sent twice
        reason = timedOut
          ? `no answer within ${timeoutMs} ms`
          : `connection failed (${(err as Error).message.split("\n")[0]})`;
      } finally {
        clearTimeout(t);
      }
      const delayMs = Math.min(max, wait ?? base * 2 ** (attempt - 1));
      options.onRetry?.({ url, attempt, delayMs, reason });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  };
}
