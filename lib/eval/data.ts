/**
 * Dataset rows for a task: a local file under the data root (JSONL, a JSON array, TSV split on
 * tabs only, or CSV with quotes) or a Hub dataset file fetched with `@huggingface/hub` and cached.
 * A line that cannot be read becomes a skipped-row record naming file and row; the rest is used.
 *
 * @module
 */

import { downloadFile } from "@huggingface/hub";
import { UserError } from "../io/errors.ts";
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
export function parseRows(text: string, format: string, file: string): Dataset {
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
  }
  return { file, rows, skipped };
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

/** Loads the rows a task evaluates (and, if it has `fewshot_path`, its few-shot pool). */
export async function loadTaskData(
  task: TaskConfig,
  opts: DataOptions,
): Promise<{ eval: Dataset; fewshot?: Dataset }> {
  const path = task.dataset_hub
    ? await fetchHubFile(task.dataset_hub, opts)
    : `${opts.dataRoot}/${task.dataset_path}`;
  const ev = await readDataset(path, task.dataset_format);
  const fewshot = task.fewshot_path
    ? await readDataset(`${opts.dataRoot}/${task.fewshot_path}`, task.dataset_format)
    : undefined;
  return { eval: ev, fewshot };
}

/** Reads one dataset file. */
export async function readDataset(path: string, format?: string): Promise<Dataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read dataset (${(err as Error).message})`);
  }
  return parseRows(text, _format(path, format), path);
}
