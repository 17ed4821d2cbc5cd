/**
 * The benchmark harness behind `deno task bench [SUITE…] [--json]`. A suite yields results; each
 * is a figure with its unit and, where a peer exists, the peer's figure measured in the same run
 * and the ratio. People get a table; `--json` prints one JSON object per line
 * (`name`, `value`, `unit`, and `peer`, `peer_value`, `ratio` where there is a peer).
 *
 * @module
 */

/** One measured figure. */
export interface BenchResult {
  /** What was measured, e.g. "gemm f32 1024³". */
  name: string;
  value: number;
  /** e.g. "GFLOP/s", "MB/s", "s". */
  unit: string;
  /** The peer measured in the same run, e.g. "tfjs-webgpu matMul". */
  peer?: string;
  peer_value?: number;
  /** value / peer_value (for times, a ratio below 1 means Jikji is faster). */
  ratio?: number;
  /** Anything worth a word (sizes, adapter). */
  note?: string;
}

/** What a suite gets. */
export interface BenchContext {
  /** Smaller sizes for a quick look (e.g. `--quick`). */
  quick: boolean;
  /** Problem size of suites that have two (`gpu`): "small" (llvmpipe) or "full" (an H200). */
  size?: string;
  /** Where downloads live, e.g. `data/cache`. */
  cacheDir: string;
  /** Progress lines to stderr unless quiet. */
  log: (msg: string) => void;
}

/** A named group of benchmarks. */
export interface BenchSuite {
  name: string;
  summary: string;
  run(ctx: BenchContext): AsyncIterable<BenchResult>;
}

/** Fills `ratio` from `value` and `peer_value`. */
export function withRatio(r: BenchResult): BenchResult {
  if (r.peer_value !== undefined && r.peer_value !== 0 && r.ratio === undefined) {
    return { ...r, ratio: r.value / r.peer_value };
  }
  return r;
}

/** Times `fn` (ms): runs it `warmup` times, then takes the median of `repeats` runs. */
export async function timeMedian(
  fn: () => unknown | Promise<unknown>,
  repeats = 5,
  warmup = 1,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Formats results as a Markdown table. */
export function resultsTable(results: BenchResult[]): string {
  const fmt = (n: number | undefined) =>
    n === undefined
      ? ""
      : Math.abs(n) >= 100
      ? n.toFixed(0)
      : Math.abs(n) >= 1
      ? n.toFixed(2)
      : n.toPrecision(3);
  const rows = results.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.peer ?? "",
    r.peer_value !== undefined ? `${fmt(r.peer_value)} ${r.unit}` : "",
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : "",
    r.note ?? "",
  ]);
  const head = ["benchmark", "jikji", "peer", "peer value", "ratio", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(line)]
    .join("\n");
}
