/**
 * A byte-level BPE tokenizer read from (and written back to) a Hugging Face `tokenizer.json` of
 * Llama 3's kind: added tokens split out first, the Llama 3 regex split, bytes spelled in GPT-2's
 * byte alphabet, merges applied lowest rank first (leftmost first among equals), `ignore_merges`
 * honoured. It is Jikji's own encoder for the merged tokenizer — faster than the JavaScript
 * libraries, and tested to give the same ids as `@huggingface/tokenizers` and transformers.js.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { vocabWithAdded } from "./added_tokens.ts";
import {
  BYTE_TO_CHAR,
  fromByteLevel,
  LLAMA3_SPLIT_PATTERN,
  llamaSplit,
  toByteLevel,
} from "./byte_level.ts";

/** An added (special) token of tokenizer.json. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

const PAIR = 262144; // ids must stay below this: pair key = left * PAIR + right

/** A byte-level BPE model plus Llama 3's pre-tokenization. */
export class ByteLevelBpe {
  /** Token string → id, for the model's vocabulary (as `model.vocab` has it). */
  readonly vocab: Map<string, number>;
  /** Id → token string, added tokens included. */
  readonly tokens: string[] = [];
  readonly added: AddedToken[];
  readonly ignoreMerges: boolean;
  /** Merges in rank order, as [left, right] token strings. */
  readonly merges: [string, string][] = [];
  readonly #json: Record<string, unknown>;
  #pairRank = new Map<number, number>();
  #pairId: number[] = [];
  #cache = new Map<string, number[]>();
  #addedRe: RegExp | null;
  #addedIds: Map<string, number>;

  private constructor(json: Record<string, unknown>, source: string) {
    this.#json = json;
    const model = json.model as Record<string, unknown> | undefined;
    if (!model || model.type !== "BPE" || typeof model.vocab !== "object") {
      throw new UserError(
        `${source}: model is not a BPE model with a vocab (model.type, model.vocab)`,
      );
    }
    const pre = JSON.stringify(json.pre_tokenizer ?? null);
    if (!pre.includes('"ByteLevel"') || !pre.includes(JSON.stringify(LLAMA3_SPLIT_PATTERN))) {
      throw new UserError(
        `${source}: pre_tokenizer is not Llama 3's Split + ByteLevel; Jikji's encoder handles that kind only`,
      );
    }
    this.vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    for (const [t, id] of this.vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= PAIR) {
        throw new UserError(`${source}: model.vocab[${JSON.stringify(t)}] = ${id} is not an id`);
      }
      this.tokens[id] = t;
    }
    this.added = ((json.added_tokens ?? []) as AddedToken[]).map((a) => ({
      id: a.id,
      content: a.content,
      special: a.special,
    }));
    for (const a of this.added) this.tokens[a.id] = a.content;
    this.ignoreMerges = model.ignore_merges === true;
    const merges = model.merges;
    if (!Array.isArray(merges)) throw new UserError(`${source}: model.merges is not a list`);
    merges.forEach((m, k) => {
      const pair = typeof m === "string" ? m.split(" ") : m;
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new UserError(`${source}: model.merges[${k}] is not a pair of tokens`);
      }
      this.#addMergeEntry(pair[0], pair[1], `${source}: model.merges[${k}]`);
    });
    if (BYTE_TO_CHAR.some((c) => !this.vocab.has(c))) {
      throw new UserError(`${source}: model.vocab lacks some of the 256 byte tokens`);
    }
    this.#addedIds = new Map(this.added.map((a) => [a.content, a.id]));
    const contents = this.added.map((a) => a.content).sort((a, b) => b.length - a.length);
    this.#addedRe = contents.length
      ? new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g")
      : null;
  }

  /** Reads a parsed tokenizer.json (`source` names it in errors). */
  static fromJson(json: Record<string, unknown>, source = "tokenizer.json"): ByteLevelBpe {
    return new ByteLevelBpe(json, source);
  }

  /** Highest id + 1. */
  get size(): number {
    return this.tokens.length;
  }

  #addMergeEntry(left: string, right: string, where: string): void {
    const l = this.vocab.get(left), r = this.vocab.get(right), m = this.vocab.get(left + right);
    if (l === undefined || r === undefined || m === undefined) {
      throw new UserError(`${where}: merge "${left} ${right}" uses a token not in model.vocab`);
    }
    const key = l * PAIR + r;
    if (this.#pairRank.has(key)) return;
    this.#pairRank.set(key, this.merges.length);
    this.#pairId.push(m);
    this.merges.push([left, right]);
  }

  /**
   * Appends token `left + right` (a new id after every existing one, unless it exists) and the
   * merge that makes it, at the lowest priority; returns the token's id.
   */
  addMerge(left: string, right: string): number {
    const t = left + right;
    let id = this.vocab.get(t);
    if (id === undefined) {
      id = this.tokens.length;
      if (id >= PAIR) throw new Error(`vocabulary is full (${PAIR} ids)`);
      this.vocab.set(t, id);
      this.tokens[id] = t;
    }
    this.#addMergeEntry(left, right, "addMerge");
    this.#cache.clear();
    return id;
  }

  /** Ids of one pre-token spelled in the byte-level alphabet. */
  encodeWord(word: string): number[] {
    const cached = this.#cache.get(word);
    if (cached) return cached;
    const whole = this.ignoreMerges ? this.vocab.get(word) : undefined;
    const ids = whole !== undefined ? [whole] : this.#merge(word);
    if (this.#cache.size > 200_000) this.#cache.clear();
    this.#cache.set(word, ids);
    return ids;
  }

  #merge(word: string): number[] {
    const n = word.length;
    if (n === 0) return [];
    const sym = new Int32Array(n), next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      sym[i] = this.vocab.get(word[i])!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // A min-heap of rank * n + position; stale entries are skipped when popped.
    const heap: number[] = [];
    const push = (pos: number) => {
      const nx = next[pos];
      if (pos < 0 || nx < 0) return;
      const rank = this.#pairRank.get(sym[pos] * PAIR + sym[nx]);
      if (rank !== undefined) heapPush(heap, rank * n + pos);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length) {
      const key = heapPop(heap);
      const pos = key % n, rank = (key - pos) / n;
      const nx = next[pos];
      if (sym[pos] < 0 || nx < 0) continue;
      if (this.#pairRank.get(sym[pos] * PAIR + sym[nx]) !== rank) continue;
      sym[pos] = this.#pairId[rank];
      sym[nx] = -1;
      next[pos] = next[nx];
      if (next[nx] >= 0) prev[next[nx]] = pos;
      push(prev[pos]);
      push(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return out;
  }

  /** Ids of `text`: added tokens first, then the regex split, then BPE. */
  encode(text: string): number[] {
    const out: number[] = [];
    const plain = (s: string) => {
      for (const w of llamaSplit(s)) for (const id of this.encodeWord(toByteLevel(w))) out.push(id);
    };
    if (!this.#addedRe) {
      plain(text);
      return out;
    }
    let last = 0;
    for (const m of text.matchAll(this.#addedRe)) {
      plain(text.slice(last, m.index));
      out.push(this.#addedIds.get(m[0])!);
      last = m.index! + m[0].length;
    }
    plain(text.slice(last));
    return out;
  }

  /** Text of `ids`; added tokens are written out unless `skipSpecial`. */
  decode(ids: number[], skipSpecial = false): string {
    let out = "", pending = "";
    const flush = () => {
      if (pending) out += new TextDecoder().decode(fromByteLevel(pending));
      pending = "";
    };
    for (const id of ids) {
      const t = this.tokens[id];
      if (t === undefined) throw new RangeError(`id ${id} is not in the vocabulary`);
      if (this.#addedIds.get(t) === id) {
        flush();
        if (!skipSpecial) out += t;
      } else pending += t;
    }
    flush();
    return out;
  }

  /**
   * The tokenizer.json object, with this model's vocabulary and merges; the added tokens are
   * written into `model.vocab` at their ids too, so that every reader numbers them alike (see
   * `added_tokens.ts`).
   */
  toJson(): Record<string, unknown> {
    const model = this.#json.model as Record<string, unknown>;
    const vocab = vocabWithAdded(this.vocab, this.added);
    return {
      ...this.#json,
      model: { ...model, vocab, merges: this.merges.map(([l, r]) => `${l} ${r}`) },
    };
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0], last = h.pop()!;
  if (h.length) {
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= h.length) break;
      if (c + 1 < h.length && h[c + 1] < h[c]) c++;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}
