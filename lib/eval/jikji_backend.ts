/**
 * `--backend jikji`: evaluates a Jikji checkpoint (any Hugging Face Llama folder: `config.json`,
 * `model.safetensors`, `tokenizer.json`) in process on the one Llama (lib/model/llama.ts), on the
 * GPU or the CPU. Log-likelihood requests are sorted by length (longest first, as lm-eval's HF
 * backend does) and run in padded batches under a token budget; generation runs batches of prompts
 * through the KV cache (lib/model/generate.ts). Like lm-eval with `add_bos_token=True` (what Llama
 * 3 models are trained with), every context starts with the tokenizer's begin-of-text token when
 * it has one; inputs longer than the model's context are cut from the left.
 *
 * @module
 */

import { basename, join } from "node:path";
import { UserError } from "../io/errors.ts";
import { loadModel } from "../model/hf_folder.ts";
import { createLlama, type Device } from "../model/backend.ts";
import type { Llama } from "../model/llama.ts";
import type { OpName } from "../model/ops.ts";
import { generate } from "../model/generate.ts";
import { loadTokenizer, type Tokenizer } from "../train/tokenizer.ts";
import type {
  EvalModel,
  GenerateRequest,
  LoglikelihoodRequest,
  LoglikelihoodResult,
} from "./model.ts";

/** Options of {@linkcode JikjiModel.load}. */
export interface JikjiOptions {
  device?: Device | string;
  /** Ops of a GPU run sent to the CPU reference (debugging). */
  refOps?: OpName[];
  /** Longest padded batch in tokens (rows × length; default 4096). */
  tokenBudget?: number;
  /** Longest context in tokens (default: the config's max_position_embeddings, at most 4096). */
  maxLength?: number;
}

/** One forward pass of a loglikelihood request: tokens `start…end`, the last `scored` scored. */
export interface ScoringWindow {
  start: number;
  end: number;
  scored: number;
}

/**
 * Windows that score tokens `first…n` of a sequence with at most `maxLength` inputs each, as
 * lm-eval's rolling windows (`get_rolling_token_windows` with context length 1): each window
 * scores the next `maxLength` tokens, seeing as many earlier tokens as fit. A continuation that
 * fits is one window with the most context that fits, as before; a long document (rolling
 * perplexity) is never cut.
 *
 * @example
 * ```ts
 * import { scoringWindows } from "./jikji_backend.ts";
 * scoringWindows(10, 1, 4);
 * // [{ start: 0, end: 5, scored: 4 }, { start: 4, end: 9, scored: 4 }, { start: 5, end: 10, scored: 1 }]
 * ```
 */
export function scoringWindows(n: number, first: number, maxLength: number): ScoringWindow[] {
  const out: ScoringWindow[] = [];
  for (let a = Math.max(first, 1); a < n; a += maxLength) {
    const b = Math.min(n, a + maxLength);
    out.push({ start: Math.max(0, b - maxLength - 1), end: b, scored: b - a });
  }
  return out;
}

/** A fingerprint of the model's weights (SHA-256 of the safetensors files, 12 hex digits). */
async function _fingerprint(dir: string): Promise<string> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".safetensors")) files.push(e.name);
  }
  files.sort();
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(
      new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(join(dir, f)))),
    );
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...h.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A Jikji checkpoint as an {@linkcode EvalModel}. */
export class JikjiModel implements EvalModel {
  readonly batchSize = 64;
  /** Tokens the model read and wrote (for tokens-per-text and speed reports). */
  readonly counts = { contextTokens: 0, generatedTokens: 0, requests: 0 };

  private constructor(
    readonly name: string,
    readonly model: Llama<unknown>,
    readonly tok: Tokenizer,
    readonly stopIds: number[],
    readonly tokenBudget: number,
    readonly maxLength: number,
  ) {}

  /** Loads a model folder (one-line errors name a missing file or a config/weights mismatch). */
  static async load(dir: string, o: JikjiOptions = {}): Promise<JikjiModel> {
    for (const f of ["config.json", "tokenizer.json"]) {
      try {
        await Deno.stat(join(dir, f));
      } catch {
        throw new UserError(
          `${
            join(dir, f)
          }: missing; --model needs a Hugging Face folder with config.json, model.safetensors and tokenizer.json`,
        );
      }
    }
    const { cfg, params } = await loadModel(dir);
    const tok = await loadTokenizer(dir);
    if (tok.vocabSize > cfg.vocab_size) {
      throw new UserError(
        `${
          join(dir, "tokenizer.json")
        }: ${tok.vocabSize} tokens, but config.json vocab_size is ${cfg.vocab_size}`,
      );
    }
    const model = await createLlama(cfg, params, { device: o.device ?? "auto", refOps: o.refOps });
    const eos = [cfg.eos_token_id, tok.eosId].flat().filter((x): x is number => x !== null);
    const name = `jikji:${basename(dir)}-${await _fingerprint(dir)}`;
    const maxLength = Math.min(o.maxLength ?? 4096, cfg.max_position_embeddings);
    return new JikjiModel(name, model, tok, [...new Set(eos)], o.tokenBudget ?? 4096, maxLength);
  }

  /** "gpu" or "cpu". */
  get device(): string {
    return this.model.ops.name;
  }

  #prefix(): number[] {
    return this.tok.bosId !== null ? [this.tok.bosId] : [];
  }

  async loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    const items = requests.flatMap((r, i) => {
      const ctx = [...this.#prefix(), ...this.tok.encode(r.context)];
      const cont = this.tok.encode(r.continuation);
      // no BOS and no context: the first continuation token has nothing to be scored from
      const nCont = Math.max(0, ctx.length ? cont.length : cont.length - 1);
      const all = [...ctx, ...cont];
      return scoringWindows(all.length, all.length - nCont, this.maxLength).map((w) => ({
        i,
        seq: all.slice(w.start, w.end),
        nCont: w.scored,
      }));
    });
    const out = requests.map(() => ({ logprob: 0, isGreedy: true }));
    const todo = items.filter((it) => it.nCont > 0).sort((a, b) => b.seq.length - a.seq.length);
    for (let s = 0; s < todo.length;) {
      const T = todo[s].seq.length - 1; // inputs: all but the last token
      const B = Math.max(1, Math.min(todo.length - s, Math.floor(this.tokenBudget / T)));
      const rows = todo.slice(s, s + B);
      s += B;
      const tokens = new Int32Array(B * T), targets = new Int32Array(B * T).fill(-1);
      rows.forEach((it, b) => {
        const n = it.seq.length - 1;
        tokens.set(it.seq.slice(0, n), b * T);
        for (let j = n - it.nCont; j < n; j++) targets[b * T + j] = it.seq[j + 1];
      });
      const pass = await this.model.forward({ B, T, tokens });
      const sc = await this.model.score(pass, targets);
      this.model.release(pass);
      rows.forEach((it, b) => {
        let logprob = 0, isGreedy = true;
        for (let j = 0; j < T; j++) {
          if (targets[b * T + j] < 0) continue;
          logprob += sc.logprob[b * T + j];
          if (!sc.greedy[b * T + j]) isGreedy = false;
        }
        // A long continuation is scored in several windows: their sums add up.
        out[it.i].logprob += logprob;
        if (!isGreedy) out[it.i].isGreedy = false;
        this.counts.contextTokens += it.seq.length - 1;
      });
    }
    this.counts.requests += requests.length;
    return out;
  }

  async generate(requests: GenerateRequest[]): Promise<string[]> {
    const items = requests.map((r, i) => {
      const budget = Math.max(1, this.maxLength - r.maxTokens);
      const ids = [...this.#prefix(), ...this.tok.encode(r.prompt)].slice(-budget);
      return { i, r, ids };
    }).sort((a, b) => b.ids.length - a.ids.length);
    const out = new Array<string>(requests.length);
    const rowsPerBatch = 8;
    for (let s = 0; s < items.length;) {
      // one batch shares max_new_tokens, stop strings and sampling options
      const first = items[s];
      const group = [first];
      for (let j = s + 1; j < items.length && group.length < rowsPerBatch; j++) {
        const r = items[j].r;
        if (
          r.maxTokens === first.r.maxTokens &&
          r.until.join("\u0000") === first.r.until.join("\u0000") &&
          r.temperature === first.r.temperature && r.topP === first.r.topP &&
          r.seed === first.r.seed
        ) {
          group.push(items[j]);
        } else break;
      }
      s += group.length;
      const gens = await generate(this.model, group.map((g) => g.ids), {
        maxNewTokens: first.r.maxTokens,
        temperature: first.r.temperature,
        topP: first.r.topP,
        seed: first.r.seed,
        stopIds: this.stopIds,
        stopStrings: first.r.until,
        decode: (ids) => this.tok.decode(ids),
      });
      group.forEach((g, k) => {
        out[g.i] = gens[k].text ?? "";
        this.counts.contextTokens += g.ids.length;
        this.counts.generatedTokens += gens[k].ids.length;
      });
    }
    this.counts.requests += requests.length;
    return out;
  }

  /** Frees the model. */
  close(): void {
    this.model.destroy();
  }
}
