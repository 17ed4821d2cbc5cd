/**
 * Backend for any OpenAI-compatible completions server (vLLM, llama.cpp server, TGI): loglikelihood
 * through `echo` + `logprobs` with `max_tokens: 0`, generation with `stop` (greedy, or sampled with
 * the task's temperature, top_p and a seed). The API key is sent as a bearer token and never logged.
 *
 * Every request goes through the one retrying fetch (lib/hub/http.ts: 429, 5xx and dropped
 * connections retried with exponential backoff) with a timeout per attempt, so no run hangs on a
 * server that never answers. A request that still fails — HTTP 400, a refused connection, an
 * answer without log-probs — is a {@linkcode UserError} of one line naming the request and the
 * server's answer; what was answered before is already in the run's request cache.
 *
 * `text_offset` is read in the unit the server counts in: code points by default (vLLM and
 * OpenAI build it with Python's `len`), or UTF-16 units, or UTF-8 bytes.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { retryingFetch } from "../hub/http.ts";
import type {
  EvalModel,
  GenerateRequest,
  LoglikelihoodRequest,
  LoglikelihoodResult,
} from "./model.ts";
import { firstStop } from "../model/generate.ts";

/** How a server counts `text_offset`. */
export type OffsetUnit = "codepoint" | "utf16" | "byte";

/** Options of {@linkcode OpenAICompletionsModel}. */
export interface HttpModelOptions {
  /** Base URL up to `/v1`, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Model name sent in each request. */
  model: string;
  apiKey?: string;
  batchSize?: number;
  /** Attempts per request on dropped connections, timeouts, 429 and 5xx (default 4). */
  retries?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  backoffMs?: number;
  /** Seconds one attempt may take (default 300). */
  timeoutS?: number;
  /** Unit of the server's `text_offset` (default "codepoint"). */
  offsetUnit?: OffsetUnit;
  /** Told about each retry (the run log). */
  onRetry?: (line: string) => void;
}

interface CompletionChoice {
  index: number;
  text: string;
  logprobs?: {
    tokens: string[];
    token_logprobs: (number | null)[];
    top_logprobs?: (Record<string, number> | null)[];
    text_offset: number[];
  } | null;
}

/** Length of `s` in the server's offset unit. */
export function offsetLength(s: string, unit: OffsetUnit): number {
  if (unit === "utf16") return s.length;
  if (unit === "byte") return new TextEncoder().encode(s).length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function _short(s: string, n = 40): string {
  return JSON.stringify(s.length > n ? s.slice(0, n) + "…" : s);
}

/** An {@linkcode EvalModel} over an OpenAI-compatible `/completions` endpoint. */
export class OpenAICompletionsModel implements EvalModel {
  readonly name: string;
  readonly batchSize: number;
  readonly #fetch: typeof fetch;
  constructor(readonly opts: HttpModelOptions) {
    this.name = `openai:${opts.model}`;
    this.batchSize = opts.batchSize ?? 16;
    const timeoutMs = (opts.timeoutS ?? 300) * 1000;
    this.#fetch = retryingFetch({
      // A fresh timeout for each attempt.
      fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
      attempts: opts.retries ?? 4,
      baseDelayMs: opts.backoffMs ?? 500,
      onRetry: (r) =>
        opts.onRetry?.(`${r.url}: ${r.reason}; retry ${r.attempt} in ${r.delayMs} ms`),
    });
  }

  async #post(body: Record<string, unknown>, what: string): Promise<CompletionChoice[]> {
    const url = `${this.opts.baseUrl.replace(/\/$/, "")}/completions`;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const timeoutMs = (this.opts.timeoutS ?? 300) * 1000;
    const fail = (answer: string): never => {
      throw new UserError(`${url}: ${what}: ${answer}`);
    };
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: this.opts.model, ...body }),
      });
    } catch (err) {
      const e = err as Error;
      return fail(
        e.name === "TimeoutError"
          ? `no answer within ${timeoutMs / 1000} s (tried ${this.opts.retries ?? 4} times)`
          : `connection failed (${e.message.split("\n")[0]})`,
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      return fail(`answer cut off (${(err as Error).message.split("\n")[0]})`);
    }
    const oneLine = text.replace(/\s+/g, " ").slice(0, 300);
    if (!res.ok) return fail(`HTTP ${res.status}: ${oneLine}`);
    let json: { choices?: CompletionChoice[] };
    try {
      json = JSON.parse(text);
    } catch {
      return fail(`answer is not JSON: ${oneLine}`);
    }
    if (!Array.isArray(json.choices)) return fail(`answer has no "choices": ${oneLine}`);
    return [...json.choices].sort((x, y) => x.index - y.index);
  }

  /** Scores batches with one request each: prompt = context + continuation, echoed with logprobs. */
  async loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    const what = `loglikelihood of ${requests.length} prompt(s), first ${
      _short(requests[0].context + requests[0].continuation)
    }`;
    const choices = await this.#post({
      prompt: requests.map((r) => r.context + r.continuation),
      max_tokens: 0,
      echo: true,
      logprobs: 1,
      temperature: 0,
    }, what);
    if (choices.length !== requests.length) {
      throw new UserError(
        `${this.opts.baseUrl}: ${what}: the server returned ${choices.length} choices for ${requests.length} prompts`,
      );
    }
    const unit = this.opts.offsetUnit ?? "codepoint";
    return choices.map((c, i) => {
      const lp = c.logprobs;
      if (!lp || !Array.isArray(lp.token_logprobs) || !Array.isArray(lp.text_offset)) {
        throw new UserError(
          `${this.opts.baseUrl}: loglikelihood of ${
            _short(requests[i].context + requests[i].continuation)
          }: the answer has no logprobs (${
            JSON.stringify(c).slice(0, 120)
          }); the server must support echo with logprobs`,
        );
      }
      // Continuation tokens: those starting at or after the context's end.
      const start = offsetLength(requests[i].context, unit);
      let logprob = 0;
      let isGreedy = true;
      for (let t = 0; t < lp.tokens.length; t++) {
        if (lp.text_offset[t] < start) continue;
        const v = lp.token_logprobs[t];
        if (v === null) continue; // first token of a prompt has no log-prob
        logprob += v;
        const top = lp.top_logprobs?.[t];
        if (top) {
          const best = Object.entries(top).reduce((a, b) => (b[1] > a[1] ? b : a));
          if (best[0] !== lp.tokens[t]) isGreedy = false;
        }
      }
      return { logprob, isGreedy };
    });
  }

  /** Generation; stop strings are also applied locally (servers take at most four). */
  async generate(requests: GenerateRequest[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of requests) {
      const [c] = await this.#post({
        prompt: r.prompt,
        max_tokens: r.maxTokens,
        temperature: r.temperature ?? 0,
        ...(r.temperature ? { top_p: r.topP ?? 1, seed: r.seed ?? 0 } : {}),
        stop: r.until.slice(0, 4),
      }, `generation for ${_short(r.prompt)}`);
      if (!c || typeof c.text !== "string") {
        throw new UserError(`${this.opts.baseUrl}: generation for ${_short(r.prompt)}: no text`);
      }
      const stop = firstStop(c.text, r.until);
      out.push(stop >= 0 ? c.text.slice(0, stop) : c.text);
    }
    return out;
  }
}
