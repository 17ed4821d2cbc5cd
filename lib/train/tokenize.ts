/**
 * `deno task train tokenize`: JSONL documents → one token shard (see shards.ts), each document's
 * ids followed by the tokenizer's end-of-text id, with a progress bar.
 *
 * @module
 */

import { listDocFiles, readDocsFrom } from "../io/jsonl.ts";
import { Progress, type ProgressMode } from "../cli/progress.ts";
import { ShardWriter } from "./shards.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { UserError } from "../io/errors.ts";

/** Documents decoded again to measure what the tokenizer loses: the first ones, then 1 in 100. */
const SAMPLE_FIRST = 200;

/** Above this share of characters lost, tokenizing stops: the vocabulary cannot write the text. */
export const MAX_LOST_SHARE = 0.5;

const _nonSpace = (s: string) => s.replace(/\s+/g, "").length;

/**
 * Tokenizes the documents of `inputs` (files or folders of JSONL) into the shard `output`. A
 * sample of documents is decoded again; when most of their characters do not come back (a
 * vocabulary without the input's script and no byte fallback), it stops with a one-line error
 * naming the share lost instead of writing a shard of almost nothing.
 */
export async function tokenizeToShard(
  tokenizer: Tokenizer,
  inputs: string[],
  output: string,
  opts: { mode?: ProgressMode; maxDocs?: number; source?: string } = {},
): Promise<{ docs: number; tokens: number; chars: number }> {
  const files = (await Promise.all(inputs.map(listDocFiles))).flat();
  const w = await ShardWriter.open(output, tokenizer.vocabSize, tokenizer.eosId);
  const p = new Progress({ label: "tokenize", unit: "docs", mode: opts.mode ?? "quiet" });
  let docs = 0, chars = 0, sampled = 0, back = 0;
  const check = () => {
    const lost = sampled > 0 ? 1 - Math.min(1, back / sampled) : 0;
    if (lost > MAX_LOST_SHARE) {
      throw new UserError(
        `${opts.source ?? "the tokenizer"}: ${(lost * 100).toFixed(1)}% of the characters of the ` +
          `first ${
            Math.min(docs, SAMPLE_FIRST)
          } documents are lost in tokenizing (its vocabulary ` +
          `cannot write this text; use one with byte fallback or trained on this language)`,
      );
    }
  };
  try {
    for await (const doc of readDocsFrom(files)) {
      if (opts.maxDocs !== undefined && docs >= opts.maxDocs) break;
      const ids = tokenizer.encode(doc.text);
      if (docs < SAMPLE_FIRST || docs % 100 === 0) {
        sampled += _nonSpace(doc.text);
        back += _nonSpace(tokenizer.decode(ids));
      }
      await w.addDoc(ids);
      docs++;
      if (docs === SAMPLE_FIRST) check();
      chars += doc.text.length;
      p.note = `${w.tokenCount} tokens`;
      p.tick();
    }
    check();
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  p.done();
  return { docs, tokens: w.tokenCount, chars };
}
