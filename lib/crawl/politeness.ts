/**
 * Per-host politeness: requests to one host start no sooner than its delay after the previous
 * request to that host *finished* (so the gap the server sees is at least the delay, whatever the
 * network does), at most `concurrency` at a time, and a host that answered 429/503 with
 * `Retry-After` is left alone until then.
 *
 * @module
 */

interface HostState {
  delayMs: number;
  lastStart: number;
  lastEnd: number;
  holdUntil: number;
  active: number;
  waiters: (() => void)[];
  turn: Promise<void>;
}

/** Spaces and limits the requests made to each host. */
export class HostGate {
  readonly defaultDelayMs: number;
  readonly concurrency: number;
  #hosts = new Map<string, HostState>();
  #now: () => number;

  constructor(
    defaultDelayMs: number,
    concurrency = 1,
    now: () => number = () => performance.now(),
  ) {
    this.defaultDelayMs = defaultDelayMs;
    this.concurrency = Math.max(1, concurrency);
    this.#now = now;
  }

  #state(host: string): HostState {
    let s = this.#hosts.get(host);
    if (!s) {
      s = {
        delayMs: this.defaultDelayMs,
        lastStart: -Infinity,
        lastEnd: -Infinity,
        holdUntil: -Infinity,
        active: 0,
        waiters: [],
        turn: Promise.resolve(),
      };
      this.#hosts.set(host, s);
    }
    return s;
  }

  /** Sets the delay of `host` (e.g. from robots.txt `Crawl-delay`); never below the default. */
  setDelay(host: string, delayMs: number): void {
    this.#state(host).delayMs = Math.max(this.defaultDelayMs, delayMs);
  }

  /** The delay of `host` in ms. */
  delayOf(host: string): number {
    return this.#state(host).delayMs;
  }

  /** Keeps every request to `host` waiting for `ms` from now (a `Retry-After`). */
  holdFor(host: string, ms: number): void {
    const s = this.#state(host);
    s.holdUntil = Math.max(s.holdUntil, this.#now() + ms);
  }

  /** When a request to `host` could start (Infinity while it is at its concurrency limit). */
  readyAt(host: string): number {
    const s = this.#hosts.get(host);
    if (!s) return this.#now();
    if (s.active >= this.concurrency) return Infinity;
    return Math.max(s.lastStart + s.delayMs, s.lastEnd + s.delayMs, s.holdUntil);
  }

  /** Whether `host` has requests in flight. */
  busy(host: string): boolean {
    return (this.#hosts.get(host)?.active ?? 0) > 0;
  }

  /**
   * Waits until a request to `host` may start; returns the function to call when it has finished
   * (response read or failed).
   */
  async acquire(host: string): Promise<() => void> {
    const s = this.#state(host);
    while (s.active >= this.concurrency) await new Promise<void>((r) => s.waiters.push(r));
    s.active++;
    const prev = s.turn;
    let done!: () => void;
    s.turn = new Promise<void>((r) => done = r);
    await prev;
    try {
      for (;;) {
        const at = Math.max(s.lastStart + s.delayMs, s.lastEnd + s.delayMs, s.holdUntil);
        const wait = at - this.#now();
        if (wait <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(wait, 2 ** 31 - 1)));
      }
      s.lastStart = this.#now();
    } finally {
      done();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      s.active--;
      s.lastEnd = this.#now();
      s.waiters.shift()?.();
    };
  }
}
