/**
 * The one YAML reader of configs and task files: errors in one line naming the file, and a
 * document refused when an alias refers to itself (`seeds: &a [*a]`, which would make a cyclic
 * value that breaks every later step), when aliases expand beyond reason (a "billion laughs"
 * document), or when it nests deeper than any config needs.
 *
 * @module
 */

import { parse, type SchemaOptions } from "yaml";
import { UserError } from "./errors.ts";

/** Deepest nesting of mappings and lists a config may have. */
export const MAX_YAML_DEPTH = 64;

/**
 * Parses YAML `text` read from `file` (with the parser's `customTags` where a format has its own
 * tags).
 *
 * @example
 * ```ts
 * import { parseYamlText } from "./yaml.ts";
 * parseYamlText("steps: [a, b]\n", "x.yaml"); // { steps: ["a", "b"] }
 * ```
 */
export function parseYamlText(
  text: string,
  file: string,
  opts: { customTags?: SchemaOptions["customTags"] } = {},
): unknown {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100, prettyErrors: false, customTags: opts.customTags });
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    throw new UserError(`${file}: not valid YAML: ${msg}`);
  }
  _check(doc, file, [], new Set());
  return doc;
}

const _utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a YAML file: a missing file, bytes that are not UTF-8 and bad YAML are one-line errors.
 * `what` names the kind of file in the error ("config file", "task file").
 */
export async function readYamlFile(path: string, what = "file"): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such ${what}`);
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(`${path}: a folder, not a ${what}`);
    }
    throw err;
  }
  let text: string;
  try {
    text = _utf8.decode(bytes);
  } catch {
    throw new UserError(`${path}: not valid UTF-8 (a damaged or binary ${what}?)`);
  }
  return parseYamlText(text, path);
}

function _check(v: unknown, file: string, path: string[], open: Set<unknown>): void {
  if (v === null || typeof v !== "object") return;
  const where = path.length ? `field "${path.join(".")}"` : "the top level";
  if (open.has(v)) {
    throw new UserError(
      `${file}: ${where}: a YAML alias refers to the value that holds it (a cycle); write the value out`,
    );
  }
  if (path.length >= MAX_YAML_DEPTH) {
    throw new UserError(`${file}: ${where}: nested deeper than ${MAX_YAML_DEPTH} levels`);
  }
  open.add(v);
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  for (const [k, x] of entries) _check(x, file, [...path, String(k)], open);
  open.delete(v);
}
