/**
 * Progress reporting on stderr for long work: a redrawn bar with rate and ETA on a terminal, plain
 * lines every few seconds otherwise (logs, CI), nothing with `--quiet`.
 *
 * @module
 */

/** How progress is shown. */
export type ProgressMode = "tty" | "plain" | "quiet";

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Shown before the bar, e.g. "filter". */
  label: string;
  /** The amount at completion, when known (enables the bar and the ETA). */
  total?: number;
  /** Unit of the amount: "bytes" is shown as KB/MB/GB. */
  unit?: string;
  /** Display mode; default: "tty" when stderr is a terminal, else "plain". */
  mode?: ProgressMode;
  /** Seconds between plain lines (default 5). */
  plainInterval?: number;
  /** Where output goes (default stderr); for tests. */
  write?: (text: string) => void;
  /** Clock in ms (default performance.now); for tests. */
  now?: () => number;
}

/** Picks the mode for a command: quiet wins, else tty when stderr is a terminal. */
export function progressMode(quiet: boolean): ProgressMode {
  if (quiet) return "quiet";
  return Deno.stderr.isTerminal() ? "tty" : "plain";
}

/**
 * A progress bar. Call {@linkcode tick} or {@linkcode set} as work proceeds and {@linkcode done}
 * at the end.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const p = new Progress({ label: "docs", total: 3, mode: "quiet" });
 * for (let i = 0; i < 3; i++) p.tick();
 * p.done();
 * ```
 */
export class Progress {
  readonly label: string;
  total?: number;
  readonly unit: string;
  readonly mode: ProgressMode;
  value = 0;
  /** Extra text shown after the figures (e.g. "queue 12"). */
  note = "";
  #start: number;
  #lastDraw = -Infinity;
  #write: (text: string) => void;
  #now: () => number;
  #interval: number;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.label = options.label;
    this.total = options.total;
    this.unit = options.unit ?? "items";
    this.mode = options.mode ?? progressMode(false);
    this.#now = options.now ?? (() => performance.now());
    this.#write = options.write ?? ((t) => Deno.stderr.writeSync(new TextEncoder().encode(t)));
    this.#interval = (options.plainInterval ?? 5) * 1000;
    this.#start = this.#now();
  }

  /** Adds `n` (default 1) to the amount done. */
  tick(n = 1, note?: string): void {
    this.set(this.value + n, note);
  }

  /** Sets the amount done. */
  set(value: number, note?: string): void {
    this.value = value;
    if (note !== undefined) this.note = note;
    if (this.mode === "quiet") return;
    const now = this.#now();
    const gap = this.mode === "tty" ? 100 : this.#interval;
    if (now - this.#lastDraw >= gap) {
      this.#lastDraw = now;
      this.#draw(false);
    }
  }

  /** Prints the final state (once). */
  done(note?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    if (note !== undefined) this.note = note;
    if (this.mode !== "quiet") this.#draw(true);
  }

  /** The current line, without control characters. */
  line(): string {
    const elapsed = (this.#now() - this.#start) / 1000;
    const rate = elapsed > 0 ? this.value / elapsed : 0;
    const parts = [this.label];
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.value / this.total);
      const width = 24;
      const full = Math.round(frac * width);
      parts.push(`[${"#".repeat(full)}${".".repeat(width - full)}] ${(frac * 100).toFixed(1)}%`);
      parts.push(`${this.#fmt(this.value)}/${this.#fmt(this.total)}`);
    } else {
      parts.push(this.#fmt(this.value));
    }
    parts.push(`${this.#fmt(rate)}/s`);
    if (this.total !== undefined && rate > 0 && this.value < this.total) {
      parts.push(`ETA ${formatDuration((this.total - this.value) / rate)}`);
    } else {
      parts.push(`elapsed ${formatDuration(elapsed)}`);
    }
    if (this.note) parts.push(this.note);
    return parts.join("  ");
  }

  #draw(final: boolean): void {
    const line = this.line();
    if (this.mode === "tty") this.#write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
    else this.#write(line + "\n");
  }

  #fmt(n: number): string {
    if (this.unit === "bytes") return formatBytes(n);
    const s = n >= 100 || Number.isInteger(n)
      ? Math.round(n).toLocaleString("en-US")
      : n.toFixed(1);
    return `${s} ${this.unit}`;
  }
}

/** Formats a byte count: 1.5 MB. */
export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

/** Formats seconds as 1h02m, 3m05s or 4.2s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
