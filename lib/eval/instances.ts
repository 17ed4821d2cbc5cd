/**
 * Turns a task's dataset rows into model requests: prompt assembly (description, seeded few-shot
 * examples, `doc_to_text`), choices and gold targets. A row that does not fit — a template reading
 * a column the row lacks, a target outside the choices — is skipped with the file and row named.
 *
 * @module
 */

import { RowTemplate } from "./template.ts";
import type { TaskConfig } from "./task_file.ts";
import type { Dataset, SkippedRow } from "./data.ts";
import { seededRandom } from "./metrics.ts";

/** One evaluated row and its requests. */
export interface Instance {
  row: number;
  doc: Record<string, unknown>;
  /** The prompt (context) before the scored text; for partial scoring, one per choice. */
  contexts: string[];
  /** Scored continuations (one per choice; one for loglikelihood tasks). */
  continuations: string[];
  /** Choice texts (multiple_choice), for acc_norm lengths. */
  choices: string[];
  /** Gold index (multiple_choice) or gold text (loglikelihood, generate_until). */
  gold: number | string;
  /** What a perfect model writes (generate_until; the oracle check). */
  goldOutput?: string;
  /** Prompt without few-shot examples (IFEval's repeat_prompt checks against it). */
  bare: string;
}

/** Compiled templates of a task. */
export class TaskTemplates {
  text?: RowTemplate;
  target: RowTemplate;
  choice?: RowTemplate | RowTemplate[];
  continuation?: RowTemplate;
  goldOutput?: RowTemplate;
  /** `doc_to_choice: "{{ column }}"`: the column itself is the list. */
  choiceColumn?: string;

  constructor(readonly task: TaskConfig) {
    if (task.doc_to_text !== undefined) this.text = new RowTemplate(task.doc_to_text);
    this.target = new RowTemplate(task.doc_to_target);
    if (task.doc_to_continuation) this.continuation = new RowTemplate(task.doc_to_continuation);
    if (task.doc_to_gold_output) this.goldOutput = new RowTemplate(task.doc_to_gold_output);
    const c = task.doc_to_choice;
    if (typeof c === "string") {
      this.choice = new RowTemplate(c);
      const m = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$/.exec(
        c.trim(),
      );
      if (m) this.choiceColumn = m[1];
    } else if (Array.isArray(c)) this.choice = c.map((s) => new RowTemplate(s));
  }

  /** Columns used by all templates that `doc` lacks. */
  missing(doc: Record<string, unknown>): string[] {
    const all = [this.text, this.target, this.continuation, this.goldOutput]
      .concat(Array.isArray(this.choice) ? this.choice : [this.choice]);
    const out = new Set<string>();
    for (const t of all) for (const m of t?.missing(doc) ?? []) out.add(m);
    return [...out];
  }

  /** The choices of a row. */
  choices(doc: Record<string, unknown>): string[] {
    if (this.choiceColumn) {
      let v: unknown = doc;
      for (const k of this.choiceColumn.split(".")) {
        v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
      }
      if (!Array.isArray(v)) throw new Error(`column "${this.choiceColumn}" is not a list`);
      return v.map(String);
    }
    if (Array.isArray(this.choice)) return this.choice.map((t) => t.render(doc));
    const s = this.choice!.render(doc).trim();
    try {
      const v = JSON.parse(s);
      if (Array.isArray(v)) return v.map(String);
    } catch { /* not a list */ }
    throw new Error(`doc_to_choice rendered "${s.slice(0, 60)}", not a list`);
  }

  /** The gold choice index of a row. */
  goldIndex(doc: Record<string, unknown>, choices: string[]): number {
    const t = this.target.render(doc).trim();
    const idx = /^-?\d+$/.test(t) ? Number(t) : choices.indexOf(t);
    if (idx < 0 || idx >= choices.length) {
      throw new Error(`target "${t}" is not one of the ${choices.length} choices`);
    }
    return idx;
  }

  /** The text of a solved example, for few-shot prompts. */
  solved(doc: Record<string, unknown>): string {
    const d = this.task.target_delimiter;
    if (this.task.output_type === "multiple_choice") {
      const choices = this.choices(doc);
      const g = this.goldIndex(doc, choices);
      if (this.continuation) return choices[g] + d + this.continuation.render(doc);
      return this.text!.render(doc) + d + choices[g];
    }
    const gold = this.goldOutput ? this.goldOutput.render(doc) : this.target.render(doc);
    return this.text!.render(doc) + d + gold;
  }
}

/** Builds the instances of a task; `limit` caps the evaluated rows (first rows in file order). */
export function buildInstances(
  task: TaskConfig,
  data: { eval: Dataset; fewshot?: Dataset },
  limit?: number,
): { instances: Instance[]; skipped: SkippedRow[] } {
  const t = new TaskTemplates(task);
  const skipped: SkippedRow[] = [...data.eval.skipped];
  const rows = limit === undefined ? data.eval.rows : data.eval.rows.slice(0, limit);
  const pool = (data.fewshot ?? data.eval).rows.filter((r) => t.missing(r.doc).length === 0);
  const rand = seededRandom(task.fewshot_seed);
  const instances: Instance[] = [];
  const fileOf = data.eval.file;
  for (const { row, doc } of rows) {
    const missing = t.missing(doc);
    if (missing.length) {
      skipped.push({
        file: fileOf,
        row,
        reason: `${task.file}: template reads missing column(s) ${missing.join(", ")}`,
      });
      continue;
    }
    try {
      const shots: string[] = [];
      if (task.num_fewshot > 0) {
        const candidates = pool.filter((r) => !(data.fewshot === undefined && r.row === row));
        if (candidates.length < task.num_fewshot) {
          throw new Error(`only ${candidates.length} few-shot examples for ${task.num_fewshot}`);
        }
        const picked = new Set<number>();
        while (picked.size < task.num_fewshot) {
          picked.add(Math.floor(rand() * candidates.length));
        }
        for (const i of picked) shots.push(t.solved(candidates[i].doc));
      }
      const prefix = task.description +
        shots.map((s) => s + task.fewshot_delimiter).join("");
      const d = task.target_delimiter;
      if (task.output_type === "multiple_choice") {
        const choices = t.choices(doc);
        if (choices.length < 2) throw new Error(`${choices.length} choice(s); need at least 2`);
        const gold = t.goldIndex(doc, choices);
        if (t.continuation) {
          const cont = d + t.continuation.render(doc);
          instances.push({
            row,
            doc,
            contexts: choices.map((c) => prefix + c),
            continuations: choices.map(() => cont),
            choices: choices.map(() => cont),
            gold,
            bare: choices[gold],
          });
        } else {
          const bare = t.text!.render(doc);
          instances.push({
            row,
            doc,
            contexts: choices.map(() => prefix + bare),
            continuations: choices.map((c) => d + c),
            choices,
            gold,
            bare,
          });
        }
      } else if (task.output_type === "loglikelihood") {
        const bare = t.text!.render(doc);
        const gold = t.target.render(doc);
        if (gold === "") throw new Error("empty target");
        instances.push({
          row,
          doc,
          contexts: [prefix + bare],
          continuations: [d + gold],
          choices: [],
          gold,
          bare,
        });
      } else {
        const bare = t.text!.render(doc);
        const gold = t.target.render(doc);
        instances.push({
          row,
          doc,
          contexts: [prefix + bare],
          continuations: [],
          choices: [],
          gold,
          goldOutput: t.goldOutput ? t.goldOutput.render(doc) : gold,
          bare,
        });
      }
    } catch (err) {
      skipped.push({ file: fileOf, row, reason: `${task.file}: ${(err as Error).message}` });
    }
  }
  return { instances, skipped };
}
