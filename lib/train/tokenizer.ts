/**
 * Loading any Hugging Face `tokenizer.json` through `@huggingface/tokenizers` (Hugging Face's
 * pure-JS extraction of transformers.js's tokenizers: the same code without the ONNX runtime,
 * whose native binding `@xenova/transformers/src/tokenizers.js` pulls in at import and which
 * would need `--allow-ffi`), and a tiny byte-level BPE `tokenizer.json` builder
 * (GPT-2 byte mapping, 256 byte tokens + optional merges + Llama 3-style special tokens) for the
 * embedded demo and tests, where no pretrained tokenizer can be downloaded.
 *
 * @module
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { UserError } from "../io/errors.ts";

/** A loaded tokenizer. */
export interface Tokenizer {
  /** Ids of `text`, without special tokens. */
  encode(text: string): number[];
  /** Text of `ids` (special tokens skipped). */
  decode(ids: number[]): string;
  /** Highest id + 1. */
  vocabSize: number;
  /** End-of-text id appended after each document, or null. */
  eosId: number | null;
  /** Begin-of-text id, or null. */
  bosId: number | null;
  /** The tokenizer.json object. */
  json: Record<string, unknown>;
  /** The vocabulary string of `id` (in the model's own alphabet), or undefined. */
  tokenString(id: number): string | undefined;
  /** Splits a vocabulary string into this tokenizer's own ids by its model alone (no pre-tokenizer). */
  pieceToIds(piece: string): number[];
}

const EOS_NAMES = ["<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>"];
const BOS_NAMES = ["<|begin_of_text|>", "<s>", "<bos>"];

/** Ids at or above this are refused (2^24: over a hundred times Llama 3's 128256). */
export const MAX_TOKEN_ID = 1 << 24;

/** Builds a tokenizer from a parsed tokenizer.json object (`source` names it in errors). */
export function tokenizerFromJson(
  json: Record<string, unknown>,
  source = "tokenizer.json",
): Tokenizer {
  _checkIds(json, source);
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json, {});
  } catch (err) {
    throw new UserError(
      `${source}: not a usable Hugging Face tokenizer (${(err as Error).message})`,
    );
  }
  const vocab = tok.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const find = (names: string[]) => {
    for (const n of names) if (vocab.has(n)) return vocab.get(n)!;
    return null;
  };
  const strings: string[] = [];
  for (const [s, id] of vocab) strings[id] = s;
  const model = tok.model!;
  return {
    tokenString: (id) => strings[id],
    pieceToIds: (piece) => {
      if (vocab.has(piece)) return [vocab.get(piece)!];
      return model.encode([piece]).map((t) => vocab.get(t)).filter((x): x is number =>
        x !== undefined
      );
    },
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => (ids.length ? tok.decode(ids, { skip_special_tokens: true }) : ""),
    vocabSize: maxId + 1,
    eosId: find(EOS_NAMES),
    bosId: find(BOS_NAMES),
    json,
  };
}

/** The tokenizer models of Hugging Face's tokenizer.json. */
const MODEL_TYPES = ["BPE", "WordPiece", "Unigram", "WordLevel"];

/** Fields of tokenizer.json components that are true or false wherever they appear. */
const FLAG_KEYS = new Set([
  "fuse_unk",
  "byte_fallback",
  "ignore_merges",
  "trim_offsets",
  "add_prefix_space",
  "use_regex",
  "lowercase",
  "clean_text",
  "handle_chinese_chars",
  "invert",
]);

/** Refuses a flag of a normalizer, pre-tokenizer, model, post-processor or decoder that is not a boolean. */
function _checkFlags(json: Record<string, unknown>, source: string): void {
  const stack: [unknown, string][] = [];
  for (const k of ["normalizer", "pre_tokenizer", "post_processor", "decoder", "model"]) {
    stack.push([json[k], k]);
  }
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (v === null || typeof v !== "object" || at.split(".").length > 32) continue;
    for (const [k, x] of Object.entries(v)) {
      if (at === "model" && (k === "vocab" || k === "merges")) continue;
      if (FLAG_KEYS.has(k) && typeof x !== "boolean") {
        throw new UserError(`${source}: ${at}.${k}: expected true or false`);
      }
      if (x !== null && typeof x === "object") stack.push([x, `${at}.${k}`]);
    }
  }
}

/**
 * Refuses ids that are not integers in 0…MAX_TOKEN_ID−1, or that leave most of the id range empty,
 * before the library sizes its tables by the largest id.
 */
function _checkIds(json: Record<string, unknown>, source: string): void {
  const ids: [string, unknown][] = [];
  const model = json.model as Record<string, unknown> | undefined;
  if (model && typeof model === "object" && model.type !== undefined) {
    if (typeof model.type !== "string" || !MODEL_TYPES.includes(model.type)) {
      throw new UserError(
        `${source}: model.type: expected one of ${MODEL_TYPES.join(", ")}, got ${
          String(JSON.stringify(model.type)).slice(0, 30)
        }`,
      );
    }
  }
  _checkFlags(json, source);
  const vocab = model?.vocab;
  const inVocab = new Map<unknown, string>();
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const e of Object.entries(vocab as Record<string, unknown>)) {
      const other = inVocab.get(e[1]);
      if (other !== undefined) {
        throw new UserError(
          `${source}: tokens ${JSON.stringify(other).slice(0, 30)} and ${
            JSON.stringify(e[0]).slice(0, 30)
          } share id ${e[1]}; each id names one token`,
        );
      }
      inVocab.set(e[1], e[0]);
      ids.push(e);
    }
  }
  if (Array.isArray(json.added_tokens)) {
    for (const [i, t] of (json.added_tokens as Record<string, unknown>[]).entries()) {
      if (!t || typeof t !== "object" || typeof t.content !== "string") {
        throw new UserError(`${source}: added_tokens[${i}]: expected {id, content, …}`);
      }
      for (const k of ["special", "lstrip", "rstrip", "normalized", "single_word"]) {
        if (t[k] !== undefined && typeof t[k] !== "boolean") {
          throw new UserError(`${source}: added_tokens[${i}].${k}: expected true or false`);
        }
      }
      ids.push([t.content, t.id]);
    }
  }
  let maxId = -1;
  for (const [piece, id] of ids) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= MAX_TOKEN_ID) {
      let shown: string;
      try {
        shown = String(JSON.stringify(id)).slice(0, 20);
      } catch {
        shown = "a value nested too deep";
      }
      throw new UserError(
        `${source}: token ${
          JSON.stringify(piece).slice(0, 40)
        } has id ${shown}; ids must be integers in 0…${MAX_TOKEN_ID - 1}`,
      );
    }
    if (id > maxId) maxId = id;
  }
  if (maxId >= 2 * ids.length + 1024) {
    throw new UserError(
      `${source}: ids reach ${maxId} for only ${ids.length} tokens; a vocabulary's ids must be (nearly) contiguous`,
    );
  }
}

/** Reads a tokenizer.json file (or a folder holding one). */
export async function loadTokenizer(pathOrDir: string): Promise<Tokenizer> {
  const path = pathOrDir.endsWith(".json") ? pathOrDir : `${pathOrDir}/tokenizer.json`;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return tokenizerFromJson(json, path);
}

/** GPT-2's reversible byte → printable character mapping. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return out;
}

/**
 * A byte-level BPE tokenizer.json: ids 0–255 are the bytes, 256–259 the special tokens
 * `<|begin_of_text|>`, `<|end_of_text|>`, `<|pad|>`, `<|reserved_0|>`, then one id per merge —
 * so a tokenizer with more merges extends one with fewer, keeping its ids. With no merges the
 * vocabulary is 260 (the tiny preset's `vocab_size`).
 */
export function byteLevelTokenizerJson(merges: [string, string][] = []): Record<string, unknown> {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((ch, i) => (vocab[ch] = i));
  const specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|pad|>", "<|reserved_0|>"];
  let next = 256 + specials.length; // merges come after the specials, so extending keeps old ids
  for (const [a, b] of merges) {
    if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${a} ${b}: parts not in vocabulary`);
    if (!((a + b) in vocab)) vocab[a + b] = next++;
  }
  // the specials are in model.vocab too, so that every reader gives them these ids
  specials.forEach((s, i) => (vocab[s] = 256 + i));
  const added = specials.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * Learns `n` byte-level BPE merges from `texts` (most frequent adjacent pair first, ties by
 * first seen) — a small trainer for demos and tests of vocabulary extension.
 */
export function learnByteMerges(texts: string[], n: number): [string, string][] {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  // words split like the ByteLevel pre-tokenizer roughly does: on spaces, keeping the space
  const words = new Map<string, number>();
  for (const t of texts) {
    for (const w of t.match(/ ?[^\s]+|\s+/gu) ?? []) words.set(w, (words.get(w) ?? 0) + 1);
  }
  let seqs = [...words].map(([w, c]) => ({ s: [...enc.encode(w)].map((b) => b2u[b]), c }));
  const merges: [string, string][] = [];
  for (let m = 0; m < n; m++) {
    const counts = new Map<string, number>();
    for (const { s, c } of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] + "\u0000" + s[i + 1];
        counts.set(k, (counts.get(k) ?? 0) + c);
      }
    }
    let best = "", bc = 1;
    for (const [k, c] of counts) if (c > bc) [best, bc] = [k, c];
    if (!best) break;
    const [a, b] = best.split("\u0000");
    merges.push([a, b]);
    seqs = seqs.map(({ s, c }) => {
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s[i]);
      }
      return { s: out, c };
    });
  }
  return merges;
}
