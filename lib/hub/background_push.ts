/**
 * Pushes checkpoints in the background while training goes on (`deno task train … --push-to
 * OWNER/NAME --push-every N`): {@linkcode BackgroundPusher.enqueue} returns at once; pushes run
 * one at a time; when several checkpoints wait, only the newest is pushed; a failed push is
 * retried with backoff and then reported — it never throws into, stops or slows the caller.
 *
 * @module
 */

/** Something that happened to a background push. */
export type PushEvent =
  | { kind: "started"; folder: string; attempt: number }
  | { kind: "pushed"; folder: string; seconds: number }
  | { kind: "retrying"; folder: string; attempt: number; delayMs: number; error: string }
  | { kind: "failed"; folder: string; error: string }
  | { kind: "superseded"; folder: string; by: string };

/** Options of {@linkcode BackgroundPusher}. */
export interface BackgroundPushOptions {
  /** Attempts per checkpoint (default 4). */
  attempts?: number;
  /** First retry delay in ms, doubled each time (default 2000). */
  baseDelayMs?: number;
  /** Receives every event (log it; it must not throw). */
  onEvent?: (event: PushEvent) => void;
}

/** A queue of checkpoint folders pushed one at a time in the background. */
export class BackgroundPusher {
  readonly events: PushEvent[] = [];
  #push: (folder: string) => Promise<unknown>;
  #opts: Required<Omit<BackgroundPushOptions, "onEvent">> & Pick<BackgroundPushOptions, "onEvent">;
  #pending?: string;
  #running?: Promise<void>;

  constructor(push: (folder: string) => Promise<unknown>, options: BackgroundPushOptions = {}) {
    this.#push = push;
    this.#opts = { attempts: 4, baseDelayMs: 2000, ...options };
  }

  /** Queues `folder` for pushing and returns at once. */
  enqueue(folder: string): void {
    if (this.#pending) this.#emit({ kind: "superseded", folder: this.#pending, by: folder });
    this.#pending = folder;
    this.#running ??= this.#loop().finally(() => (this.#running = undefined));
  }

  /** Failures so far. */
  get failures(): PushEvent[] {
    return this.events.filter((e) => e.kind === "failed");
  }

  /** Waits until every queued push has finished (call at the end of training). */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    while (this.#pending) {
      const folder = this.#pending;
      this.#pending = undefined;
      for (let attempt = 1;; attempt++) {
        this.#emit({ kind: "started", folder, attempt });
        const t0 = performance.now();
        try {
          await this.#push(folder);
          this.#emit({ kind: "pushed", folder, seconds: (performance.now() - t0) / 1000 });
          break;
        } catch (err) {
          const error = String((err as Error).message ?? err).split("\n")[0];
          if (attempt >= this.#opts.attempts) {
            this.#emit({ kind: "failed", folder, error });
            break;
          }
          const delayMs = this.#opts.baseDelayMs * 2 ** (attempt - 1);
          this.#emit({ kind: "retrying", folder, attempt, delayMs, error });
          await new Promise((r) => setTimeout(r, delayMs));
          if (this.#pending) break; // a newer checkpoint waits: push that instead
        }
      }
    }
  }

  #emit(event: PushEvent): void {
    this.events.push(event);
    try {
      this.#opts.onEvent?.(event);
    } catch { /* a logger must not break training */ }
  }
}
