/**
 * Jinja templates of task files (`doc_to_text`, `doc_to_choice`, …), rendered with
 * `@huggingface/jinja`. Jinja renders an undefined name as "", so before rendering a row we list the
 * names a template reads from the row and report the ones the row lacks. Lists get Python's
 * `index()` and `count()` methods, and `range()` is capped at {@linkcode MAX_RANGE} items so no
 * template loops without end.
 *
 * @module
 */

import { Environment, Interpreter, Template, tokenize } from "@huggingface/jinja";

/** The most items `range()` may yield in a template. */
export const MAX_RANGE = 10_000;

function _range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("range() step must not be zero");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_RANGE) {
    throw new Error(`range() of ${n} items; templates may loop ${MAX_RANGE} at most`);
  }
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** A runtime value of `@huggingface/jinja` (its classes are not exported; we reach them by value). */
type _Value = { value: unknown; constructor: { prototype: object } };

function _runtime(v: unknown): _Value {
  const env = new Environment();
  env.set("v", v);
  return env.lookupVariable("v") as unknown as _Value;
}

// Python list methods `index` and `count`, added to the library's list value once.
{
  const proto = _runtime([]).constructor.prototype;
  const desc = Object.getOwnPropertyDescriptor(proto, "builtins")!;
  Object.defineProperty(proto, "builtins", {
    get(this: { value: _Value[] }) {
      const m = desc.get!.call(this) as Map<string, unknown>;
      if (!m.has("index")) {
        const items = () => this.value.map((e) => e.value);
        m.set(
          "index",
          _runtime((x: unknown) => {
            const i = items().indexOf(x);
            if (i < 0) throw new Error(`${JSON.stringify(x)} is not in list`);
            return i;
          }),
        );
        m.set("count", _runtime((x: unknown) => items().filter((e) => e === x).length));
      }
      return m;
    },
  });
}

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
    // Template.render with our globals: the library's range() has no bound.
    const env = new Environment();
    const globals: Record<string, unknown> = {
      true: true,
      false: false,
      none: null,
      True: true,
      False: false,
      None: null,
      range: _range,
      raise_exception: (msg: string) => {
        throw new Error(msg);
      },
    };
    for (const [k, v] of Object.entries({ ...row, ...globals })) env.set(k, v);
    return new Interpreter(env).run(this.#template.parsed).value as string;
  }
}

/**
 * The top-level names a Jinja template reads (row columns), excluding names it binds itself
 * (`for x in`, `set x =`, a macro's name and parameters), attributes after `.`, filters after `|`
 * and tests after `is`.
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
    if (prev && prev.type === "Identifier" && prev.value === "macro") {
      // `macro name(a, b=default)`: the name and the parameters are bound; defaults are read.
      bound.add(t.value);
      for (let j = i + 2, depth = 1; j < tokens.length && depth > 0; j++) {
        const u = tokens[j];
        if (u.type === "OpenParen") depth++;
        else if (u.type === "CloseParen") depth--;
        else if (
          depth === 1 && u.type === "Identifier" &&
          (tokens[j - 1].type === "OpenParen" || tokens[j - 1].type === "Comma")
        ) bound.add(u.value);
      }
      continue;
    }
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
