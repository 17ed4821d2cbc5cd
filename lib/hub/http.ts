/**
 * The fetch every Hub call goes through: it retries 429 (honouring `Retry-After`) and 5xx answers
 * and dropped connections with exponential backoff, and reports each retry. Handed to
 * `@huggingface/hub` as its `fetch`.
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

/** A fetch that retries transient failures (see the module doc). */
export function retryingFetch(options: RetryOptions = {}): typeof fetch {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const inner = options.fetch ?? globalThis.fetch;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    for (let attempt = 1;; attempt++) {
      let reason: string;
      let wait: number | undefined;
      try {
        const res = await inner(input, init);
        if (res.status !== 429 && res.status < 500) return res;
        if (attempt >= attempts) return res;
        reason = `HTTP ${res.status}`;
        wait = retryAfterMs(res.headers.get("retry-after"));
        await res.body?.cancel();
      } catch (err) {
        if ((err as Error).name === "AbortError" || attempt >= attempts) throw err;
        if (init?.body instanceof ReadableStream) throw err; // a stream cannot be sent twice
        reason = `connection failed (${(err as Error).message.split("\n")[0]})`;
      }
      const delayMs = Math.min(max, wait ?? base * 2 ** (attempt - 1));
      options.onRetry?.({ url, attempt, delayMs, reason });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  };
}
