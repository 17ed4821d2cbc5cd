/**
 * Reads what a run folder holds for its report: the folder itself and every run nested inside it
 * (the demo keeps one per stage), each with its config, manifest, summary, metrics and the files a
 * stage leaves (filter `stats.json`, tokenizer `report.json`, evaluation `results.json`). A file
 * that cannot be parsed is noted and left out; reading never fails on a half-written run.
 *
 * @module
 */

import { join, relative } from "node:path";
import { readJsonlLog } from "../run/run_folder.ts";
import { readJsonl } from "../io/jsonl.ts";

/** One document shown as an example (first characters only). */
export interface Example {
  text: string;
  title?: string;
  url?: string;
  reason?: string;
}

/** One run folder's contents. */
export interface RunData {
  /** Path relative to the report's folder ("" for the folder itself). */
  rel: string;
  config?: Record<string, unknown>;
  /** The first manifest (`manifest.json`, or a resumed run's `manifest-<time>.json`). */
  manifest?: Record<string, unknown>;
  summary?: Record<string, unknown>;
  metrics: Record<string, unknown>[];
  /** Filter `stats.json`. */
  stats?: Record<string, unknown>;
  /** Tokenizer `report.json`. */
  tokenizer?: Record<string, unknown>;
  /** Evaluation `results.json`. */
  results?: Record<string, unknown>;
  /** Filter examples: a few dropped (with their reason) and kept documents. */
  dropped: Example[];
  kept: Example[];
}

/** Folders that hold artefacts rather than runs. */
const SKIP = new Set([
  "checkpoints",
  "model",
  "work",
  "kept",
  "removed",
  "rejects",
  "node_modules",
  "cache",
]);

const EXAMPLE_CHARS = 280;

/**
 * Reads `dir` and the runs under it (depth ≤ 4): the folder itself first, then by start time;
 * `notes` collects what was skipped.
 */
export async function readRunTree(dir: string, notes: string[] = []): Promise<RunData[]> {
  const out: RunData[] = [];
  await _walk(dir, dir, 0, out, notes);
  const at = (r: RunData) => String(r.manifest?.started_at ?? "");
  return out.sort((
    a,
    b,
  ) => (a.rel === ""
    ? -1
    : b.rel === ""
    ? 1
    : at(a).localeCompare(at(b)) || a.rel.localeCompare(b.rel))
  );
}

async function _walk(root: string, dir: string, depth: number, out: RunData[], notes: string[]) {
  const names: string[] = [];
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) (e.isDirectory ? dirs : names).push(e.name);
  } catch (err) {
    notes.push(`${dir}: not readable (${(err as Error).message})`);
    return;
  }
  names.sort();
  dirs.sort();
  const has = (n: string) => names.includes(n);
  const json = async (n: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(dir, n))) as Record<string, unknown>;
    } catch (err) {
      notes.push(`${join(dir, n)}: not read (${(err as Error).message})`);
      return undefined;
    }
  };
  const manifestName = has("manifest.json")
    ? "manifest.json"
    : names.find((n) => /^manifest-.*\.json$/.test(n));
  const isRun = manifestName || has("metrics.jsonl") || has("stats.json") ||
    has("report.json") || has("results.json");
  if (isRun) {
    const run: RunData = {
      rel: relative(root, dir),
      config: has("config.json") ? await json("config.json") : undefined,
      manifest: manifestName ? await json(manifestName) : undefined,
      summary: has("summary.json") ? await json("summary.json") : undefined,
      metrics: [],
      dropped: [],
      kept: [],
    };
    if (has("metrics.jsonl")) {
      try {
        run.metrics = await readJsonlLog(join(dir, "metrics.jsonl"));
      } catch (err) {
        notes.push(`${join(dir, "metrics.jsonl")}: not read (${(err as Error).message})`);
      }
    }
    if (has("stats.json")) {
      run.stats = await json("stats.json");
      run.dropped = await _examples(join(dir, "removed"), 3, true, notes);
      run.kept = await _examples(join(dir, "kept"), 3, false, notes);
    }
    if (has("report.json")) run.tokenizer = await json("report.json");
    if (has("results.json")) run.results = await json("results.json");
    out.push(run);
  }
  if (depth >= 4) return;
  for (const d of dirs) {
    if (!SKIP.has(d) && !d.startsWith(".")) await _walk(root, join(dir, d), depth + 1, out, notes);
  }
}

/** Up to `perReason` documents of each removal reason (or the first ones kept) under `dir`. */
async function _examples(
  dir: string,
  perReason: number,
  dropped: boolean,
  notes: string[],
): Promise<Example[]> {
  const files: string[] = [];
  try {
    for await (const e of _files(dir)) files.push(e);
  } catch {
    return [];
  }
  files.sort();
  const byReason = new Map<string, number>();
  const out: Example[] = [];
  for (const f of files) {
    let seen = 0;
    try {
      for await (const { value } of readJsonl(f, { onBadLine: () => {} })) {
        if (++seen > 2000) break;
        const meta = (value.meta ?? {}) as Record<string, unknown>;
        const removed = meta.removed as { step?: string; reason?: string } | undefined;
        const reason = dropped ? `${removed?.step ?? "?"}:${removed?.reason ?? "?"}` : undefined;
        const key = reason ?? "kept";
        if ((byReason.get(key) ?? 0) >= perReason) continue;
        byReason.set(key, (byReason.get(key) ?? 0) + 1);
        out.push({
          text: String(value.text ?? "").slice(0, EXAMPLE_CHARS),
          title: typeof meta.title === "string" ? meta.title : undefined,
          url: typeof meta.url === "string" ? meta.url : undefined,
          reason,
        });
        if (!dropped && out.length >= perReason) return out;
      }
    } catch (err) {
      notes.push(`${f}: examples not read (${(err as Error).message})`);
    }
  }
  return out;
}

async function* _files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* _files(p);
    else if (/\.jsonl(\.gz)?$/.test(e.name)) yield p;
  }
}
