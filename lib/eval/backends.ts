/**
 * Builds the model an evaluation run uses from its options: the in-process character n-gram LM
 * (trained on given text files), an OpenAI-compatible HTTP server, a Jikji checkpoint run in
 * process (lib/eval/jikji_backend.ts), or the oracle.
 *
 * @module
 */

import { readDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { type OffsetUnit, OpenAICompletionsModel } from "./http_backend.ts";
import { type EvalModel, TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { parseRefOps } from "../model/backend.ts";

/** Backends `--backend` accepts. */
export const BACKENDS = ["ngram", "openai", "jikji", "oracle"] as const;

/** Options that choose and configure the backend. */
export interface BackendOptions {
  backend: string;
  trainText?: string[];
  ngramOrder?: number;
  maxTrainChars?: number;
  baseUrl?: string;
  modelName?: string;
  apiKey?: string;
  batchSize?: number;
  /** openai: seconds one attempt may take, attempts in all, the server's text_offset unit. */
  requestTimeoutS?: number;
  retries?: number;
  offsetUnit?: string;
  onRetry?: (line: string) => void;
  /** jikji: a Hugging Face model folder, and where to run it. */
  modelDir?: string;
  device?: string;
  refOps?: string;
}

/**
 * Reads training text: JSONL document records (`.jsonl`, `.jsonl.gz`) or plain text files, at most
 * `maxChars` characters from each file.
 */
export async function readTrainingText(paths: string[], maxChars = Infinity): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let n = 0;
    if (/\.jsonl(\.gz)?$/.test(p)) {
      for await (const d of readDocs(p)) {
        out.push(d.text.slice(0, maxChars - n));
        n += d.text.length;
        if (n >= maxChars) break;
      }
    } else {
      let t: string;
      try {
        t = await Deno.readTextFile(p);
      } catch (err) {
        throw new UserError(`${p}: cannot read training text (${(err as Error).message})`);
      }
      out.push(t.slice(0, maxChars - n));
      n += t.length;
    }
  }
  return out;
}

/** FNV-1a (32-bit, hex) over the UTF-16 code units of the texts, in order. */
export function textFingerprint(texts: string[]): string {
  let h = 0x811c9dc5;
  for (const t of texts) {
    for (let i = 0; i < t.length; i++) {
      h ^= t.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x1e;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Creates the model for a run. */
export async function createModel(o: BackendOptions): Promise<EvalModel | "oracle"> {
  switch (o.backend) {
    case "oracle":
      return "oracle";
    case "ngram": {
      if (!o.trainText?.length) {
        throw new UserError(
          "--backend ngram needs --train-text FILE (text or JSONL documents to train on)",
        );
      }
      const texts = await readTrainingText(o.trainText, o.maxTrainChars);
      const order = o.ngramOrder ?? 5;
      // The name carries a fingerprint of the training text: cached answers of another model
      // trained on other text are never reused.
      const name = `char-${order}gram-${textFingerprint(texts)}`;
      return new TokenLMModel(new CharNgramLM(texts, order, name));
    }
    case "jikji": {
      if (!o.modelDir) {
        throw new UserError(
          "--backend jikji needs --model DIR (config.json, model.safetensors, tokenizer.json)",
        );
      }
      const { JikjiModel } = await import("./jikji_backend.ts");
      return await JikjiModel.load(o.modelDir, { device: o.device, refOps: parseRefOps(o.refOps) });
    }
    case "openai":
      if (!o.baseUrl || !o.modelName) {
        throw new UserError("--backend openai needs --base-url URL and --model-name NAME");
      }
      return new OpenAICompletionsModel({
        baseUrl: o.baseUrl,
        model: o.modelName,
        apiKey: o.apiKey,
        batchSize: o.batchSize,
        timeoutS: o.requestTimeoutS,
        retries: o.retries,
        offsetUnit: o.offsetUnit as OffsetUnit | undefined,
        onRetry: o.onRetry,
      });
    default:
      throw new UserError(`--backend: "${o.backend}" is not one of ${BACKENDS.join(", ")}`);
  }
}
