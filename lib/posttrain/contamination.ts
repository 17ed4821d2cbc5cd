/**
 * Contamination check of post-training records against the evaluation tasks: word n-gram overlap
 * (GPT-3's 13-gram test) between each record's text and the items of the task files in `eval/`,
 * loaded and rendered exactly as the evaluator does (lib/eval/task_file.ts, data.ts,
 * instances.ts).
 *
 * Text is NFKC-normalised, lowercased and split on everything that is not a letter, digit or
 * mark. An eval item is a set of segments: the raw values of the row columns its templates read,
 * its rendered choices, continuation and gold output (not the rendered prompt, whose n-grams
 * across template words such as `질문:` would only catch records that use the same template). A
 * segment gives every n-gram of it as a key; one shorter than n is a key whole if it has at least
 * `minTokens` tokens (default 8), so that a record must copy all of a short question to match it
 * (its 8-grams alone would be phrases like "which of the following is an example of"); shorter
 * segments are too short to tell a copy from a coincidence and are not checked (counted as short
 * segments). A record is checked turn by turn; it overlaps an item
 * when one of its turns holds one of the item's keys.
 *
 * Korean segments (half or more of their tokens hold Hangul) use `nKorean` (default 8) instead
 * of n: a Korean whitespace token (eojeol) is a word with its particles and endings, about 1.5
 * English words, so 13 eojeols span ~20 English words; and most Korean eval items (KorSTS, KLUE
 * STS/NLI, KorNLI sentences of 5–15 eojeols) have no 13-gram at all, so with 13 a record that
 * copies a Korean sentence would be caught only when it copies the whole segment.
 *
 * Keys are 64-bit rolling hashes (two 32-bit polynomial lanes over FNV-1a token hashes) in an
 * open-addressing table; with ~10^6 item keys and ~10^7 record windows a false hit is unlikely
 * (expected ≪ 0.01).
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { loadTaskData } from "../eval/data.ts";
import { buildInstances, TaskTemplates } from "../eval/instances.ts";
import { featuresOf } from "../eval/fields.ts";
import { listTaskFiles, readSuiteFile, type TaskConfig } from "../eval/task_file.ts";
import type { Conversation, PreferencePair } from "./records.ts";

/** Options of {@linkcode EvalNgramIndex.build}. */
export interface ContaminationOptions {
  /** Task files or folders of them (e.g. `eval`). */
  tasks: string[];
  /** The data root the task files' `dataset_path` is relative to (e.g. `../shared/bench`). */
  dataRoot: string;
  /** Where Hub task data may already be cached (default `data/cache`); nothing is downloaded. */
  cacheDir?: string;
  /** n of the word n-grams (default 13). */
  n?: number;
  /** n for Korean segments (default 8; see the module doc). */
  nKorean?: number;
  /** Shortest segment checked whole when shorter than n (default 8 tokens). */
  minTokens?: number;
  /** Called after each task file with the files done and the total. */
  onTask?: (done: number, total: number) => void;
}

/** What one task file gave the index. */
export interface TaskIndexStats {
  task: string;
  file: string;
  status: "checked" | "skipped";
  /** Why a task was skipped (its Hub data is not here). */
  reason?: string;
  items: number;
  segments: number;
  /** Segments shorter than minTokens (not checked). */
  short_segments: number;
  keys: number;
}

/** One overlap of a record with an eval item. */
export interface Overlap {
  task: string;
  /** Row of the task's data file. */
  row: number;
  /** The shared words. */
  ngram: string;
}

/** The contamination report (contamination.json). */
export interface ContaminationReport {
  ngram: { n: number; n_korean: number; min_tokens: number; tokens: string };
  tasks: (TaskIndexStats & { records_dropped: number; items_hit: number })[];
  /** Per record source: records checked, dropped, dropped per task. */
  sources: Record<string, { checked: number; dropped: number; by_task: Record<string, number> }>;
  /** Per output set (e.g. sft, dpo.heldout): checked and dropped. */
  sets: Record<string, { checked: number; dropped: number }>;
  checked: number;
  dropped: number;
  /** The first dropped records, with what they share. */
  examples: { set: string; id: string; source: string; overlaps: Overlap[] }[];
}

const TOKEN_SPLIT = /[^\p{L}\p{N}\p{M}]+/u;
const HANGUL = /[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7A3]/;

/**
 * The words of a text for overlap checks: NFKC, lowercase, split on anything that is not a
 * letter, digit or combining mark.
 *
 * @example
 * ```ts
 * import { overlapTokens } from "./contamination.ts";
 * overlapTokens("Hello, World! 안녕하세요?"); // ["hello", "world", "안녕하세요"]
 * ```
 */
export function overlapTokens(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().split(TOKEN_SPLIT).filter((t) => t !== "");
}

/** True when half or more of the tokens hold Hangul. */
export function isKoreanTokens(tokens: string[]): boolean {
  let k = 0;
  for (const t of tokens) if (HANGUL.test(t)) k++;
  return tokens.length > 0 && 2 * k >= tokens.length;
}

const B1 = 0x01000193, B2 = 0x5bd1e995;

function _tokenHashes(tokens: string[]): [Uint32Array, Uint32Array] {
  const h1 = new Uint32Array(tokens.length), h2 = new Uint32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    let a = 0x811c9dc5, b = 0x9747b28c;
    for (let j = 0; j < t.length; j++) {
      const c = t.charCodeAt(j);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    h1[i] = a >>> 0;
    h2[i] = (b ^ (b >>> 13)) >>> 0;
  }
  return [h1, h2];
}

/**
 * The 64-bit keys (two 32-bit lanes) of every L-gram of the hashed tokens: a polynomial rolling
 * hash per lane, O(1) per window. Window s is `[a[s], b[s]]`.
 */
function _windowKeys(h1: Uint32Array, h2: Uint32Array, L: number): [Uint32Array, Uint32Array] {
  const n = h1.length;
  const count = L > 0 && n >= L ? n - L + 1 : 0;
  const ka = new Uint32Array(count), kb = new Uint32Array(count);
  if (!count) return [ka, kb];
  let p1 = 1, p2 = 1; // B^(L-1)
  for (let i = 1; i < L; i++) {
    p1 = Math.imul(p1, B1);
    p2 = Math.imul(p2, B2);
  }
  let a = 0, b = 0;
  for (let i = 0; i < L; i++) {
    a = (Math.imul(a, B1) + h1[i]) | 0;
    b = (Math.imul(b, B2) + h2[i]) | 0;
  }
  for (let s = 0;; s++) {
    ka[s] = a;
    kb[s] = b;
    if (s + L >= n) break;
    a = (Math.imul((a - Math.imul(h1[s], p1)) | 0, B1) + h1[s + L]) | 0;
    b = (Math.imul((b - Math.imul(h2[s], p2)) | 0, B2) + h2[s + L]) | 0;
  }
  return [ka, kb];
}

/**
 * An open-addressing hash table from 64-bit keys to item ids (a key several items share maps to
 * a list of them). Far faster than a `Map` for millions of lookups.
 */
class _KeyTable {
  size = 0;
  #a = new Uint32Array(1 << 16);
  #b = new Uint32Array(1 << 16);
  /** -1 empty; ≥ 0 an item id; ≤ -2 the list `lists[-v - 2]`. */
  #v = new Int32Array(1 << 16).fill(-1);
  #lists: number[][] = [];

  #slot(a: number, b: number): number {
    const mask = this.#v.length - 1;
    let i = (Math.imul(a ^ (b >>> 16), 0x85ebca6b) ^ b) & mask;
    while (this.#v[i] !== -1 && (this.#a[i] !== a || this.#b[i] !== b)) i = (i + 1) & mask;
    return i;
  }

  add(a: number, b: number, id: number): void {
    a >>>= 0;
    b >>>= 0;
    if (2 * (this.size + 1) > this.#v.length) this.#grow();
    const i = this.#slot(a, b);
    const v = this.#v[i];
    if (v === -1) {
      this.#a[i] = a;
      this.#b[i] = b;
      this.#v[i] = id;
      this.size++;
    } else if (v >= 0) {
      if (v !== id) {
        this.#lists.push([v, id]);
        this.#v[i] = -(this.#lists.length + 1);
      }
    } else {
      const list = this.#lists[-v - 2];
      if (list[list.length - 1] !== id) list.push(id);
    }
  }

  /** The item ids of a key (empty when absent). */
  get(a: number, b: number): readonly number[] {
    const v = this.#v[this.#slot(a >>> 0, b >>> 0)];
    return v === -1 ? _NONE : v >= 0 ? [v] : this.#lists[-v - 2];
  }

  #grow(): void {
    const [oa, ob, ov] = [this.#a, this.#b, this.#v];
    const cap = ov.length * 2;
    this.#a = new Uint32Array(cap);
    this.#b = new Uint32Array(cap);
    this.#v = new Int32Array(cap).fill(-1);
    for (let j = 0; j < ov.length; j++) {
      if (ov[j] === -1) continue;
      const i = this.#slot(oa[j], ob[j]);
      this.#a[i] = oa[j];
      this.#b[i] = ob[j];
      this.#v[i] = ov[j];
    }
  }
}

const _NONE: readonly number[] = [];

/** String leaves of a row value (columns may hold lists or objects, e.g. `choices.text`). */
function _leaves(v: unknown, out: string[], depth = 0): void {
  if (typeof v === "string") out.push(v);
  else if (depth < 4 && Array.isArray(v)) { for (const x of v) _leaves(x, out, depth + 1); }
  else if (depth < 4 && v !== null && typeof v === "object") {
    for (const x of Object.values(v)) _leaves(x, out, depth + 1);
  }
}

/** The n-gram keys of every item of the eval tasks, and the lookup of a text against them. */
export class EvalNgramIndex {
  readonly n: number;
  readonly nKorean: number;
  readonly minTokens: number;
  readonly tasks: TaskIndexStats[] = [];
  #keys = new _KeyTable();
  /** item id → [task index, row]. */
  #items: [number, number][] = [];
  /** Key lengths present (n, nKorean and the lengths of short segments indexed whole). */
  #lengths = new Set<number>();

  private constructor(n: number, nKorean: number, minTokens: number) {
    this.n = n;
    this.nKorean = nKorean;
    this.minTokens = minTokens;
  }

  /** An empty index (add tasks with {@linkcode addTask}). */
  static empty(opts: { n?: number; nKorean?: number; minTokens?: number } = {}): EvalNgramIndex {
    const n = opts.n ?? 13, nKorean = opts.nKorean ?? 8;
    const minTokens = opts.minTokens ?? Math.min(8, n, nKorean);
    for (const [k, v] of [["n", n], ["nKorean", nKorean], ["minTokens", minTokens]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new UserError(`${k}: ${v} is not a positive integer`);
      }
    }
    if (minTokens > Math.min(n, nKorean)) {
      throw new UserError(`minTokens ${minTokens} is larger than n (${n}) or nKorean (${nKorean})`);
    }
    return new EvalNgramIndex(n, nKorean, minTokens);
  }

  /**
   * Reads every task file under `opts.tasks` and indexes their items. A task whose data is on the
   * Hub and not under the data root or the cache is skipped (nothing is downloaded) and named in
   * `tasks` with the reason; a task file or local data file that cannot be read is an error, so
   * that a wrong `--data-root` cannot turn the check into a silent no-op.
   */
  static async build(opts: ContaminationOptions): Promise<EvalNgramIndex> {
    const index = EvalNgramIndex.empty(opts);
    const files: string[] = [];
    for (const t of opts.tasks) files.push(...await listTaskFiles(t));
    for (const [i, file] of files.entries()) {
      if (i) opts.onTask?.(i, files.length);
      const read = await readSuiteFile(file);
      if ("group" in read) continue; // a group file names tasks; it has no items of its own
      const task = read.task;
      const missing = await _missingHubData(task, opts);
      if (missing) {
        index.tasks.push(_skipped(task.task, file, missing));
        continue;
      }
      const data = await loadTaskData(task, { dataRoot: opts.dataRoot, cacheDir: opts.cacheDir });
      index.addTask(task, data);
    }
    opts.onTask?.(files.length, files.length);
    return index;
  }

  /**
   * Adds the items of one task: its rows as the evaluator builds them (lib/eval/instances.ts,
   * without few-shot examples), each as the raw values of the columns its templates read plus
   * its rendered choices, continuation and gold output. The rendered prompt itself is left out:
   * its n-grams that cross template words (`문장 1:`, `Question:`) would only match records
   * written with the same template, not records that copy the item.
   */
  addTask(task: TaskConfig, data: Parameters<typeof buildInstances>[1]): TaskIndexStats {
    const t0: TaskConfig = { ...task, num_fewshot: 0, description: "" };
    const { instances } = buildInstances(t0, { eval: data.eval });
    const templates = new TaskTemplates(t0, featuresOf(data.eval.rows.map((r) => r.doc)));
    const columns = new Set(templates.columns);
    const stats: TaskIndexStats = {
      task: task.task,
      file: task.file,
      status: "checked",
      items: 0,
      segments: 0,
      short_segments: 0,
      keys: 0,
    };
    const taskIdx = this.tasks.length;
    this.tasks.push(stats);
    const before = this.#keys.size;
    for (const inst of instances) {
      const segs: string[] = [];
      for (const c of columns) _leaves(inst.doc[c], segs);
      if (task.output_type === "multiple_choice" && !task.doc_to_continuation) {
        segs.push(...inst.choices);
      } else if (typeof inst.gold === "number") {
        segs.push(inst.bare + inst.continuations[inst.gold]);
      } else if (inst.continuations.length) segs.push(inst.bare + inst.continuations[0]);
      if (inst.goldOutput) segs.push(inst.goldOutput);
      if (!segs.length) segs.push(inst.bare);
      const id = this.#items.length;
      this.#items.push([taskIdx, inst.row]);
      stats.items++;
      for (const seg of new Set(segs)) {
        const tokens = overlapTokens(seg);
        if (!tokens.length) continue;
        stats.segments++;
        const L = this.keyLength(tokens);
        if (L === 0) {
          stats.short_segments++;
          continue;
        }
        this.#lengths.add(L);
        const [ka, kb] = _windowKeys(..._tokenHashes(tokens), L);
        for (let s = 0; s < ka.length; s++) this.#keys.add(ka[s], kb[s], id);
      }
    }
    stats.keys = this.#keys.size - before;
    return stats;
  }

  /**
   * The n-gram length an item segment is indexed with: nKorean for a Korean segment, else n; a
   * segment shorter than that is indexed whole (its own length); 0 when it is shorter than
   * minTokens.
   */
  keyLength(tokens: string[]): number {
    const n = isKoreanTokens(tokens) ? this.nKorean : this.n;
    return tokens.length >= n ? n : tokens.length >= this.minTokens ? tokens.length : 0;
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** The eval items `text` shares an n-gram with (one overlap per task and row). */
  match(text: string): Overlap[] {
    const tokens = overlapTokens(text);
    if (!tokens.length || !this.#keys.size) return [];
    const [h1, h2] = _tokenHashes(tokens);
    const hits = new Map<number, [number, number]>(); // item id → [start, length]
    for (const L of this.#lengths) {
      const [ka, kb] = _windowKeys(h1, h2, L);
      for (let s = 0; s < ka.length; s++) {
        for (const id of this.#keys.get(ka[s], kb[s])) if (!hits.has(id)) hits.set(id, [s, L]);
      }
    }
    return [...hits].map(([id, [start, L]]) => {
      const [t, row] = this.#items[id];
      return { task: this.tasks[t].task, row, ngram: tokens.slice(start, start + L).join(" ") };
    });
  }
}

function _skipped(task: string, file: string, reason: string): TaskIndexStats {
  return {
    task,
    file,
    status: "skipped",
    reason,
    items: 0,
    segments: 0,
    short_segments: 0,
    keys: 0,
  };
}

/** Why a Hub task's data is not here (it would have to be downloaded), or undefined. */
async function _missingHubData(
  task: TaskConfig,
  opts: ContaminationOptions,
): Promise<string | undefined> {
  const src = task.dataset_hub;
  if (!src) return undefined;
  const candidates = [
    join(opts.dataRoot, src.repo, src.file),
    join(opts.cacheDir ?? "data/cache", "hub", src.repo, src.revision ?? "main", src.file),
  ];
  for (const c of candidates) {
    try {
      if ((await Deno.stat(c)).isFile) return undefined;
    } catch { /* next */ }
  }
  return `Hub data ${src.repo}/${src.file} not found at ${candidates[0]} (nothing is downloaded)`;
}

/**
 * Checks record sets against an index, drops every record that overlaps an eval item and keeps
 * the counts for {@linkcode ContaminationCheck.report}.
 *
 * @example
 * ```ts
 * import { ContaminationCheck, EvalNgramIndex } from "./contamination.ts";
 * const check = new ContaminationCheck(EvalNgramIndex.empty());
 * const kept = check.filter("sft", [{ id: "1", meta: { source: "s" }, messages: [
 *   { role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }]);
 * kept.length; // 1
 * ```
 */
export class ContaminationCheck {
  readonly index: EvalNgramIndex;
  #report: ContaminationReport;
  #taskDropped = new Map<string, number>();
  #itemsHit = new Map<string, Set<number>>();
  #cache = new Map<string, Overlap[]>();
  /** Examples kept in the report. */
  maxExamples = 50;

  constructor(index: EvalNgramIndex) {
    this.index = index;
    this.#report = {
      ngram: {
        n: index.n,
        n_korean: index.nKorean,
        min_tokens: index.minTokens,
        tokens: "NFKC, lowercase, split on non-letter/digit/mark characters",
      },
      tasks: [],
      sources: {},
      sets: {},
      checked: 0,
      dropped: 0,
      examples: [],
    };
  }

  /** The records of `set` that overlap no eval item; the others are counted and dropped. */
  filter<T extends Conversation | PreferencePair>(
    set: string,
    records: T[],
    onRecord?: () => void,
  ): T[] {
    const r = this.#report;
    const s = r.sets[set] ??= { checked: 0, dropped: 0 };
    const kept: T[] = [];
    for (const rec of records) {
      const source = String(rec.meta?.source ?? "unknown");
      const src = r.sources[source] ??= { checked: 0, dropped: 0, by_task: {} };
      src.checked++;
      s.checked++;
      r.checked++;
      const overlaps = this.matchRecord(rec);
      onRecord?.();
      if (!overlaps.length) {
        kept.push(rec);
        continue;
      }
      src.dropped++;
      s.dropped++;
      r.dropped++;
      for (const task of new Set(overlaps.map((o) => o.task))) {
        src.by_task[task] = (src.by_task[task] ?? 0) + 1;
        this.#taskDropped.set(task, (this.#taskDropped.get(task) ?? 0) + 1);
      }
      for (const o of overlaps) {
        if (!this.#itemsHit.has(o.task)) this.#itemsHit.set(o.task, new Set());
        this.#itemsHit.get(o.task)!.add(o.row);
      }
      if (r.examples.length < this.maxExamples) {
        r.examples.push({ set, id: rec.id, source, overlaps: overlaps.slice(0, 5) });
      }
    }
    return kept;
  }

  /**
   * The eval items a record overlaps: each turn is checked on its own (n-grams do not span
   * turns), and a turn seen before (a multiple-choice prompt shared by its conversation and its
   * pairs) is answered from a cache.
   */
  matchRecord(rec: Conversation | PreferencePair): Overlap[] {
    const turns = "messages" in rec
      ? rec.messages
      : [...rec.prompt, ...rec.chosen, ...rec.rejected];
    const out: Overlap[] = [];
    const seen = new Set<string>();
    for (const { content } of turns) {
      let hits = this.#cache.get(content);
      if (!hits) {
        hits = this.index.match(content);
        this.#cache.set(content, hits);
      }
      for (const o of hits) {
        const k = `${o.task}\u0000${o.row}`;
        if (!seen.has(k)) {
          seen.add(k);
          out.push(o);
        }
      }
    }
    return out;
  }

  /** The report so far (contamination.json). */
  report(): ContaminationReport {
    return {
      ...structuredClone(this.#report),
      tasks: this.index.tasks.map((t) => ({
        ...t,
        records_dropped: this.#taskDropped.get(t.task) ?? 0,
        items_hit: this.#itemsHit.get(t.task)?.size ?? 0,
      })),
    };
  }
}

/** The report as Markdown: the settings, a table per task and a table per source. */
export function contaminationMarkdown(r: ContaminationReport): string {
  const lines = [
    "# Contamination check",
    "",
    `Word n-grams: n = ${r.ngram.n} (Korean segments: ${r.ngram.n_korean}); segments shorter than ` +
    `n are matched whole from ${r.ngram.min_tokens} tokens. Tokens: ${r.ngram.tokens}.`,
    "",
    `${r.dropped} of ${r.checked} records dropped.`,
    "",
    "| task | status | items | keys | short segments | records dropped | items hit |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const t of r.tasks) {
    const status = t.status === "checked" ? "checked" : `skipped: ${_cell(t.reason ?? "")}`;
    lines.push(
      `| ${t.task} | ${status} | ${t.items} | ${t.keys} | ${t.short_segments} | ${t.records_dropped} | ${t.items_hit} |`,
    );
  }
  lines.push("", "| source | checked | dropped | by task |", "| --- | ---: | ---: | --- |");
  for (const [name, s] of Object.entries(r.sources)) {
    const by = Object.entries(s.by_task).map(([t, n]) => `${t} ${n}`).join(", ");
    lines.push(`| ${name} | ${s.checked} | ${s.dropped} | ${by} |`);
  }
  lines.push("", "| set | checked | dropped |", "| --- | ---: | ---: |");
  for (const [name, s] of Object.entries(r.sets)) {
    lines.push(`| ${name} | ${s.checked} | ${s.dropped} |`);
  }
  if (r.examples.length) {
    lines.push("", "Examples (first of each record):", "");
    for (const e of r.examples.slice(0, 10)) {
      const o = e.overlaps[0];
      lines.push(`- \`${e.id}\` ↔ ${o.task} row ${o.row}: “${_cell(o.ngram)}”`);
    }
  }
  return lines.join("\n") + "\n";
}

function _cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}
