/**
 * Dataset rows for a task: a local file under the data root (JSONL, a JSON array, TSV split on
 * tabs only, or CSV with quotes) or a Hub dataset file fetched with `@huggingface/hub` and cached.
 * A line that cannot be read becomes a skipped-row record naming file and row; the rest is used.
 *
 * Splits as lm-eval names them (`test_split`, `validation_split`, `training_split`,
 * `fewshot_split`, `fewshot_config.split`) are files: `dataset_kwargs.data_files[split]`, or
 * `<data-root>/<dataset_path>[/<dataset_name>]/<split>.{jsonl,json,csv,tsv}` when `dataset_path`
 * is a folder. CSV and TSV columns whose every cell is a number are numbers, as the Hugging Face
 * CSV loader types them (so `{{ answer - 1 }}` works); `dataset_records` picks records nested in
 * a JSON file (`data.*.paragraphs.*.qas.*`), each inheriting its ancestors' plain fields.
 *
 * @module
 */

import { downloadFile } from "@huggingface/hub";
import { UserError } from "../io/errors.ts";
import { PROCESS_DOCS } from "./process_docs.ts";
import { readTextChecked } from "./task_file.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { csvRecords } from "../io/csv.ts";
import type { HubSource, TaskConfig } from "./task_file.ts";

/** A dataset row that was skipped, with the reason. */
export interface SkippedRow {
  file: string;
  row: number;
  reason: string;
}

/** Rows of a dataset file (row numbers are 1-based lines or array positions). */
export interface Dataset {
  file: string;
  rows: { row: number; doc: Record<string, unknown> }[];
  skipped: SkippedRow[];
}

/** Where data comes from. */
export interface DataOptions {
  /** Folder that task files' `dataset_path` is relative to. */
  dataRoot: string;
  /** Where Hub downloads are cached. */
  cacheDir?: string;
  /** Hub access token (never logged). */
  hubToken?: string;
  /** Hub endpoint (tests point it at 127.0.0.1). */
  hubUrl?: string;
}

function _format(path: string, given?: string): string {
  if (given) return given;
  const m = /\.(jsonl|json|tsv|csv)$/.exec(path);
  if (!m) {
    throw new UserError(
      `${path}: cannot tell the format from the name; set dataset_format (jsonl, json, tsv, csv)`,
    );
  }
  return m[1];
}

/** Parses dataset text in the given format. */
export function parseRows(text: string, format: string, file: string, records?: string): Dataset {
  const rows: Dataset["rows"] = [];
  const skipped: SkippedRow[] = [];
  const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (format === "jsonl") {
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        const v = JSON.parse(line);
        if (isObj(v)) rows.push({ row: i + 1, doc: v });
        else skipped.push({ file, row: i + 1, reason: "expected a JSON object" });
      } catch (err) {
        skipped.push({ file, row: i + 1, reason: `invalid JSON (${(err as Error).message})` });
      }
    });
  } else if (format === "json") {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${file}: invalid JSON (${(err as Error).message})`);
    }
    if (records) {
      try {
        v = recordsAt(v, records);
      } catch (err) {
        throw new UserError(`${file}: dataset_records ${(err as Error).message}`);
      }
    }
    const arr = Array.isArray(v)
      ? v
      : isObj(v) && Array.isArray((v as { data?: unknown }).data)
      ? (v as { data: unknown[] }).data
      : undefined;
    if (!arr) throw new UserError(`${file}: expected a JSON array of rows (or {"data": [...]})`);
    arr.forEach((d, i) => {
      if (isObj(d)) rows.push({ row: i + 1, doc: d as Record<string, unknown> });
      else skipped.push({ file, row: i + 1, reason: "expected a JSON object" });
    });
  } else {
    const lines = format === "csv"
      ? csvRecords(text).map((r) => r.cells)
      : text.split("\n").map((l) => l.replace(/\r$/, "").split("\t"));
    const header = lines[0];
    if (!header) throw new UserError(`${file}: empty ${format} file`);
    for (let i = 1; i < lines.length; i++) {
      const cells = lines[i];
      if (cells.length === 1 && cells[0] === "") continue;
      if (cells.length !== header.length) {
        skipped.push({
          file,
          row: i + 1,
          reason: `${cells.length} fields, header has ${header.length}`,
        });
        continue;
      }
      rows.push({ row: i + 1, doc: Object.fromEntries(header.map((h, j) => [h, cells[j]])) });
    }
    _typeColumns(rows.map((r) => r.doc), header);
  }
  return { file, rows, skipped };
}

const _INT = /^-?(?:0|[1-9][0-9]*)$/;
const _FLOAT = /^-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/** Makes a column numbers when every cell is one (no leading zeros: "007" stays text). */
function _typeColumns(docs: Record<string, unknown>[], header: string[]) {
  for (const h of header) {
    const cells = docs.map((d) => d[h] as string);
    if (cells.length === 0) continue;
    const isInt = cells.every((c) => _INT.test(c));
    const isFloat = isInt ||
      cells.every((c) => _FLOAT.test(c) && !/^-?0[0-9]/.test(c));
    if (!isInt && !isFloat) continue;
    for (const d of docs) d[h] = Number(d[h]);
  }
}

/**
 * The records at a path inside parsed JSON: `a.b` walks keys, `*` every item of a list (or value
 * of a mapping). Each record gets its ancestors' plain (non-list, non-object) fields it lacks.
 *
 * @example
 * ```ts
 * import { recordsAt } from "./data.ts";
 * recordsAt({ data: [{ title: "T", qas: [{ q: 1 }, { q: 2 }] }] }, "data.*.qas.*");
 * // [{ title: "T", q: 1 }, { title: "T", q: 2 }]
 * ```
 */
export function recordsAt(root: unknown, path: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  const plain = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v === null || typeof v !== "object"));
  const walk = (v: unknown, parts: string[], inherited: Record<string, unknown>) => {
    const here = isObj(v) ? { ...inherited, ...plain(v) } : inherited;
    if (parts.length === 0) {
      if (isObj(v)) out.push({ ...inherited, ...v });
      else {throw new Error(
          `a record at "${path}" is ${JSON.stringify(v)?.slice(0, 40)}, not an object`,
        );}
      return;
    }
    const [p, ...rest] = parts;
    if (p === "*") {
      const items = Array.isArray(v) ? v : isObj(v) ? Object.values(v) : undefined;
      if (!items) {
        throw new Error(`"${path}": "*" met ${JSON.stringify(v)?.slice(0, 40)}, not a list`);
      }
      for (const x of items) walk(x, rest, here);
    } else {
      if (!isObj(v) || !(p in v)) throw new Error(`"${path}": no key "${p}"`);
      walk(v[p], rest, here);
    }
  };
  walk(root, path.split("."), {});
  return out;
}

/**
 * The local path of a Hub dataset file: a copy under the data root if there is one, else the file
 * fetched with `@huggingface/hub` into the cache (once).
 */
export async function fetchHubFile(src: HubSource, opts: DataOptions): Promise<string> {
  // A local copy of the repo under the data root wins: `<data-root>/<owner>/<name>/<file>`.
  const mirrored = `${opts.dataRoot}/${src.repo}/${src.file}`;
  try {
    if ((await Deno.stat(mirrored)).isFile) return mirrored;
  } catch { /* not mirrored */ }
  const cache = `${opts.cacheDir ?? "data/cache"}/hub/${src.repo}/${src.revision ?? "main"}`;
  const local = `${cache}/${src.file}`;
  try {
    await Deno.stat(local);
    return local;
  } catch { /* not cached */ }
  let res: Blob | null;
  try {
    res = await downloadFile({
      repo: { type: "dataset", name: src.repo },
      path: src.file,
      revision: src.revision,
      accessToken: opts.hubToken,
      hubUrl: opts.hubUrl,
    });
  } catch (err) {
    throw new UserError(
      `hub dataset ${src.repo}/${src.file}: download failed (${
        (err as Error).message
      }); offline? put a copy at ${mirrored}`,
    );
  }
  if (!res) throw new UserError(`hub dataset ${src.repo}: no file "${src.file}"`);
  await Deno.mkdir(local.slice(0, local.lastIndexOf("/")), { recursive: true });
  await writeFileAtomic(local, new Uint8Array(await res.arrayBuffer()));
  return local;
}

const _EXTS = ["jsonl", "json", "csv", "tsv"];

async function _isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The split the task evaluates, as lm-eval: test if given, else validation. */
export function evalSplit(task: TaskConfig): string {
  return task.test_split ?? task.validation_split ?? "test";
}

/** The split few-shot examples come from, if the task names one (lm-eval's order). */
export function fewshotSplit(task: TaskConfig): string | undefined {
  const ev = evalSplit(task);
  const s = task.fewshot_config?.split ?? task.fewshot_split ?? task.training_split ??
    (task.validation_split !== ev ? task.validation_split : undefined);
  return s === ev ? undefined : s;
}

/** The file of a split, or undefined when the task's data has no such split. */
export async function splitFile(
  task: TaskConfig,
  split: string,
  opts: DataOptions,
): Promise<string | undefined> {
  if (task.data_files) {
    const f = task.data_files[split];
    return f === undefined ? undefined : `${opts.dataRoot}/${f}`;
  }
  const base = `${opts.dataRoot}/${task.dataset_path}`;
  // A data file (by name or on disk) holds the evaluated rows; reading it reports a missing one.
  if (/\.(jsonl|json|csv|tsv)$/.test(base) || await _isFile(base)) {
    return split === evalSplit(task) ? base : undefined;
  }
  const dir = task.dataset_name ? `${base}/${task.dataset_name}` : base;
  for (const ext of _EXTS) {
    if (await _isFile(`${dir}/${split}.${ext}`)) return `${dir}/${split}.${ext}`;
  }
  return undefined;
}

function _process(task: TaskConfig, ds: Dataset): Dataset {
  if (!task.process_docs) return ds;
  const fn = PROCESS_DOCS[task.process_docs];
  let docs: Record<string, unknown>[];
  try {
    docs = fn(ds.rows.map((r) => r.doc));
  } catch (err) {
    throw new UserError(`${ds.file}: process_docs ${task.process_docs}: ${(err as Error).message}`);
  }
  // A function that keeps one row per row keeps the row numbers; one that flattens numbers anew.
  const same = docs.length === ds.rows.length;
  return {
    ...ds,
    rows: docs.map((doc, i) => ({ row: same ? ds.rows[i].row : i + 1, doc })),
  };
}

/** Loads the rows a task evaluates and its few-shot pool (a split, `fewshot_path` or samples). */
export async function loadTaskData(
  task: TaskConfig,
  opts: DataOptions,
): Promise<{ eval: Dataset; fewshot?: Dataset }> {
  const read = async (path: string) =>
    _process(task, await readDataset(path, task.dataset_format, task.dataset_records));
  let path: string;
  if (task.dataset_hub) path = await fetchHubFile(task.dataset_hub, opts);
  else {
    const split = evalSplit(task);
    const f = await splitFile(task, split, opts);
    if (!f) {
      const where = task.data_files
        ? `dataset_kwargs.data_files has no "${split}"`
        : `no ${opts.dataRoot}/${task.dataset_path} file, nor ${split}.{${
          _EXTS.join(",")
        }} in that folder`;
      throw new UserError(`${task.file}: split "${split}": ${where}`);
    }
    path = f;
  }
  const ev = await read(path);
  let fewshot: Dataset | undefined;
  const samples = task.fewshot_config?.samples;
  if (task.fewshot_path) fewshot = await read(`${opts.dataRoot}/${task.fewshot_path}`);
  else if (samples) {
    fewshot = {
      file: `${task.file} (fewshot_config.samples)`,
      rows: samples.map((doc, i) => ({ row: i + 1, doc })),
      skipped: [],
    };
  } else if (!task.dataset_hub) {
    const split = fewshotSplit(task);
    if (split !== undefined) {
      const f = await splitFile(task, split, opts);
      if (f) fewshot = await read(f);
      else if (task.fewshot_config?.split ?? task.fewshot_split) {
        throw new UserError(`${task.file}: few-shot split "${split}" not found beside ${path}`);
      }
    }
  }
  return { eval: ev, fewshot };
}

/** Reads one dataset file. */
export async function readDataset(
  path: string,
  format?: string,
  records?: string,
): Promise<Dataset> {
  const text = await readTextChecked(path, "dataset");
  return parseRows(text, _format(path, format), path, records);
}
