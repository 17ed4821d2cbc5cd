/**
 * For the task-level tests: runs `deno task -q ARGS…` from the repository root, so the
 * permissions written in deno.json apply, and returns the exit code and both outputs.
 *
 * @module
 */

import { resolve } from "node:path";

/** The repository root. */
export const ROOT: string = resolve(new URL("..", import.meta.url).pathname);

/** What a task run printed. */
export interface TaskOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task -q ...args` (e.g. `["train", "--help"]`) with NO_COLOR set. */
export async function runTask(args: string[]): Promise<TaskOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * The lines of a task's stderr that are the task's own: without blank lines and without what Deno
 * or wgpu print on their own — a first-use npm download, `Info Failed to resolve 'fasttext' for
 * allow-run` where a program in the task's `--allow-run` list is not installed, and wgpu's
 * XDG_RUNTIME_DIR warning.
 */
export function taskStderrLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/XDG_RUNTIME_DIR/.test(l) && !/^Download https?:/.test(l) &&
    !/^Info Failed to resolve '[^']+' for allow-run: /.test(l)
  );
}
