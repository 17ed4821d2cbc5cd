/**
 * The frontier: per-host FIFO queues (breadth-first within a host) and a picker that hands a
 * worker the URL of the host that may be contacted soonest, never more hosts' work than the
 * per-host concurrency allows, so one slow host does not hold every worker.
 *
 * @module
 */

import type { QueuedUrl } from "./journal.ts";
import type { HostGate } from "./politeness.ts";

/** Per-host queues plus the in-flight count, with a wake-up for waiting workers. */
export class Frontier {
  #queues = new Map<string, QueuedUrl[]>();
  #heads = new Map<string, number>();
  #inflight = new Map<string, number>();
  #totalInflight = 0;
  #size = 0;
  #wake: (() => void)[] = [];
  #gate: HostGate;
  #perHost: number;
  #closed = false;

  constructor(gate: HostGate, perHostConcurrency: number) {
    this.#gate = gate;
    this.#perHost = Math.max(1, perHostConcurrency);
  }

  /** URLs waiting. */
  get size(): number {
    return this.#size;
  }

  /** URLs being worked on. */
  get inflight(): number {
    return this.#totalInflight;
  }

  /** Adds a URL at the back of its host's queue. */
  push(item: QueuedUrl): void {
    const host = new URL(item[0]).host;
    let q = this.#queues.get(host);
    if (!q) {
      q = [];
      this.#queues.set(host, q);
      this.#heads.set(host, 0);
    }
    q.push(item);
    this.#size++;
    this.#notify();
  }

  /** Stops handing out work: waiting and later {@linkcode next} calls return undefined. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /**
   * The next URL to work on, or undefined when the frontier is closed, or empty with nothing in
   * flight (no more work can appear). Call {@linkcode done} when finished with it.
   */
  async next(): Promise<QueuedUrl | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      let bestHost: string | undefined;
      let bestAt = Infinity;
      for (const [host, q] of this.#queues) {
        const head = this.#heads.get(host)!;
        if (head >= q.length) continue;
        if ((this.#inflight.get(host) ?? 0) >= this.#perHost) continue;
        const at = this.#gate.readyAt(host);
        if (bestHost === undefined || at < bestAt) {
          bestHost = host;
          bestAt = at;
        }
      }
      if (bestHost !== undefined) {
        const q = this.#queues.get(bestHost)!;
        const head = this.#heads.get(bestHost)!;
        const item = q[head];
        if (head + 1 >= q.length) {
          this.#queues.delete(bestHost);
          this.#heads.delete(bestHost);
        } else if (head > 1024 && head * 2 > q.length) {
          this.#queues.set(bestHost, q.slice(head + 1));
          this.#heads.set(bestHost, 0);
        } else {
          this.#heads.set(bestHost, head + 1);
        }
        this.#size--;
        this.#inflight.set(bestHost, (this.#inflight.get(bestHost) ?? 0) + 1);
        this.#totalInflight++;
        return item;
      }
      if (this.#totalInflight === 0) return undefined;
      await new Promise<void>((r) => this.#wake.push(r));
    }
  }

  /** Marks a URL from {@linkcode next} as finished. */
  done(item: QueuedUrl): void {
    const host = new URL(item[0]).host;
    const n = (this.#inflight.get(host) ?? 1) - 1;
    if (n <= 0) this.#inflight.delete(host);
    else this.#inflight.set(host, n);
    this.#totalInflight--;
    this.#notify();
  }
}
