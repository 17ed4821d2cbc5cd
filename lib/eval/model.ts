/**
 * The one model interface evaluation talks to, and the adapter that implements it on top of any
 * token-level causal LM (a Jikji checkpoint once the training code provides one, or the in-process
 * character n-gram LM of ngram.ts).
 *
 * @module
 */

import { firstStop, pickToken } from "../model/generate.ts";
import { Rng } from "../model/params.ts";

/** Log-probability of a continuation given a context, and whether greedy decoding yields it. */
export interface LoglikelihoodResult {
  logprob: number;
  isGreedy: boolean;
}

/** A loglikelihood request. */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

/**
 * A generation request: greedy unless `temperature` > 0 (then a top-p sample seeded by `seed`);
 * stops at the first `until` string or after `maxTokens` tokens.
 */
export interface GenerateRequest {
  prompt: string;
  until: string[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

/** What evaluation needs from a model. Batch methods take many requests at once. */
export interface EvalModel {
  /** A name recorded in results (and in the request cache key). */
  readonly name: string;
  /** Requests per batch the backend prefers. */
  readonly batchSize: number;
  loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]>;
  generate(requests: GenerateRequest[]): Promise<string[]>;
}

/**
 * A causal LM over token ids, evaluated one request at a time (the character n-gram LM; Jikji
 * checkpoints have their own batched backend, lib/eval/jikji_backend.ts). `nextLogProbs(ids)`
 * returns log-probabilities of every next token after `ids`.
 */
export interface TokenLM {
  readonly name: string;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Log-probabilities (length = vocabulary) of the token after `ids`. */
  nextLogProbs(ids: number[]): ArrayLike<number>;
  /** Longest input in tokens; longer contexts are cut from the left. */
  readonly maxLength: number;
}

/** Index of the largest entry. */
function _argmax(xs: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[b]) b = i;
  return b;
}

/**
 * Evaluation over a {@linkcode TokenLM}, as lm-eval's HF backend: context and continuation are
 * encoded separately (an empty context is scored from the continuation's first token on), the
 * continuation's token log-probs are summed, greedy means each is the argmax.
 */
export class TokenLMModel implements EvalModel {
  readonly name: string;
  readonly batchSize = 1;
  constructor(readonly lm: TokenLM) {
    this.name = lm.name;
  }

  /** Scores one request. */
  score(context: string, continuation: string): LoglikelihoodResult {
    const ctx = this.lm.encode(context);
    const cont = this.lm.encode(continuation);
    let logprob = 0;
    let isGreedy = true;
    const seq = [...ctx];
    for (const tok of cont) {
      const window = seq.slice(Math.max(0, seq.length - this.lm.maxLength + 1));
      const lp = this.lm.nextLogProbs(window);
      logprob += lp[tok];
      if (_argmax(lp) !== tok) isGreedy = false;
      seq.push(tok);
    }
    return { logprob, isGreedy };
  }

  loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    return Promise.resolve(requests.map((r) => this.score(r.context, r.continuation)));
  }

  /** Greedy (or sampled) decoding until a stop string appears or `maxTokens` tokens were made. */
  generateOne(req: GenerateRequest): string {
    const seq = this.lm.encode(req.prompt);
    const out: number[] = [];
    let text = "";
    const rng = new Rng(req.seed ?? 0);
    for (let i = 0; i < req.maxTokens; i++) {
      const window = seq.slice(Math.max(0, seq.length - this.lm.maxLength + 1));
      const lp = this.lm.nextLogProbs(window);
      const tok = req.temperature
        ? pickToken(lp, req.temperature, req.topP ?? 1, rng)
        : _argmax(lp);
      seq.push(tok);
      out.push(tok);
      text = this.lm.decode(out);
      const stop = firstStop(text, req.until);
      if (stop >= 0) return text.slice(0, stop);
    }
    return text;
  }

  generate(requests: GenerateRequest[]): Promise<string[]> {
    return Promise.resolve(requests.map((r) => this.generateOne(r)));
  }
}
