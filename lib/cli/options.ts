/**
 * One CLI convention for every task: typed defaults in one place, a YAML config file
 * (`--config FILE`) and flags layered on top (defaults < config < flags), unknown keys and wrong
 * types refused with one line naming the file and the field, and `--help` listing every option.
 *
 * Flags are kebab-case (`--max-pages 10`), config keys snake_case (`max_pages: 10`); both name the
 * same option.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { readYamlFile } from "../io/yaml.ts";
import { checkPath } from "../io/sandbox.ts";
import { DEFAULT_LINE_LIMITS, setLineLimits } from "../io/jsonl.ts";

/** The type of one option. `any` is for structured config (lists of steps, …): give `validate`. */
export type OptionType = "string" | "number" | "integer" | "boolean" | "string[]" | "any";

/** One option: its type, default and a one-line description for `--help`. */
export interface OptionSpec {
  type: OptionType;
  description: string;
  default?: unknown;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** Inclusive bounds of a numeric option. */
  min?: number;
  max?: number;
  /** One-letter alias for the flag. */
  short?: string;
  /** Extra check; returns what was expected when `value` is wrong. */
  validate?: (value: unknown) => string | undefined;
  /** Must be given (by config or flag). */
  required?: boolean;
  /**
   * A path the command reads or writes: checked where it really leads right after parsing, so a
   * link out of the task's folders is refused before any work (see lib/io/sandbox.ts).
   */
  path?: "read" | "write";
}

/** The options of a command, keyed by their snake_case name. */
export type OptionsSpec = Record<string, OptionSpec>;

/** A command: what `--help` shows. */
export interface CommandSpec {
  /** e.g. `filter` or `train tokenize`. */
  name: string;
  /** One line saying what it does. */
  summary: string;
  /** Positional arguments, e.g. `INPUT OUTPUT` (shown in usage). */
  positionals?: string;
  options: OptionsSpec;
  /** Subcommands to list in `--help`, name → summary. */
  subcommands?: Record<string, string>;
}

type ValueOf<T extends OptionType> = T extends "string" ? string
  : T extends "number" | "integer" ? number
  : T extends "boolean" ? boolean
  : T extends "string[]" ? string[]
  : unknown;

/** The resolved options of a spec. */
export type Resolved<S extends OptionsSpec> = { [K in keyof S]: ValueOf<S[K]["type"]> };

/** What {@linkcode parseCommand} returns. */
export interface ParsedCommand<S extends OptionsSpec> {
  options: Resolved<S>;
  positionals: string[];
  /** The config file read, if any. */
  configPath?: string;
  /** `--help` was asked for: print {@linkcode helpText} and exit. */
  help: boolean;
  /** `--quiet`: no progress output. */
  quiet: boolean;
}

/** Options every command has. */
const COMMON: OptionsSpec = {
  config: { type: "string", description: "YAML config file (keys are the options in snake_case)" },
  quiet: { type: "boolean", default: false, short: "q", description: "no progress output" },
  help: { type: "boolean", default: false, short: "h", description: "show this help" },
  max_line_bytes: {
    type: "integer",
    default: DEFAULT_LINE_LIMITS.maxLineBytes,
    min: 1,
    description: "longer input lines are rejected (JSONL: to rejects/, with their size)",
  },
  encoding_errors: {
    type: "string",
    default: DEFAULT_LINE_LIMITS.encodingErrors,
    choices: ["replace", "reject"],
    description: "input lines not valid UTF-8: read with U+FFFD and counted, or rejected",
  },
};

const toFlag = (key: string) => key.replaceAll("_", "-");
const toKey = (flag: string) => flag.replaceAll("-", "_");

/**
 * Parses `args` against `spec`: defaults, then the YAML file named by `--config`, then flags.
 * Throws a one-line {@linkcode UserError} for an unknown or mistyped key or flag.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./options.ts";
 * const spec = { name: "demo", summary: "…", options: {
 *   max_pages: { type: "integer", default: 10, min: 1, description: "pages to fetch" } } } as const;
 * const { options } = await parseCommand(spec, ["--max-pages", "3"]);
 * console.log(options.max_pages); // 3
 * ```
 */
export async function parseCommand<S extends OptionsSpec>(
  spec: CommandSpec & { options: S },
  args: string[],
): Promise<ParsedCommand<S>> {
  const all: OptionsSpec = { ...spec.options, ...COMMON };
  const flagValues = new Map<string, unknown>();
  const positionals: string[] = [];
  // Positionals beyond those the spec names are refused ("--seeds A B" must not crawl A alone).
  const declared = (spec.positionals ?? "").split(/\s+/).filter((p) => p !== "");
  const variadic = declared.some((p) => p.includes("…") || p.includes("..."));
  let lastFlag: { name: string; opt: OptionSpec } | undefined;
  const positional = (arg: string) => {
    if (!variadic && positionals.length >= declared.length) {
      const list = lastFlag?.opt.type === "string[]"
        ? `; --${lastFlag.name} takes one value per flag: --${lastFlag.name} A --${lastFlag.name} B, or A,B`
        : "";
      const takes = declared.length ? `takes ${declared.join(" ")}` : "takes no arguments";
      throw new UserError(`${spec.name}: unexpected argument "${arg}" (it ${takes}${list})`);
    }
    positionals.push(arg);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      args.slice(i + 1).forEach(positional);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const found = Object.entries(all).find(([, o]) => o.short === arg.slice(1, 2));
      if (!found) throw new UserError(`unknown flag ${arg} (see --help)`);
      name = toFlag(found[0]);
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    let key = toKey(name);
    let negated = false;
    if (!_own(all, key) && key.startsWith("no_") && _own(all, key.slice(3))?.type === "boolean") {
      key = key.slice(3);
      negated = true;
    }
    const opt = _own(all, key);
    if (!opt) {
      throw new UserError(`unknown flag --${name}${_suggest(key, all, toFlag, "--")} (see --help)`);
    }
    if (opt.type === "any") {
      throw new UserError(`--${name}: set it in the --config file, not as a flag`);
    }
    let raw: string | boolean;
    if (opt.type === "boolean") {
      if (inline === undefined) raw = !negated;
      else if (inline === "true" || inline === "false") raw = (inline === "true") !== negated;
      else throw new UserError(`--${name}: expected true or false, got "${inline}"`);
    } else {
      raw = inline ?? args[++i];
      if (raw === undefined) throw new UserError(`--${name}: expected a value`);
    }
    const value = _fromFlag(`--${name}`, opt, raw);
    lastFlag = { name, opt };
    if (opt.type === "string[]") {
      const prev = (flagValues.get(key) as string[] | undefined) ?? [];
      flagValues.set(key, [...prev, ...(value as string[])]);
    } else flagValues.set(key, value);
  }

  const help = flagValues.get("help") === true;
  const resolved: Record<string, unknown> = {};
  for (const [key, opt] of Object.entries(all)) {
    if (opt.default !== undefined) resolved[key] = structuredClone(opt.default);
  }
  const configPath = flagValues.get("config") as string | undefined;
  if (configPath !== undefined && !help) {
    const fromFile = await readConfigFile(configPath, spec.options);
    Object.assign(resolved, fromFile);
  }
  for (const [key, value] of flagValues) resolved[key] = value;
  if (!help) {
    for (const [key, opt] of Object.entries(spec.options)) {
      if (opt.required && resolved[key] === "") {
        throw new UserError(`--${toFlag(key)}: empty; give a value`);
      }
      if (opt.required && resolved[key] === undefined) {
        throw new UserError(
          `missing option ${toFlag(key)}: give --${toFlag(key)} or "${key}:" in the --config file`,
        );
      }
    }
  }
  if (!help) {
    for (const [key, opt] of Object.entries(spec.options)) {
      const v = resolved[key];
      if (opt.path && typeof v === "string" && v !== "") checkPath(v, opt.path);
    }
  }
  const {
    quiet,
    help: _h,
    config: _c,
    max_line_bytes: maxLineBytes,
    encoding_errors: encodingErrors,
    ...options
  } = resolved;
  setLineLimits({
    maxLineBytes: maxLineBytes as number,
    encodingErrors: encodingErrors as "replace" | "reject",
  });
  return {
    options: options as Resolved<S>,
    positionals,
    configPath,
    help,
    quiet: quiet === true,
  };
}

/**
 * Reads and validates a YAML config file against `options`: every key must be an option, every
 * value of the option's type. Errors name the file and the field.
 */
export async function readConfigFile(
  path: string,
  options: OptionsSpec,
): Promise<Record<string, unknown>> {
  const doc = await readYamlFile(path, "config file");
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new UserError(`${path}: expected a mapping of option: value at the top level`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const opt = _own(options, key);
    if (!opt) {
      throw new UserError(
        `${path}: unknown field "${key}"${_suggest(key, options, (k) => `"${k}"`, "")}`,
      );
    }
    const problem = checkValue(opt, value);
    if (problem) {
      throw new UserError(`${path}: field "${key}": expected ${problem}, got ${_show(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** Returns what was expected when `value` does not fit `opt`, or undefined when it does. */
export function checkValue(opt: OptionSpec, value: unknown): string | undefined {
  switch (opt.type) {
    case "string":
      if (typeof value !== "string") return "a string";
      if (opt.choices && !opt.choices.includes(value)) return `one of ${opt.choices.join(", ")}`;
      break;
    case "number":
    case "integer": {
      const what = opt.type === "integer" ? "an integer" : "a number";
      const range = _rangeText(opt);
      if (typeof value !== "number" || !Number.isFinite(value)) return what + range;
      if (opt.type === "integer" && !Number.isInteger(value)) return what + range;
      if (opt.min !== undefined && value < opt.min) return what + range;
      if (opt.max !== undefined && value > opt.max) return what + range;
      // no count in Jikji is meant to exceed what a 32-bit index holds
      if (opt.type === "integer" && opt.max === undefined && Math.abs(value) > 2 ** 31 - 1) {
        return `${what}${range} below 2^31`;
      }
      break;
    }
    case "boolean":
      if (typeof value !== "boolean") return "true or false";
      break;
    case "string[]":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        return "a list of strings";
      }
      break;
    case "any":
      break;
  }
  return opt.validate?.(value);
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`deno task ${spec.name} — ${spec.summary}`, ""];
  // a list given with positionals names their values (bench's suites), not subcommands
  const values = spec.subcommands && spec.positionals
    ? spec.positionals.replace(/[[\]…]|\.\.\./g, "")
    : "";
  const sub = spec.subcommands && !values ? " [SUBCOMMAND]" : "";
  lines.push(
    `usage: deno task ${spec.name}${sub} [OPTIONS]${
      spec.positionals ? " " + spec.positionals : ""
    }`,
  );
  if (spec.subcommands) {
    lines.push("", values ? `${values}:` : "subcommands:");
    for (const [name, summary] of Object.entries(spec.subcommands)) {
      lines.push(`  ${name.padEnd(20)} ${summary}`);
    }
  }
  lines.push("", "options (flags --kebab-case, config keys snake_case):");
  for (const [key, opt] of Object.entries({ ...spec.options, ...COMMON })) {
    const short = opt.short ? `-${opt.short}, ` : "";
    const arg = opt.type === "boolean"
      ? ""
      : opt.type === "any"
      ? " (config only)"
      : ` <${opt.type}>`;
    const def = opt.default !== undefined && opt.default !== false
      ? ` (default: ${JSON.stringify(opt.default)})`
      : opt.required
      ? " (required)"
      : "";
    const choices = opt.choices ? ` [${opt.choices.join("|")}]` : "";
    lines.push(
      `  ${(short + "--" + toFlag(key) + arg).padEnd(32)} ${opt.description}${choices}${def}`,
    );
  }
  return lines.join("\n");
}

function _fromFlag(flag: string, opt: OptionSpec, raw: string | boolean): unknown {
  let value: unknown = raw;
  if (opt.type === "number" || opt.type === "integer") {
    value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  } else if (opt.type === "string[]") {
    value = String(raw).split(",").filter((s) => s !== "");
  }
  const problem = checkValue(opt, value);
  if (problem) throw new UserError(`${flag}: expected ${problem}, got ${_show(raw)}`);
  return value;
}

/** `options[key]` when it is the spec's own (never `constructor`, `toString`, … inherited). */
function _own(options: OptionsSpec, key: string): OptionSpec | undefined {
  return Object.hasOwn(options, key) ? options[key] : undefined;
}

function _rangeText(opt: OptionSpec): string {
  if (opt.min !== undefined && opt.max !== undefined) return ` in ${opt.min}…${opt.max}`;
  if (opt.min !== undefined) return ` ≥ ${opt.min}`;
  if (opt.max !== undefined) return ` ≤ ${opt.max}`;
  return "";
}

function _show(value: unknown): string {
  const s = typeof value === "string"
    ? JSON.stringify(value)
    : JSON.stringify(value) ?? String(value);
  return s.length > 60 ? s.slice(0, 57) + "…" : s;
}

function _suggest(
  key: string,
  options: OptionsSpec,
  render: (k: string) => string,
  prefix: string,
): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of Object.keys(options)) {
    const d = _editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, key.length / 3)
    ? ` (did you mean ${prefix}${render(best)}?)`
    : "";
}

function _editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
