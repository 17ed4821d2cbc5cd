/**
 * `deno task train tokenize`: JSONL documents → one token shard (see shards.ts), each document's
 * ids followed by the tokenizer's end-of-text id, with a progress bar.
 *
 * Split among ranks (`--world N`, `--executor slurm`): rank R tokenizes its part of the input
 * (lib/executor/split.ts) into `OUTPUT.ranks/part-RRRRR.tok` — the file, written atomically, is
 * the rank's completion marker — and {@linkcode mergeTokenRanks} joins the parts, in rank order,
 * into OUTPUT.
 *
 * @module
 */

import { listDocFiles, readDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { Progress, type ProgressMode } from "../cli/progress.ts";
import { rankInput } from "../executor/split.ts";
import { readShard, ShardWriter } from "./shards.ts";
import type { Tokenizer } from "./tokenizer.ts";

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
  opts: {
    mode?: ProgressMode;
    maxDocs?: number;
    /** Only this rank's part of the input. */
    shard?: { index: number; count: number };
    /** The tokenizer's file, named in errors. */
    source?: string;
  } = {},
): Promise<{ docs: number; tokens: number; chars: number }> {
  const all = (await Promise.all(inputs.map(listDocFiles))).flat();
  const part = opts.shard ? rankInput(all, opts.shard.index, opts.shard.count) : undefined;
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
    files: for (const file of part?.files ?? all) {
      for await (const doc of readDocs(file)) {
        if (part && !part.take()) continue;
        if (opts.maxDocs !== undefined && docs >= opts.maxDocs) break files;
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

/** The shard rank `r` of a split tokenization into `output` writes. */
export function rankShardPath(output: string, r: number): string {
  return `${output}.ranks/part-${String(r).padStart(5, "0")}.tok`;
}

/** Whether rank `r` finished (its shard exists). */
export async function rankShardDone(output: string, r: number): Promise<boolean> {
  try {
    await Deno.stat(rankShardPath(output, r));
    return true;
  } catch {
    return false;
  }
}

/** Joins the `world` rank shards of `output`, in rank order, into `output`. */
export async function mergeTokenRanks(
  output: string,
  world: number,
): Promise<{ docs: number; tokens: number }> {
  const missing: number[] = [];
  for (let r = 0; r < world; r++) if (!(await rankShardDone(output, r))) missing.push(r);
  if (missing.length > 0) {
    throw new UserError(
      `${output}: tokenize ranks ${
        missing.join(", ")
      } of ${world} have not finished; run them first (--shard ${missing[0]}/${world})`,
    );
  }
  const first = await readShard(rankShardPath(output, 0));
  const eos = first.eosId >= 0 ? first.eosId : null;
  const w = await ShardWriter.open(output, first.vocabSize, eos);
  let docs = 0;
  try {
    for (let r = 0; r < world; r++) {
      const s = r === 0 ? first : await readShard(rankShardPath(output, r));
      if (s.vocabSize !== first.vocabSize || s.eosId !== first.eosId) {
        throw new UserError(`${s.path}: another tokenizer than rank 0's; tokenize it again`);
      }
      for (let d = 0; d + 1 < s.docStarts.length; d++) {
        // each document ends in the eos id, which the writer appends again
        const end = s.docStarts[d + 1] - (eos === null ? 0 : 1);
        await w.addDoc(s.tokens.subarray(s.docStarts[d], end));
        docs++;
      }
    }
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return { docs, tokens: w.tokenCount };
}
