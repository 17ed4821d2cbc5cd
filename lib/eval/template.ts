/**
 * Jinja templates of task files (`doc_to_text`, `doc_to_choice`, …), rendered with
 * `@huggingface/jinja`. Jinja renders an undefined name as "", so before rendering a row we list the
 * names a template reads from the row and report the ones the row lacks.
 *
 * @module
 */

import { Template, tokenize } from "@huggingface/jinja";

/** Names Jinja provides itself or that templates bind; never row columns. */
const BUILTIN = new Set([
  "true",
  "false",
  "none",
  "True",
  "False",
  "None",
  "loop",
  "range",
  "namespace",
  "raise_exception",
  "if",
  "else",
  "elif",
  "endif",
  "for",
  "endfor",
  "in",
  "not",
  "and",
  "or",
  "is",
  "set",
  "endset",
  "macro",
  "endmacro",
  "defined",
  "undefined",
  "filter",
  "endfilter",
  "break",
  "continue",
  "call",
  "endcall",
]);

/** A compiled template with the row columns it reads. */
export class RowTemplate {
  readonly source: string;
  readonly columns: string[];
  #template: Template;

  constructor(source: string) {
    this.source = source;
    this.#template = new Template(source);
    this.columns = templateColumns(source);
  }

  /** The columns this template reads that `row` does not have. */
  missing(row: Record<string, unknown>): string[] {
    return this.columns.filter((c) => !(c in row));
  }

  /** Renders the template for one row. */
  render(row: Record<string, unknown>): string {
    return this.#template.render(row);
  }
}

/**
 * The top-level names a Jinja template reads (row columns), excluding names it binds itself
 * (`for x in`, `set x =`), attributes after `.`, filters after `|` and tests after `is`.
 *
 * @example
 * ```ts
 * import { templateColumns } from "./template.ts";
 * templateColumns("{{ q | trim }} {% for c in choices %}{{ c }}{% endfor %}"); // ["q", "choices"]
 * ```
 */
export function templateColumns(source: string): string[] {
  const tokens = tokenize(source);
  const bound = new Set<string>();
  const names: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type !== "Identifier") continue;
    const prev = tokens[i - 1];
    if (prev && (prev.type === "Dot" || prev.type === "Pipe")) continue;
    if (prev && prev.type === "Identifier" && prev.value === "is") continue;
    if (prev && prev.type === "Identifier" && (prev.value === "for" || prev.value === "set")) {
      bound.add(t.value);
      // `for a, b in …`
      for (let j = i + 1; tokens[j]?.type === "Comma" && tokens[j + 1]; j += 2) {
        bound.add(tokens[j + 1].value);
      }
      continue;
    }
    const next = tokens[i + 1];
    if (next && next.type === "Equals" && prev?.type !== "OpenExpression") {
      // keyword argument `f(x=1)`
      if (prev?.type === "OpenParen" || prev?.type === "Comma") continue;
    }
    if (BUILTIN.has(t.value) || bound.has(t.value)) continue;
    if (!names.includes(t.value)) names.push(t.value);
  }
  return names;
}
