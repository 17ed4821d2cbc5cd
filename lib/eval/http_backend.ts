/**
 * Backend for any OpenAI-compatible completions server (vLLM, llama.cpp server, TGI): loglikelihood
 * through `echo` + `logprobs` with `max_tokens: 0`, generation greedy with `stop`. The API key is
 * sent as a bearer token and never logged.
 *
 * @module
 */

import type {
  EvalModel,
  GenerateRequest,
  LoglikelihoodRequest,
  LoglikelihoodResult,
} from "./model.ts";
import { firstStop } from "../model/generate.ts";

/** Options of {@linkcode OpenAICompletionsModel}. */
export interface HttpModelOptions {
  /** Base URL up to `/v1`, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Model name sent in each request. */
  model: string;
  apiKey?: string;
  batchSize?: number;
  /** Attempts per request on network errors and 5xx (default 3). */
  retries?: number;
}

interface CompletionChoice {
  index: number;
  text: string;
  logprobs?: {
    tokens: string[];
    token_logprobs: (number | null)[];
    top_logprobs?: (Record<string, number> | null)[];
    text_offset: number[];
  };
}

/** An {@linkcode EvalModel} over an OpenAI-compatible `/completions` endpoint. */
export class OpenAICompletionsModel implements EvalModel {
  readonly name: string;
  readonly batchSize: number;
  constructor(readonly opts: HttpModelOptions) {
    this.name = `openai:${opts.model}`;
    this.batchSize = opts.batchSize ?? 16;
  }

  async #post(body: Record<string, unknown>): Promise<CompletionChoice[]> {
    const url = `${this.opts.baseUrl.replace(/\/$/, "")}/completions`;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const attempts = this.opts.retries ?? 3;
    let last = "";
    for (let a = 0; a < attempts; a++) {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers,
          body: JSON.stringify({ model: this.opts.model, ...body }),
        });
        if (res.ok) {
          const json = await res.json() as { choices: CompletionChoice[] };
          return [...json.choices].sort((x, y) => x.index - y.index);
        }
        last = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
        if (res.status < 500) break;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** a));
    }
    throw new Error(`${url}: ${last}`);
  }

  /** Scores batches with one request each: prompt = context + continuation, echoed with logprobs. */
  async loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    const choices = await this.#post({
      prompt: requests.map((r) => r.context + r.continuation),
      max_tokens: 0,
      echo: true,
      logprobs: 1,
      temperature: 0,
    });
    if (choices.length !== requests.length) {
      throw new Error(`server returned ${choices.length} choices for ${requests.length} prompts`);
    }
    return choices.map((c, i) => {
      const lp = c.logprobs;
      if (!lp) throw new Error("server returned no logprobs (does it support echo + logprobs?)");
      // Continuation tokens: those starting at or after the context's end (in characters).
      const start = requests[i].context.length;
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

  /** Greedy generation; stop strings are also applied locally (servers take at most four). */
  async generate(requests: GenerateRequest[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of requests) {
      const [c] = await this.#post({
        prompt: r.prompt,
        max_tokens: r.maxTokens,
        temperature: 0,
        stop: r.until.slice(0, 4),
      });
      const stop = firstStop(c.text, r.until);
      out.push(stop >= 0 ? c.text.slice(0, stop) : c.text);
    }
    return out;
  }
}
