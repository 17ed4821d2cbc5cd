/**
 * Post-training examples as the model sees them: a conversation rendered by the tokenizer's chat
 * template becomes token ids with a per-token loss mask (assistant tokens only, or all), and rows
 * of T tokens are made either one conversation per row (padded) or packed — several
 * conversations per row with document ids, so that none attends to another and positions restart
 * at each (the model's packed-sequence support). A preference pair becomes two such rows, chosen
 * and rejected, whose masks cover the answer only.
 *
 * Shapes: a row is T inputs, T targets (the next token, or −1 where no loss) and T document ids.
 *
 * @module
 */

import type { ChatFormat } from "./chat_template.ts";
import { tokenizeChat } from "./chat_template.ts";
import { UserError } from "../io/errors.ts";
import type { Message, PreferencePair } from "./records.ts";

/** Token ids and which of them are trained on as targets. */
export interface Example {
  ids: number[];
  /** 1 where token i is a target of the loss. */
  mask: Uint8Array;
}

/** A batch of rows: (B·T) tokens, targets (−1 = no loss) and document ids. */
export interface Rows {
  B: number;
  T: number;
  tokens: Int32Array;
  targets: Int32Array;
  docIds: Int32Array;
}

/** A conversation as an example: loss on the assistant turns (with their end token) or on all. */
export function conversationExample(
  format: ChatFormat,
  messages: Message[],
  lossOn: "assistant" | "all",
): Example {
  const { ids, assistantMask } = tokenizeChat(format, messages);
  const mask = lossOn === "all" ? new Uint8Array(ids.length).fill(1) : assistantMask;
  if (lossOn === "all") mask[0] = 0; // the first token has nothing before it
  return { ids, mask };
}

/**
 * A preference pair's two answers as examples after the same prompt: the mask covers only the
 * tokens after the prompt (the answer and its end token).
 */
export function pairExamples(
  format: ChatFormat,
  prompt: Message[],
  chosen: Message[],
  rejected: Message[],
): { chosen: Example; rejected: Example } {
  const side = (answer: Message[]): Example => {
    const { ids, assistantMask } = tokenizeChat(format, [...prompt, ...answer]);
    const promptLen = tokenizeChat(format, prompt, { addGenerationPrompt: true }).ids.length;
    const mask = assistantMask.map((m, i) => (i >= promptLen ? m : 0));
    return { ids, mask };
  };
  return { chosen: side(chosen), rejected: side(rejected) };
}

/**
 * An answer given as the token ids a policy sampled after `prompt` (rendered with the generation
 * prompt): the mask covers exactly those ids, so training sees what was sampled — with its EOS
 * only if it sampled one.
 *
 * @example
 * ```ts ignore
 * const e = sampledExample(format, [{ role: "user", content: "1+1?" }], [50, eotId]);
 * e.ids.slice(-2); // [50, eotId]; e.mask is 1 on those two only
 * ```
 */
export function sampledExample(format: ChatFormat, prompt: Message[], answer: number[]): Example {
  const head = tokenizeChat(format, prompt, { addGenerationPrompt: true }).ids;
  const mask = new Uint8Array(head.length + answer.length);
  mask.fill(1, head.length);
  return { ids: [...head, ...answer], mask };
}

/**
 * A preference pair's examples: from the ids in `meta.sampled_ids` (`{"chosen": [...],
 * "rejected": [...]}`, as online DPO writes its pairs) when present, else from the text. Refuses in
 * one line ids that are not integers below the tokenizer's vocabulary size.
 */
export function preferenceExamples(
  format: ChatFormat,
  pair: PreferencePair,
  path: string,
): { chosen: Example; rejected: Example } {
  const sampled = pair.meta.sampled_ids as { chosen?: unknown; rejected?: unknown } | undefined;
  if (sampled === undefined) return pairExamples(format, pair.prompt, pair.chosen, pair.rejected);
  const ids = (side: "chosen" | "rejected") => {
    const v = sampled?.[side];
    const V = format.tokenizer.vocabSize;
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x < V)) {
      throw new UserError(
        `${path}: pair ${pair.id}: meta.sampled_ids.${side} must be a list of token ids below ${V} (or drop meta.sampled_ids to train on the text)`,
      );
    }
    return sampledExample(format, pair.prompt, v as number[]);
  };
  return { chosen: ids("chosen"), rejected: ids("rejected") };
}

/** Number of loss tokens of an example once cut to a row of T inputs. */
export function lossTokens(e: Example, T: number): number {
  let n = 0;
  const start = _start(e, T);
  for (let i = start + 1; i < Math.min(e.ids.length, start + T + 1); i++) n += e.mask[i];
  return n;
}

/** Where an example's row starts: 0, or later when it is too long, so that its loss tokens fit. */
function _start(e: Example, T: number): number {
  if (e.ids.length <= T + 1) return 0;
  let first = e.mask.indexOf(1);
  if (first < 0) first = 0;
  return Math.max(0, Math.min(first - 1, e.ids.length - (T + 1)));
}

/** An example's segment: inputs ids[s..], targets ids[s+1..] where masked, at most T long. */
function _segment(e: Example, T: number): { tokens: number[]; targets: number[] } {
  const s = _start(e, T);
  const n = Math.min(e.ids.length - 1 - s, T);
  const tokens: number[] = [], targets: number[] = [];
  for (let j = 0; j < n; j++) {
    tokens.push(e.ids[s + j]);
    targets.push(e.mask[s + j + 1] ? e.ids[s + j + 1] : -1);
  }
  return { tokens, targets };
}

/**
 * Rows of T from examples, in order: one example per row (`packing` false, padded) or packed
 * first-fit in order (a segment that does not fit the row's rest starts a new row). Padding has
 * target −1 and a document id of its own.
 */
export function makeRows(examples: Example[], T: number, packing: boolean, padId = 0): Rows {
  const rows: { tokens: number[]; targets: number[]; doc: number[] }[] = [];
  let cur: (typeof rows)[number] | undefined;
  for (const e of examples) {
    const seg = _segment(e, T);
    if (!seg.tokens.length) continue;
    if (!packing || !cur || cur.tokens.length + seg.tokens.length > T) {
      cur = { tokens: [], targets: [], doc: [] };
      rows.push(cur);
    }
    const d = cur.doc.length ? cur.doc[cur.doc.length - 1] + 1 : 0;
    cur.tokens.push(...seg.tokens);
    cur.targets.push(...seg.targets);
    for (let i = 0; i < seg.tokens.length; i++) cur.doc.push(d);
  }
  const B = rows.length;
  const out: Rows = {
    B,
    T,
    tokens: new Int32Array(B * T).fill(padId),
    targets: new Int32Array(B * T).fill(-1),
    docIds: new Int32Array(B * T),
  };
  rows.forEach((r, b) => {
    out.tokens.set(r.tokens, b * T);
    out.targets.set(r.targets, b * T);
    out.docIds.set(r.doc, b * T);
    const pad = r.doc.length ? r.doc[r.doc.length - 1] + 1 : 0;
    out.docIds.fill(pad, b * T + r.doc.length, (b + 1) * T);
  });
  return out;
}

/** Rows [r0, r0 + n) of a batch. */
export function sliceRows(rows: Rows, r0: number, n: number): Rows {
  const a = r0 * rows.T, b = (r0 + n) * rows.T;
  return {
    B: n,
    T: rows.T,
    tokens: rows.tokens.slice(a, b),
    targets: rows.targets.slice(a, b),
    docIds: rows.docIds.slice(a, b),
  };
}
