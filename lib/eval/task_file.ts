/**
 * Task files: YAML close to lm-evaluation-harness's task format, validated strictly. Every
 * problem is a {@linkcode UserError} naming the file and the field.
 *
 * ```yaml
 * task: arc_easy
 * dataset_path: llm-foundry-local_data/world_knowledge/arc_easy.jsonl   # under --data-root
 * output_type: multiple_choice        # or loglikelihood, generate_until
 * doc_to_text: "{{ query }}\nAnswer:"
 * doc_to_choice: "{{ choices }}"       # a column holding a list, or a YAML list of templates
 * doc_to_target: "{{ gold }}"          # index or choice text
 * metric_list: [{ metric: acc }, { metric: acc_norm }]
 * ```
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { readYamlFile } from "../io/yaml.ts";
import { RowTemplate } from "./template.ts";

/** How a task asks the model. */
export type OutputType = "multiple_choice" | "loglikelihood" | "generate_until";

/** One step of a filter pipeline (see filters.ts). */
export interface FilterStep {
  function: string;
  [arg: string]: unknown;
}

/** A named filter pipeline applied to generated text before scoring. */
export interface FilterSpec {
  name: string;
  filter: FilterStep[];
}

/** One metric and its options. */
export interface MetricSpec {
  metric: string;
  ignore_case?: boolean;
  ignore_punctuation?: boolean;
  regexes_to_ignore?: string[];
}

/** A Hub dataset file (fetched with `@huggingface/hub` when online). */
export interface HubSource {
  repo: string;
  file: string;
  revision?: string;
}

/** A parsed, validated task file. */
export interface TaskConfig {
  task: string;
  /** The file it came from. */
  file: string;
  tag: string[];
  description: string;
  dataset_path?: string;
  dataset_hub?: HubSource;
  dataset_format?: "jsonl" | "json" | "tsv" | "csv";
  fewshot_path?: string;
  output_type: OutputType;
  doc_to_text?: string;
  doc_to_choice?: string | string[];
  doc_to_target: string;
  /** Partial scoring (WinoGrande): the choices are contexts, this is the scored continuation. */
  doc_to_continuation?: string;
  /** For the oracle check: what a perfect model would write (default: doc_to_target). */
  doc_to_gold_output?: string;
  target_delimiter: string;
  fewshot_delimiter: string;
  num_fewshot: number;
  fewshot_seed: number;
  generation_kwargs: { until: string[]; max_gen_toks: number };
  filter_list: FilterSpec[];
  metric_list: MetricSpec[];
  metadata: Record<string, unknown>;
}

/** Metrics each output type can compute. */
export const METRICS_BY_TYPE: Record<OutputType, string[]> = {
  multiple_choice: ["acc", "acc_norm"],
  loglikelihood: ["acc", "perplexity"],
  generate_until: [
    "exact_match",
    "prompt_level_strict_acc",
    "inst_level_strict_acc",
    "prompt_level_loose_acc",
    "inst_level_loose_acc",
  ],
};

/** Filter functions a task file may name. */
export const FILTER_FUNCTIONS = [
  "regex",
  "take_first",
  "strip",
  "lowercase",
  "remove",
  "number",
  "gsm8k_strict",
  "gsm8k_flexible",
];

const FIELDS: Record<string, string> = {
  task: "string",
  tag: "string|string[]",
  description: "string",
  dataset_path: "string",
  dataset_hub: "object",
  dataset_format: "string",
  fewshot_path: "string",
  output_type: "string",
  doc_to_text: "string",
  doc_to_choice: "string|string[]",
  doc_to_target: "string",
  doc_to_continuation: "string",
  doc_to_gold_output: "string",
  target_delimiter: "string",
  fewshot_delimiter: "string",
  num_fewshot: "integer",
  fewshot_seed: "integer",
  generation_kwargs: "object",
  filter_list: "object[]",
  metric_list: "object[]",
  metadata: "object",
};

function _typeOk(kind: string, v: unknown): boolean {
  return kind.split("|").some((k) => {
    switch (k) {
      case "string":
        return typeof v === "string";
      case "string[]":
        return Array.isArray(v) && v.every((x) => typeof x === "string");
      case "integer":
        return Number.isSafeInteger(v);
      case "object":
        return v !== null && typeof v === "object" && !Array.isArray(v);
      case "object[]":
        return Array.isArray(v) && v.every((x) => x !== null && typeof x === "object");
      default:
        return false;
    }
  });
}

function _checkKeys(file: string, where: string, obj: object, known: string[]) {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      throw new UserError(`${file}: ${where}: unknown field "${k}" (known: ${known.join(", ")})`);
    }
  }
}

/**
 * Validates a parsed YAML object as a task file; `file` names it in errors.
 *
 * @example
 * ```ts
 * import { validateTask } from "./task_file.ts";
 * const t = validateTask({ task: "t", dataset_path: "x.jsonl", output_type: "loglikelihood",
 *   doc_to_text: "{{ a }}", doc_to_target: "{{ b }}", metric_list: [{ metric: "acc" }] }, "t.yaml");
 * t.num_fewshot; // 0
 * ```
 */
export function validateTask(raw: unknown, file: string): TaskConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError(`${file}: expected a YAML mapping of task fields`);
  }
  const r = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    const kind = Object.hasOwn(FIELDS, k) ? FIELDS[k] : undefined;
    if (!kind) {
      throw new UserError(
        `${file}: unknown field "${k}" (known: ${Object.keys(FIELDS).join(", ")})`,
      );
    }
    if (!_typeOk(kind, v)) {
      throw new UserError(`${file}: field "${k}": expected ${kind}, got ${JSON.stringify(v)}`);
    }
  }
  const need = (k: string) => {
    if (r[k] === undefined) throw new UserError(`${file}: field "${k}" is required`);
  };
  if (
    r.num_fewshot !== undefined &&
    ((r.num_fewshot as number) < 0 || (r.num_fewshot as number) > 10_000)
  ) {
    throw new UserError(
      `${file}: field "num_fewshot": expected 0…10000 examples, got ${r.num_fewshot}`,
    );
  }
  need("task");
  need("output_type");
  need("doc_to_target");
  const outputType = r.output_type as OutputType;
  if (!Object.hasOwn(METRICS_BY_TYPE, outputType)) {
    throw new UserError(
      `${file}: field "output_type": "${outputType}" is not one of ${
        Object.keys(METRICS_BY_TYPE).join(", ")
      }`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(r.task as string)) {
    throw new UserError(`${file}: field "task": use letters, digits, "_", "-" or "." only`);
  }
  if ((r.dataset_path === undefined) === (r.dataset_hub === undefined)) {
    throw new UserError(`${file}: give exactly one of "dataset_path" or "dataset_hub"`);
  }
  let hub: HubSource | undefined;
  if (r.dataset_hub) {
    const h = r.dataset_hub as Record<string, unknown>;
    _checkKeys(file, "dataset_hub", h, ["repo", "file", "revision"]);
    if (typeof h.repo !== "string" || typeof h.file !== "string") {
      throw new UserError(`${file}: dataset_hub needs "repo" and "file" strings`);
    }
    hub = { repo: h.repo, file: h.file, revision: h.revision as string | undefined };
  }
  if (
    r.dataset_format !== undefined &&
    !["jsonl", "json", "tsv", "csv"].includes(r.dataset_format as string)
  ) {
    throw new UserError(`${file}: field "dataset_format": one of jsonl, json, tsv, csv`);
  }
  if (outputType === "multiple_choice" && r.doc_to_choice === undefined) {
    throw new UserError(`${file}: output_type multiple_choice needs "doc_to_choice"`);
  }
  if (r.doc_to_continuation !== undefined && outputType !== "multiple_choice") {
    throw new UserError(`${file}: "doc_to_continuation" (partial scoring) needs multiple_choice`);
  }
  if (r.doc_to_continuation === undefined && r.doc_to_text === undefined) {
    throw new UserError(`${file}: field "doc_to_text" is required`);
  }
  const gen = (r.generation_kwargs ?? {}) as Record<string, unknown>;
  _checkKeys(file, "generation_kwargs", gen, ["until", "max_gen_toks"]);
  if (gen.until !== undefined && !_typeOk("string[]", gen.until)) {
    throw new UserError(`${file}: generation_kwargs.until: expected a list of strings`);
  }
  const maxGen = gen.max_gen_toks as number;
  if (maxGen !== undefined && !(Number.isInteger(maxGen) && maxGen >= 1 && maxGen <= 1 << 16)) {
    throw new UserError(`${file}: generation_kwargs.max_gen_toks: expected an integer in 1…65536`);
  }
  const filters = ((r.filter_list ?? []) as Record<string, unknown>[]).map((f, i) => {
    _checkKeys(file, `filter_list[${i}]`, f, ["name", "filter"]);
    if (typeof f.name !== "string" || !_typeOk("object[]", f.filter)) {
      throw new UserError(`${file}: filter_list[${i}] needs "name" and a "filter" list`);
    }
    for (const [j, s] of (f.filter as FilterStep[]).entries()) {
      if (!FILTER_FUNCTIONS.includes(s.function)) {
        throw new UserError(
          `${file}: filter_list[${i}].filter[${j}].function: "${s.function}" is not one of ${
            FILTER_FUNCTIONS.join(", ")
          }`,
        );
      }
      if (s.function === "regex") {
        try {
          new RegExp(String(s.regex_pattern));
        } catch (err) {
          throw new UserError(
            `${file}: filter_list[${i}].filter[${j}].regex_pattern: ${(err as Error).message}`,
          );
        }
      }
    }
    return { name: f.name, filter: f.filter as FilterStep[] };
  });
  if (filters.length && outputType !== "generate_until") {
    throw new UserError(`${file}: "filter_list" only applies to generate_until tasks`);
  }
  const metrics = ((r.metric_list ?? []) as Record<string, unknown>[]).map((m, i) => {
    _checkKeys(file, `metric_list[${i}]`, m, [
      "metric",
      "ignore_case",
      "ignore_punctuation",
      "regexes_to_ignore",
      "aggregation",
      "higher_is_better",
    ]);
    if (!METRICS_BY_TYPE[outputType].includes(m.metric as string)) {
      throw new UserError(
        `${file}: metric_list[${i}].metric: "${m.metric}" is not available for ${outputType} (use ${
          METRICS_BY_TYPE[outputType].join(", ")
        })`,
      );
    }
    return m as unknown as MetricSpec;
  });
  if (metrics.length === 0) {
    throw new UserError(`${file}: "metric_list" is required (e.g. - metric: acc)`);
  }
  // Compile every template now so syntax errors name the file and field.
  for (const k of ["doc_to_text", "doc_to_target", "doc_to_continuation", "doc_to_gold_output"]) {
    if (typeof r[k] === "string") _compile(file, k, r[k] as string);
  }
  const choice = r.doc_to_choice;
  if (typeof choice === "string") _compile(file, "doc_to_choice", choice);
  else if (Array.isArray(choice)) {
    choice.forEach((c, i) => _compile(file, `doc_to_choice[${i}]`, c));
  }
  const tag = r.tag === undefined ? [] : typeof r.tag === "string" ? [r.tag] : r.tag as string[];
  return {
    task: r.task as string,
    file,
    tag,
    description: (r.description as string) ?? "",
    dataset_path: r.dataset_path as string | undefined,
    dataset_hub: hub,
    dataset_format: r.dataset_format as TaskConfig["dataset_format"],
    fewshot_path: r.fewshot_path as string | undefined,
    output_type: outputType,
    doc_to_text: r.doc_to_text as string | undefined,
    doc_to_choice: choice as string | string[] | undefined,
    doc_to_target: r.doc_to_target as string,
    doc_to_continuation: r.doc_to_continuation as string | undefined,
    doc_to_gold_output: r.doc_to_gold_output as string | undefined,
    target_delimiter: (r.target_delimiter as string) ?? " ",
    fewshot_delimiter: (r.fewshot_delimiter as string) ?? "\n\n",
    num_fewshot: (r.num_fewshot as number) ?? 0,
    fewshot_seed: (r.fewshot_seed as number) ?? 1234,
    generation_kwargs: {
      until: (gen.until as string[]) ?? ["\n\n"],
      max_gen_toks: (gen.max_gen_toks as number) ?? 256,
    },
    filter_list: filters,
    metric_list: metrics,
    metadata: (r.metadata as Record<string, unknown>) ?? {},
  };
}

function _compile(file: string, field: string, src: string) {
  try {
    new RowTemplate(src);
  } catch (err) {
    throw new UserError(`${file}: field "${field}": template error: ${(err as Error).message}`);
  }
}

/** Reads and validates one task file. */
export async function readTaskFile(path: string): Promise<TaskConfig> {
  let raw: unknown;
  try {
    raw = await readYamlFile(path, "task file");
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read task file (${(err as Error).message})`);
  }
  return validateTask(raw, path);
}

/** Lists task files: a `.yaml` file as is, or every `*.yaml` under a folder (sorted). */
export async function listTaskFiles(pathOrDir: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(pathOrDir);
  } catch {
    throw new UserError(`${pathOrDir}: no such task file or folder`);
  }
  if (info.isFile) return [pathOrDir];
  const out: string[] = [];
  for await (const e of Deno.readDir(pathOrDir)) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) out.push(`${pathOrDir}/${e.name}`);
    else if (e.isDirectory) out.push(...await listTaskFiles(`${pathOrDir}/${e.name}`));
  }
  return out.sort();
}
