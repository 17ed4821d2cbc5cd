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

/** Applies one filter step. */
export function applyStep(step: FilterStep, s: string): string {
  switch (step.function) {
    case "regex": {
      // lm-eval RegexFilter: findall, pick match `group_select` (negative from the end), the first
      // non-empty group of a multi-group pattern, else the fallback.
      const re = new RegExp(String(step.regex_pattern), "g");
      const matches = [...s.matchAll(re)];
      if (matches.length === 0) return String(step.fallback ?? INVALID);
      const sel = Number(step.group_select ?? 0);
      const m = matches[sel < 0 ? matches.length + sel : sel];
      if (!m) return String(step.fallback ?? INVALID);
      if (m.length === 1) return m[0];
      return m.slice(1).find((g) => g) ?? m[1] ?? "";
    }
    case "take_first":
      return s;
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

/** Runs a filter pipeline over one response. */
export function applyFilter(steps: FilterStep[], s: string): string {
  return steps.reduce((acc, step) => applyStep(step, acc), s);
}
