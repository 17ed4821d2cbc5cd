/**
 * The `doc_to_text` / `doc_to_target` / `doc_to_choice` fields of a task, read as lm-eval reads
 * them (`ConfigurableTask.doc_to_*`): a string that names a column of the dataset is that column's
 * value; any other string is a Jinja template; a number or list stands for itself; a mapping's
 * values are the choices. A rendered target that is all digits (with choices) is an index, and one
 * that looks like a list (`['a', 'b']`) is a list of gold answers.
 *
 * @module
 */

import { parseLiteral } from "./pyliteral.ts";
import { RowTemplate } from "./template.ts";
import type { DocFieldSpec } from "./task_file.ts";

type Doc = Record<string, unknown>;

/** One compiled `doc_to_*` field. */
export class DocField {
  /** Set when the field names a column. */
  readonly column?: string;
  /** Set when the field is a template (or a list of templates). */
  readonly templates: RowTemplate[] = [];
  readonly #spec: DocFieldSpec;

  /** `features`: the dataset's column names (a string among them is that column). */
  constructor(spec: DocFieldSpec, features: Set<string>) {
    this.#spec = spec;
    if (typeof spec === "string") {
      if (features.has(spec)) this.column = spec;
      else this.templates.push(new RowTemplate(spec));
    } else if (Array.isArray(spec)) {
      for (const s of spec) if (typeof s === "string") this.templates.push(new RowTemplate(s));
    }
  }

  /** The row columns this field reads. */
  get columns(): string[] {
    if (this.column !== undefined) return [this.column];
    return [...new Set(this.templates.flatMap((t) => t.columns))];
  }

  /** The columns this field reads that `doc` lacks. */
  missing(doc: Doc): string[] {
    return this.columns.filter((c) => !(c in doc));
  }

  /** The raw value for a row: a column's value, a rendered string, a number or a list. */
  value(doc: Doc): unknown {
    const s = this.#spec;
    if (this.column !== undefined) return doc[this.column];
    if (typeof s === "string") return this.templates[0].render(doc);
    if (typeof s === "number") return s;
    if (Array.isArray(s)) {
      let t = 0;
      return s.map((x) => typeof x === "string" ? this.templates[t++].render(doc) : x);
    }
    return Object.values(s);
  }

  /** The field as text (doc_to_text): a number (several contexts, WinoGrande style) stays one. */
  text(doc: Doc, hasChoices: boolean): string | number {
    const v = this.value(doc);
    if (typeof v === "number") return v;
    const s = _asText(v, "doc_to_text");
    if (hasChoices && this.column === undefined && /^\d+$/.test(s)) return Number(s);
    return s;
  }

  /** The field as choices (doc_to_choice): a list of texts. */
  choices(doc: Doc): string[] {
    let v = this.value(doc);
    if (typeof v === "string") {
      const s = v;
      try {
        v = parseLiteral(s.trim());
      } catch {
        throw new Error(`doc_to_choice rendered "${s.slice(0, 60)}", not a list`);
      }
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v)) v = Object.values(v);
    if (!Array.isArray(v)) throw new Error(`doc_to_choice gave ${JSON.stringify(v)}, not a list`);
    return v.map((x) => _asText(x, "doc_to_choice"));
  }

  /**
   * The field as target(s) (doc_to_target): an index (a number, or digits when there are
   * choices), a text, or a list of either (several gold answers).
   */
  target(doc: Doc, hasChoices: boolean): number | string | (number | string)[] {
    const v = this.value(doc);
    const one = (x: unknown): number | string => {
      if (typeof x === "number") return x;
      const s = _asText(x, "doc_to_target");
      if (hasChoices && /^\s*\d+\s*$/.test(s)) return Number(s);
      return s;
    };
    if (Array.isArray(v)) return v.map(one);
    if (typeof v === "string" && this.column === undefined) {
      const t = v.trim();
      if (t.length >= 2 && t[0] === "[" && t[t.length - 1] === "]") {
        try {
          const lit = parseLiteral(t);
          if (Array.isArray(lit)) return lit.map(one);
        } catch { /* a text that only looks like a list */ }
      }
    }
    return one(v);
  }
}

function _asText(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`${field} gave ${JSON.stringify(v)?.slice(0, 60)}, not text`);
}

/** The column names of a dataset: every key of every row. */
export function featuresOf(docs: Iterable<Doc>): Set<string> {
  const out = new Set<string>();
  for (const d of docs) for (const k of Object.keys(d)) out.add(k);
  return out;
}
