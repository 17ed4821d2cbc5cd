/**
 * The fuzz runner: for each case, a copy of a format's valid example with one file mutated, run
 * through the real task's command line from deno.json (its permissions apply; V8's heap is capped
 * so a runaway allocation shows as OOM instead of swapping), killed after a timeout, and sorted
 * into: a clean refusal (exit 2, an `error:` line, no stack trace), a stack trace or crash, a hang,
 * out of memory, or accepted (exit 0).
 *
 * @module
 */

import { homedir } from "node:os";
import denoJson from "../../deno.json" with { type: "json" };
import { mulberry32 } from "../quality/classifier/prng.ts";
import { type FuzzFormat } from "./formats.ts";
import { mutate } from "./mutate.ts";

/** What became of one case. */
export type Outcome = "clean" | "stack" | "hang" | "oom" | "accepted" | "other";

/** The table's columns, in order, with their headings. */
export const OUTCOMES: readonly [Outcome, string][] = [
  ["clean", "clean exit 2"],
  ["stack", "stack trace"],
  ["hang", "hang"],
  ["oom", "OOM"],
  ["accepted", "accepted"],
  ["other", "other exit"],
];

/** One case's result. */
export interface CaseResult {
  format: string;
  index: number;
  /** What the mutation did. */
  what: string;
  outcome: Outcome;
  code: number | null;
  /** The first line that tells what happened (an `error:` line, the exception, …). */
  line: string;
  seconds: number;
  /** The case folder (kept for everything but clean refusals unless asked). */
  dir?: string;
  /** For an accepted case: what the task did with the damage, where the format can tell. */
  note?: string;
}

/** Options of {@linkcode fuzzFormat}. */
export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Per-case limit in ms. */
  timeoutMs: number;
  /** Cases run at once. */
  jobs: number;
  /** Project-relative folder for the example and the cases. */
  base: string;
  /** V8 heap limit of a case, MB. */
  heapMb?: number;
  /** Keep every case folder (default: only those that were not refused cleanly). */
  keepAll?: boolean;
  /** Run only this case (to reproduce one). */
  only?: number;
  onCase?: (r: CaseResult) => void;
}

/** The words of task `name`'s command line from deno.json, with V8's heap capped. */
export function taskCommand(name: string, heapMb = 2048): string[] {
  const line = (denoJson as { tasks: Record<string, string> }).tasks[name];
  if (!line) throw new Error(`deno.json has no task "${name}"`);
  const words = (line.includes("$HOME") ? line.replaceAll("$HOME", _home()) : line).split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`task ${name}: not deno run`);
  return ["run", `--v8-flags=--max-old-space-size=${heapMb}`, ...words.slice(2)];
}

/** Sorts a finished (or killed) case into an {@linkcode Outcome}. */
export function classify(
  code: number | null,
  stderr: string,
  timedOut: boolean,
): { outcome: Outcome; line: string } {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "" && !/XDG_RUNTIME_DIR/.test(l));
  const first = (re: RegExp) => lines.find((l) => re.test(l));
  if (timedOut) return { outcome: "hang", line: lines.at(-1) ?? "" };
  const oom = first(
    /out of memory|heap limit|Allocation failed|invalid array length|Array buffer allocation/i,
  );
  if (oom) return { outcome: "oom", line: oom };
  const frame = first(/^\s+at .*(:\d+:\d+\)?$|<anonymous>|native)/) ??
    first(/Uncaught|panicked at|Stack backtrace|^RangeError|^TypeError|^Error:/);
  if (frame || (code !== null && code > 2) || code === null) {
    return { outcome: "stack", line: first(/Error|error/) ?? frame ?? lines[0] ?? `exit ${code}` };
  }
  if (code === 0) return { outcome: "accepted", line: lines.at(-1) ?? "" };
  const err = first(/^error: /);
  if (code === 2 && err) return { outcome: "clean", line: err };
  return { outcome: "other", line: err ?? lines.at(-1) ?? `exit ${code}` };
}

/** Writes `format`'s valid example into `${base}/example`; returns that folder. */
export async function buildExample(format: FuzzFormat, base: string): Promise<string> {
  const rel = `${base}/example`;
  await Deno.mkdir(rel, { recursive: true });
  await format.seed(rel, rel, async (args) => {
    const [task, ...rest] = args;
    const out = await new Deno.Command("deno", {
      args: [...taskCommand(task), ...rest],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (out.code !== 0) {
      throw new Error(
        `building the ${format.name} example: deno task ${args.join(" ")}:\n` +
          new TextDecoder().decode(out.stderr),
      );
    }
  });
  return rel;
}

/**
 * Runs one case: copies the example, mutates the file (unless `mutated` is false: then the case
 * checks that the example itself is accepted), runs the task.
 */
export async function runCase(
  format: FuzzFormat,
  example: string,
  index: number,
  o: FuzzOptions,
  mutated = true,
): Promise<CaseResult> {
  const dir = `${o.base}/case-${String(index).padStart(5, "0")}`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir(example)) {
    if (e.isFile) await Deno.copyFile(`${example}/${e.name}`, `${dir}/${e.name}`);
  }
  const rand = mulberry32((o.seed * 1_000_003 + index * 7919) >>> 0);
  const src = await Deno.readFile(`${example}/${format.file}`);
  const m = mutated ? await mutate(format.shape, src, rand) : { bytes: src, what: "unchanged" };
  await Deno.writeFile(`${dir}/${format.file}`, m.bytes);
  const [task, ...rest] = format.args(dir);
  const t0 = performance.now();
  const child = new Deno.Command("deno", {
    args: [...taskCommand(task, o.heapMb), ...rest],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, o.timeoutMs);
  const [status, errBytes] = await Promise.all([child.status, _readCapped(child.stderr, 1 << 16)]);
  clearTimeout(timer);
  const { outcome, line } = classify(
    status.signal ? null : status.code,
    new TextDecoder().decode(errBytes),
    timedOut,
  );
  const r: CaseResult = {
    format: format.name,
    index,
    what: m.what,
    outcome,
    code: status.signal ? null : status.code,
    line: line.slice(0, 300),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  if (outcome === "accepted" && format.explain) r.note = await format.explain(dir);
  if (o.keepAll || (outcome !== "clean" && outcome !== "accepted")) r.dir = dir;
  else await Deno.remove(dir, { recursive: true });
  return r;
}

/** Runs `o.cases` cases of `format`, `o.jobs` at a time. */
export async function fuzzFormat(format: FuzzFormat, o: FuzzOptions): Promise<CaseResult[]> {
  const example = await buildExample(format, o.base);
  const results: CaseResult[] = [];
  const indices = o.only !== undefined ? [o.only] : Array.from({ length: o.cases }, (_, i) => i);
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const i = indices[next++];
      const r = await runCase(format, example, i, o);
      results.push(r);
      o.onCase?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  return results.sort((a, b) => a.index - b.index);
}

/** The table: one row per format, one column per outcome. */
export function outcomeTable(results: CaseResult[]): string {
  const formats = [...new Set(results.map((r) => r.format))];
  const head = `| format | cases | ${OUTCOMES.map(([, h]) => h).join(" | ")} |`;
  const rule = `|---|---:|${OUTCOMES.map(() => "---:").join("|")}|`;
  const rows = formats.map((f) => {
    const rs = results.filter((r) => r.format === f);
    const counts = OUTCOMES.map(([o]) => rs.filter((r) => r.outcome === o).length);
    return `| ${f} | ${rs.length} | ${counts.join(" | ")} |`;
  });
  return [head, rule, ...rows].join("\n");
}

/** The home folder (`deno task` expands `$HOME` in the task lines; so must a runner of them). */
function _home(): string {
  try {
    return homedir();
  } catch {
    return Deno.env.get("HOME") ?? "";
  }
}

async function _readCapped(stream: ReadableStream<Uint8Array>, cap: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    if (n < cap) chunks.push(c.subarray(0, cap - n));
    n += c.length;
  }
  const out = new Uint8Array(Math.min(n, cap));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
