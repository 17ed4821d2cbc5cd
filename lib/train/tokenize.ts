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

/** Tokenizes the documents of `inputs` (files or folders of JSONL) into the shard `output`. */
export async function tokenizeToShard(
  tokenizer: Tokenizer,
  inputs: string[],
  output: string,
  opts: { mode?: ProgressMode; maxDocs?: number } = {},
): Promise<{ docs: number; tokens: number; chars: number }> {
  const files = (await Promise.all(inputs.map(listDocFiles))).flat();
  const w = await ShardWriter.open(output, tokenizer.vocabSize, tokenizer.eosId);
  const p = new Progress({ label: "tokenize", unit: "docs", mode: opts.mode ?? "quiet" });
  let docs = 0, chars = 0;
  try {
    for await (const doc of readDocsFrom(files)) {
      if (opts.maxDocs !== undefined && docs >= opts.maxDocs) break;
      await w.addDoc(tokenizer.encode(doc.text));
      docs++;
      chars += doc.text.length;
      p.note = `${w.tokenCount} tokens`;
      p.tick();
    }
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  p.done();
  return { docs, tokens: w.tokenCount, chars };
}
