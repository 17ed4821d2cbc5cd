/**
 * Turns a task's dataset rows into model requests: prompt assembly (description, seeded few-shot
 * examples, `doc_to_text`), choices and gold targets, as lm-eval assembles them. A row that does
 * not fit — a template reading a column the row lacks, a target outside the choices — is skipped
 * with the file and row named.
 *
 * @module
 */

import { DocField, featuresOf } from "./fields.ts";
import { RowTemplate } from "./template.ts";
import type { TaskConfig } from "./task_file.ts";
import type { Dataset, SkippedRow } from "./data.ts";
import { seededRandom } from "./metrics.ts";

type Doc = Record<string, unknown>;

/** One evaluated row and its requests. */
export interface Instance {
  row: number;
  doc: Doc;
  /** The prompt (context) before the scored text; for partial scoring, one per choice. */
  contexts: string[];
  /** Scored continuations (one per choice; one for loglikelihood tasks). */
  continuations: string[];
  /** Choice texts (multiple_choice), for acc_norm lengths. */
  choices: string[];
  /** Gold index (multiple_choice) or gold text (the first when there are several). */
  gold: number | string;
  /** Every gold answer: indices (multiple_choice) or texts (lm-eval's multiple targets). */
  golds: (number | string)[];
  /** What a perfect model writes (generate_until; the oracle check). */
  goldOutput?: string;
  /** Prompt without few-shot examples (IFEval's repeat_prompt checks against it). */
  bare: string;
}

/** Compiled fields of a task, for one dataset's columns. */
export class TaskTemplates {
  text?: DocField;
  target: DocField;
  choice?: DocField;
  continuation?: RowTemplate;
  goldOutput?: RowTemplate;
  /** `fewshot_config` overrides for the examples. */
  fewshot: { text?: DocField; target: DocField; choice?: DocField; targetDelimiter: string };

  /** `features`: the dataset's columns (a field naming one is that column, as in lm-eval). */
  constructor(readonly task: TaskConfig, features: Set<string> = new Set()) {
    if (task.doc_to_text !== undefined) this.text = new DocField(task.doc_to_text, features);
    this.target = new DocField(task.doc_to_target, features);
    if (task.doc_to_choice !== undefined) this.choice = new DocField(task.doc_to_choice, features);
    if (task.doc_to_continuation) this.continuation = new RowTemplate(task.doc_to_continuation);
    if (task.doc_to_gold_output) this.goldOutput = new RowTemplate(task.doc_to_gold_output);
    const fc = task.fewshot_config;
    this.fewshot = {
      text: fc?.doc_to_text !== undefined ? new DocField(fc.doc_to_text, features) : this.text,
      target: fc?.doc_to_target !== undefined
        ? new DocField(fc.doc_to_target, features)
        : this.target,
      choice: fc?.doc_to_choice !== undefined
        ? new DocField(fc.doc_to_choice, features)
        : this.choice,
      targetDelimiter: fc?.target_delimiter ?? task.target_delimiter,
    };
  }

  /** Every row column the fields read. */
  get columns(): string[] {
    const out = new Set<string>();
    for (const f of [this.text, this.target, this.choice]) {
      for (const c of f?.columns ?? []) out.add(c);
    }
    for (const t of [this.continuation, this.goldOutput]) {
      for (const c of t?.columns ?? []) out.add(c);
    }
    return [...out];
  }

  /** Columns used by all fields that `doc` lacks. */
  missing(doc: Doc): string[] {
    return this.columns.filter((c) => !(c in doc));
  }

  /** The choices of a row. */
  choices(doc: Doc, field = this.choice): string[] {
    return field!.choices(doc);
  }

  /** The gold choice indices of a row (several with a list target). */
  goldIndices(doc: Doc, choices: string[], field = this.target): number[] {
    const t = field.target(doc, true);
    const list = Array.isArray(t) ? t : [t];
    return list.map((g) => {
      const idx = typeof g === "number"
        ? g
        : choices.indexOf(g) >= 0
        ? choices.indexOf(g)
        : choices.indexOf(g.trim());
      if (idx < 0 || idx >= choices.length || !Number.isInteger(idx)) {
        throw new Error(`target ${JSON.stringify(g)} is not one of the ${choices.length} choices`);
      }
      return idx;
    });
  }

  /** The gold index of a row (the first gold). */
  goldIndex(doc: Doc, choices: string[]): number {
    return this.goldIndices(doc, choices)[0];
  }

  /** The gold texts of a row for generation and loglikelihood tasks. */
  goldTexts(doc: Doc, field = this.target, choice = this.choice): string[] {
    if (choice) {
      // lm-eval: with doc_to_choice, the target indexes the choices.
      const cs = choice.choices(doc);
      return this.goldIndices(doc, cs, field).map((i) => cs[i]);
    }
    const t = field.target(doc, false);
    return (Array.isArray(t) ? t : [t]).map(String);
  }

  /** The text of a solved example, for few-shot prompts (lm-eval's question + delimiter + answer). */
  solved(doc: Doc): string {
    const f = this.fewshot;
    const d = f.targetDelimiter;
    if (this.task.output_type === "multiple_choice") {
      const choices = this.choices(doc, f.choice);
      const q = f.text?.text(doc, true);
      if (this.continuation || typeof q === "number") {
        const g = typeof q === "number" ? q : this.goldIndex(doc, choices);
        const cont = this.continuation
          ? this.continuation.render(doc)
          : String(f.target.target(doc, false));
        return choices[g] + d + cont;
      }
      return q + d + choices[this.goldIndices(doc, choices, f.target)[0]];
    }
    const gold = this.goldOutput
      ? this.goldOutput.render(doc)
      : this.goldTexts(doc, f.target, f.choice)[0];
    return String(f.text!.text(doc, false)) + d + gold;
  }
}

/** Builds the instances of a task; `limit` caps the evaluated rows (first rows in file order). */
export function buildInstances(
  task: TaskConfig,
  data: { eval: Dataset; fewshot?: Dataset },
  limit?: number,
): { instances: Instance[]; skipped: SkippedRow[] } {
  const features = featuresOf([...data.eval.rows, ...data.fewshot?.rows ?? []].map((r) => r.doc));
  const t = new TaskTemplates(task, features);
  const skipped: SkippedRow[] = [...data.eval.skipped];
  const rows = limit === undefined ? data.eval.rows : data.eval.rows.slice(0, limit);
  const pool = (data.fewshot ?? data.eval).rows.filter((r) => t.missing(r.doc).length === 0);
  const rand = seededRandom(task.fewshot_seed);
  const instances: Instance[] = [];
  const fileOf = data.eval.file;
  const fewshotDelimiter = task.fewshot_config?.fewshot_delimiter ?? task.fewshot_delimiter;
  const firstN = task.fewshot_config?.sampler === "first_n";
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
      if (task.num_fewshot > 0 && task.output_type !== "loglikelihood_rolling") {
        const candidates = pool.filter((r) => !(data.fewshot === undefined && r.row === row));
        if (candidates.length < task.num_fewshot) {
          throw new Error(`only ${candidates.length} few-shot examples for ${task.num_fewshot}`);
        }
        const picked = new Set<number>();
        while (picked.size < task.num_fewshot) {
          picked.add(firstN ? picked.size : Math.floor(rand() * candidates.length));
        }
        for (const i of picked) shots.push(t.solved(candidates[i].doc));
      }
      const prefix = task.description + shots.map((s) => s + fewshotDelimiter).join("");
      const d = task.target_delimiter;
      if (task.output_type === "multiple_choice") {
        const choices = t.choices(doc);
        if (choices.length < 2) throw new Error(`${choices.length} choice(s); need at least 2`);
        const q = t.text?.text(doc, true);
        if (t.continuation || typeof q === "number") {
          // Several contexts (WinoGrande): each choice completes the context, the target is scored.
          const gold = typeof q === "number" ? q : t.goldIndex(doc, choices);
          if (gold < 0 || gold >= choices.length) {
            throw new Error(
              `doc_to_text index ${gold} is not one of the ${choices.length} choices`,
            );
          }
          const cont = d +
            (t.continuation ? t.continuation.render(doc) : String(t.target.target(doc, false)));
          instances.push({
            row,
            doc,
            contexts: choices.map((c) => prefix + c),
            continuations: choices.map(() => cont),
            choices: choices.map(() => cont),
            gold,
            golds: [gold],
            bare: choices[gold],
          });
        } else {
          const golds = t.goldIndices(doc, choices);
          const bare = String(q);
          instances.push({
            row,
            doc,
            contexts: choices.map(() => prefix + bare),
            continuations: choices.map((c) => d + c),
            choices,
            gold: golds[0],
            golds,
            bare,
          });
        }
      } else if (task.output_type === "loglikelihood") {
        // lm-eval scores the target as given: target_delimiter only joins few-shot answers.
        const bare = String(t.text!.text(doc, false));
        const golds = t.goldTexts(doc);
        if (golds.length !== 1) {
          throw new Error(`${golds.length} targets; loglikelihood scores one`);
        }
        if (golds[0] === "") throw new Error("empty target");
        instances.push({
          row,
          doc,
          contexts: [prefix + bare],
          continuations: [golds[0]],
          choices: [],
          gold: golds[0],
          golds,
          bare,
        });
      } else if (task.output_type === "loglikelihood_rolling") {
        // The whole target is scored from nothing: no prompt, no few-shot examples.
        const golds = t.goldTexts(doc);
        if (golds.length !== 1 || golds[0] === "") throw new Error("one non-empty target needed");
        instances.push({
          row,
          doc,
          contexts: [""],
          continuations: [golds[0]],
          choices: [],
          gold: golds[0],
          golds,
          bare: "",
        });
      } else {
        const bare = String(t.text!.text(doc, false));
        const golds = t.goldTexts(doc);
        if (golds.length === 0) throw new Error("no target");
        instances.push({
          row,
          doc,
          contexts: [prefix + bare],
          continuations: [],
          choices: [],
          gold: golds[0],
          golds,
          goldOutput: t.goldOutput ? t.goldOutput.render(doc) : golds[0],
          bare,
        });
      }
    } catch (err) {
      skipped.push({ file: fileOf, row, reason: `${task.file}: ${(err as Error).message}` });
    }
  }
  return { instances, skipped };
}
