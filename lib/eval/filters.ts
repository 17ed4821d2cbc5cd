/**
 * Answer-extraction filters applied to generated text before scoring, as lm-eval's filter
 * pipelines: each step maps the response to a new string.
 *
 * @module
 */

import type { FilterStep } from "./task_file.ts";

/** What a failed extraction yields (lm-eval's fallback). */
export const INVALID = "[invalid]";

/** GSM8K's strict pattern: the number after `#### `. */
export const GSM8K_STRICT = /#### (-?[0-9.,]+)/;
/** A number as written in an answer: optional sign and `$`, digits with `,` groups, decimals. */
const NUMBER = /-?\$?[0-9][0-9,]*(?:\.[0-9]+)?/g;

/**
 * Normalizes an extracted number: drops `,`, `$`, `원`, spaces and a trailing `.`.
 *
 * @example
 * ```ts
 * import { normalizeNumber } from "./filters.ts";
 * normalizeNumber("1,200원."); // "1200"
 * ```
 */
export function normalizeNumber(s: string): string {
  return s.replace(/[,$원\s]/g, "").replace(/\.$/, "");
}

/** GSM8K strict match: the number after `#### `, normalized, or `[invalid]`. */
export function gsm8kStrict(response: string): string {
  const m = GSM8K_STRICT.exec(response);
  return m ? normalizeNumber(m[1]) : INVALID;
}

/** GSM8K flexible match: the last number in the response, normalized, or `[invalid]`. */
export function gsm8kFlexible(response: string): string {
  const all = response.match(NUMBER);
  return all ? normalizeNumber(all[all.length - 1]) : INVALID;
}

/**
 * Compiles a Python `re` pattern as a JavaScript RegExp: leading inline flags such as `(?s)` or
 * `(?i)` become RegExp flags, `(?P<name>…)` / `(?P=name)` named groups and `\A` / `\Z` anchors are
 * rewritten. Throws on what JavaScript cannot express (`(?x)` verbose patterns).
 *
 * @example
 * ```ts
 * import { compileRegex } from "./filters.ts";
 * compileRegex("(?s)answer: (.*)").flags; // "gs"
 * ```
 */
export function compileRegex(pattern: string): RegExp {
  let flags = "g";
  let p = pattern;
  for (let m; (m = /^\(\?([aiLmsux]+)\)/.exec(p));) {
    for (const f of m[1]) {
      if (f === "x") throw new Error("verbose patterns ((?x)) are not supported");
      if ((f === "i" || f === "m" || f === "s") && !flags.includes(f)) flags += f;
    }
    p = p.slice(m[0].length);
  }
  p = p.replace(/\(\?P<([A-Za-z_]\w*)>/g, "(?<$1>").replace(/\(\?P=([A-Za-z_]\w*)\)/g, "\\k<$1>")
    .replace(/\\A/g, "^").replace(/\\Z/g, "$");
  return new RegExp(p, flags);
}

/** lm-eval's RegexFilter on one response. */
function _regex(step: FilterStep, s: string): string {
  // findall, then match `group_select` (negative from the end); with groups, the first non-empty
  // one; stripped; the fallback when nothing matched.
  const fallback = String(step.fallback ?? INVALID);
  const matches = [...s.matchAll(compileRegex(String(step.regex_pattern)))];
  const sel = Number(step.group_select ?? 0);
  const m = matches[sel < 0 ? matches.length + sel : sel];
  if (!m) return fallback;
  if (m.length === 1) return m[0].trim();
  if (m.length === 2) return (m[1] ?? "").trim();
  const g = m.slice(1).find((x) => x);
  return g === undefined ? fallback : g.trim();
}

/** Applies one filter step to one response. */
export function applyStep(step: FilterStep, s: string): string {
  switch (step.function) {
    case "regex":
      return _regex(step, s);
    case "strip":
      return s.trim();
    case "lowercase":
      return s.toLowerCase();
    case "remove":
      return ((step.chars ?? []) as string[]).reduce((acc, c) => acc.split(c).join(""), s);
    case "number":
      return normalizeNumber(s);
    case "gsm8k_strict":
      return gsm8kStrict(s);
    case "gsm8k_flexible":
      return gsm8kFlexible(s);
    default:
      throw new Error(`unknown filter ${step.function}`);
  }
}

/** The most common response, the first seen on ties (Python's `Counter.most_common(1)`). */
export function majorityVote(xs: string[]): string {
  const counts = new Map<string, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  let best = xs[0];
  for (const [k, n] of counts) if (n > counts.get(best)!) best = k;
  return best;
}

/**
 * Runs a filter pipeline over the responses to one prompt (several with `repeats`), as lm-eval:
 * `take_first` keeps the first, `majority_vote` the most common, the others map each response.
 * The answer scored is the first response left.
 */
export function applyFilter(steps: FilterStep[], responses: string | string[]): string {
  let xs = typeof responses === "string" ? [responses] : responses;
  for (const step of steps) {
    if (step.function === "take_first") xs = xs.slice(0, 1);
    else if (step.function === "majority_vote") xs = [majorityVote(xs)];
    else xs = xs.map((x) => applyStep(step, x));
  }
  return xs[0] ?? "";
}
