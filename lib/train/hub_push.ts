/**
 * `deno task train … --push-to OWNER/NAME --push-every N`: pushes the model of every Nth-step
 * checkpoint, and the final model, to the Hub in the background while training goes on (through
 * {@linkcode BackgroundPusher}: one push at a time, only the newest waiting one, retries, failures
 * reported and never thrown into training). Each pushed checkpoint is first staged by hard links
 * (no copy, so training is not slowed), so pruning old checkpoints never pulls files from under a
 * push; the optimizer state stays local.
 *
 * @module
 */

import { basename, join } from "node:path";
import { BackgroundPusher, type PushEvent } from "../hub/background_push.ts";
import { findToken, hubEndpoint, type HubToken } from "../hub/auth.ts";
import { pushFolder } from "../hub/push.ts";
import { retryingFetch } from "../hub/http.ts";
import { redact } from "../hub/redact.ts";
import { UserError } from "../io/errors.ts";

/** Files of a checkpoint that stay local (optimizer and trainer state). */
const LOCAL_ONLY = new Set(["optimizer.safetensors", "trainer_state.json"]);

/** Options of {@linkcode CheckpointPusher.create}. */
export interface CheckpointPushOptions {
  repo: string;
  /** Push every checkpoint whose step is a multiple of this (0: only the final model). */
  every: number;
  /** Where staged copies go (inside the run folder). */
  stagingDir: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Defaults: the token and endpoint of the environment. */
  token?: HubToken | null;
  endpoint?: string;
  fetch?: typeof fetch;
  /** Retry delay base for failed pushes in ms (default 2000). */
  baseDelayMs?: number;
}

/** Pushes checkpoints of a training run in the background. */
export class CheckpointPusher {
  readonly pusher: BackgroundPusher;
  #o: CheckpointPushOptions;

  private constructor(o: CheckpointPushOptions, token: HubToken, endpoint: string) {
    this.#o = o;
    const f = o.fetch ?? retryingFetch({ attempts: 3 });
    this.pusher = new BackgroundPusher(
      async (folder) => {
        await pushFolder({
          folder,
          repo: o.repo,
          type: "model",
          token,
          endpoint,
          fetch: f,
          message: `Jikji checkpoint ${basename(folder)}`,
        });
        await Deno.remove(folder, { recursive: true }).catch(() => {});
      },
      { baseDelayMs: o.baseDelayMs ?? 2000, onEvent: (e) => this.#report(e) },
    );
  }

  /** Checks the token first, so a run never trains for hours and then fails to push. */
  static async create(o: CheckpointPushOptions): Promise<CheckpointPusher> {
    const token = o.token === undefined ? await findToken() : o.token;
    if (!token) {
      throw new UserError(
        "--push-to needs a Hub token: set HF_TOKEN or put it in $HF_HOME/token (~/.cache/huggingface/token)",
      );
    }
    if (!/^[\w.-]+\/[\w.-]+$/.test(o.repo)) {
      throw new UserError(`--push-to: expected OWNER/NAME, got "${o.repo}"`);
    }
    return new CheckpointPusher(o, token, o.endpoint ?? hubEndpoint());
  }

  /** Called after each checkpoint: stages and queues it when its step is due. Never throws. */
  async onCheckpoint(dir: string, step: number): Promise<void> {
    if (this.#o.every <= 0 || step % this.#o.every !== 0) return;
    await this.#stageAndQueue(dir, `step-${String(step).padStart(7, "0")}`);
  }

  /** Queues the final model and waits for every push; returns the failures. */
  async finish(modelDir: string): Promise<PushEvent[]> {
    await this.#stageAndQueue(modelDir, "final");
    await this.pusher.drain();
    return this.pusher.failures;
  }

  async #stageAndQueue(dir: string, name: string): Promise<void> {
    const staged = join(this.#o.stagingDir, name);
    try {
      await Deno.remove(staged, { recursive: true }).catch(() => {});
      await Deno.mkdir(staged, { recursive: true });
      for await (const e of Deno.readDir(dir)) {
        if (!e.isFile || LOCAL_ONLY.has(e.name)) continue;
        await Deno.link(join(dir, e.name), join(staged, e.name)).catch(() =>
          Deno.copyFile(join(dir, e.name), join(staged, e.name))
        );
      }
      this.pusher.enqueue(staged);
    } catch (err) {
      this.#o.log(`push: could not stage ${dir}: ${redact((err as Error).message)}`, {});
    }
  }

  #report(e: PushEvent): void {
    if (e.kind === "failed" || e.kind === "superseded") {
      Deno.remove(e.folder, { recursive: true }).catch(() => {}); // the staged copy is done with
    }
    const what = `push ${basename(e.folder)} → ${this.#o.repo}`;
    if (e.kind === "pushed") this.#o.log(`${what}: done in ${e.seconds.toFixed(1)} s`, { push: e });
    else if (e.kind === "retrying") {
      this.#o.log(
        `${what}: failed (${redact(e.error)}); retrying in ${(e.delayMs / 1000).toFixed(0)} s`,
        { push: e },
      );
    } else if (e.kind === "failed") {
      this.#o.log(`${what}: gave up: ${redact(e.error)}`, { push: e });
    } else if (e.kind === "superseded") {
      this.#o.log(`${what}: skipped, a newer checkpoint is queued`);
    }
  }
}
