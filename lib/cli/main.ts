/**
 * The wrapper every task entry point runs in: user errors print one line and exit 2, anything
 * else prints the stack and exits 1.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { installPathGuard } from "../io/sandbox.ts";
import { removeOpenTempFiles } from "../io/atomic.ts";
import {
  type CommandSpec,
  helpText,
  type OptionsSpec,
  parseCommand,
  type ParsedCommand,
} from "./options.ts";

/** Exit status for bad input. */
export const EXIT_USAGE = 2;

/**
 * Runs `fn` as a task's main: a {@linkcode UserError} becomes `error: <message>` and exit 2.
 * Every path the task touches is first checked where it really leads (symbolic links resolved).
 */
export async function runMain(fn: () => Promise<void | number>): Promise<never> {
  installPathGuard();
  try {
    const code = await fn();
    Deno.exit(typeof code === "number" ? code : 0);
  } catch (err) {
    removeOpenTempFiles();
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
      Deno.exit(EXIT_USAGE);
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      console.error(
        `error: ${(err as Error).message} (the task's permissions in deno.json do not allow this)`,
      );
      Deno.exit(EXIT_USAGE);
    }
    console.error(err);
    Deno.exit(1);
  }
}

/**
 * Parses a command's arguments and handles `--help`; returns undefined when help was printed.
 */
export async function parseOrHelp<S extends OptionsSpec>(
  spec: CommandSpec & { options: S },
  args: string[],
): Promise<ParsedCommand<S> | undefined> {
  const parsed = await parseCommand(spec, args);
  if (parsed.help) {
    console.log(helpText(spec));
    return undefined;
  }
  return parsed;
}

/** A subcommand of a task with several (`deno task filter run`, `deno task tokenizer train`, …). */
export interface Subcommand {
  summary: string;
  /** Runs it; a number is the exit status. */
  main(args: string[]): Promise<void | number>;
}

/**
 * Runs the subcommand named by `args[0]` with the rest; with no name or `--help`, prints `top`'s
 * help (which lists the subcommands). Returns the subcommand's exit status, if it gave one.
 */
export async function dispatchSubcommand(
  top: CommandSpec,
  subcommands: Record<string, Subcommand>,
  args: string[],
): Promise<void | number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(helpText(top));
    return;
  }
  const cmd = subcommands[sub];
  if (!cmd) {
    throw new UserError(
      `unknown subcommand "${sub}" (known: ${Object.keys(subcommands).join(", ")})`,
    );
  }
  return await cmd.main(rest);
}
