/**
 * Reads the literal a rendered template stands for, as lm-eval's `ast.literal_eval` on a rendered
 * `doc_to_choice` / `doc_to_target`: lists, tuples, strings in either quote, numbers, `True`,
 * `False`, `None` — and JSON's spelling of them (what `@huggingface/jinja` prints for a list).
 *
 * @module
 */

/**
 * Parses a Python (or JSON) literal; throws on anything else.
 *
 * @example
 * ```ts
 * import { parseLiteral } from "./pyliteral.ts";
 * parseLiteral("['Paris', \"l'Hôte\", 3]"); // ["Paris", "l'Hôte", 3]
 * ```
 */
export function parseLiteral(src: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(
      `not a literal: ${what} at character ${i} of ${JSON.stringify(src.slice(0, 80))}`,
    );
  };
  const value = (): unknown => {
    ws();
    const c = src[i];
    if (c === "[" || c === "(") {
      const close = c === "[" ? "]" : ")";
      i++;
      const out: unknown[] = [];
      ws();
      while (src[i] !== close) {
        out.push(value());
        ws();
        if (src[i] === ",") {
          i++;
          ws();
        } else if (src[i] !== close) fail(`expected "," or "${close}"`);
      }
      i++;
      return out;
    }
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      while (src[i] !== "}") {
        const k = value();
        ws();
        if (src[i++] !== ":") fail('expected ":"');
        out[String(k)] = value();
        ws();
        if (src[i] === ",") i++;
        else if (src[i] !== "}") fail('expected "," or "}"');
        ws();
      }
      i++;
      return out;
    }
    if (c === "'" || c === '"') return str(c);
    const m = /^(?:-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|True|False|None|true|false|null)/.exec(
      src.slice(i),
    );
    if (!m) return fail("unexpected text");
    i += m[0].length;
    const w = m[0];
    if (w === "True" || w === "true") return true;
    if (w === "False" || w === "false") return false;
    if (w === "None" || w === "null") return null;
    return Number(w);
  };
  const ESC: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0", b: "\b", f: "\f" };
  const str = (q: string): string => {
    i++;
    let out = "";
    while (i < src.length && src[i] !== q) {
      if (src[i] === "\\") {
        const e = src[i + 1];
        if (e === "u" || e === "x") {
          const n = e === "u" ? 4 : 2;
          out += String.fromCharCode(parseInt(src.slice(i + 2, i + 2 + n), 16));
          i += 2 + n;
          continue;
        }
        out += ESC[e] ?? e;
        i += 2;
      } else out += src[i++];
    }
    if (src[i] !== q) fail("unterminated string");
    i++;
    return out;
  };
  const v = value();
  ws();
  if (i !== src.length) fail("trailing text");
  return v;
}
