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
import { parseYamlText } from "../io/yaml.ts";
import { SandboxRefusal } from "../io/sandbox.ts";
import { RowTemplate } from "./template.ts";
import { METRICS, metricsFor } from "./metric_registry.ts";
import { PROCESS_DOCS } from "./process_docs.ts";
import { compileRegex } from "./filters.ts";

/** How a task asks the model. */
export type OutputType =
  | "multiple_choice"
  | "loglikelihood"
  | "loglikelihood_rolling"
  | "generate_until";

/** A `doc_to_*` field: a column name, a Jinja template, a number or a list (see fields.ts). */
export type DocFieldSpec = string | number | (string | number)[] | Record<string, string>;

/** `fewshot_config`: where few-shot examples come from and how they are written. */
export interface FewshotConfig {
  split?: string;
  sampler: "default" | "first_n";
  samples?: Record<string, unknown>[];
  doc_to_text?: DocFieldSpec;
  doc_to_target?: DocFieldSpec;
  doc_to_choice?: DocFieldSpec;
  target_delimiter?: string;
  fewshot_delimiter?: string;
}

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
  aggregation?: string;
  higher_is_better?: boolean;
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
  /** Labels to select tasks by; lm-eval's `tag` and a task file's own `group` (no average). */
  tag: string[];
  description: string;
  dataset_path?: string;
  /** lm-eval's dataset configuration name: a sub-folder of a `dataset_path` folder. */
  dataset_name?: string;
  /** `data_files`: split → file under the data root (lm-eval's `dataset_kwargs.data_files`). */
  data_files?: Record<string, string>;
  dataset_hub?: HubSource;
  dataset_format?: "jsonl" | "json" | "tsv" | "csv";
  /** Where the records are inside a JSON file, e.g. `data.*.paragraphs.*.qas.*` (see data.ts). */
  dataset_records?: string;
  fewshot_path?: string;
  test_split?: string;
  validation_split?: string;
  training_split?: string;
  fewshot_split?: string;
  fewshot_config?: FewshotConfig;
  /** A named function of lib/eval/process_docs.ts applied to every split's rows. */
  process_docs?: string;
  output_type: OutputType;
  doc_to_text?: DocFieldSpec;
  doc_to_choice?: DocFieldSpec;
  doc_to_target: DocFieldSpec;
  /** Partial scoring (WinoGrande): the choices are contexts, this is the scored continuation. */
  doc_to_continuation?: string;
  /** For the oracle check: what a perfect model would write (default: doc_to_target). */
  doc_to_gold_output?: string;
  target_delimiter: string;
  fewshot_delimiter: string;
  num_fewshot: number;
  fewshot_seed: number;
  generation_kwargs: GenerationKwargs;
  /** Generations per prompt (with `do_sample`; filters such as majority_vote combine them). */
  repeats: number;
  filter_list: FilterSpec[];
  metric_list: MetricSpec[];
  metadata: Record<string, unknown>;
}

/** lm-eval's `generation_kwargs` that the backends honour. */
export interface GenerationKwargs {
  until: string[];
  max_gen_toks: number;
  do_sample: boolean;
  temperature: number;
  top_p?: number;
}

/** The most tokens a task may ask to generate per prompt. */
export const MAX_GEN_TOKS = 8192;

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
  "majority_vote",
];

const FIELDS: Record<string, string> = {
  task: "string",
  task_alias: "string",
  tag: "string|string[]",
  group: "string|string[]",
  description: "string",
  dataset_path: "string",
  dataset_name: "string",
  dataset_kwargs: "object",
  dataset_hub: "object",
  dataset_format: "string",
  dataset_records: "string",
  fewshot_path: "string",
  test_split: "string",
  validation_split: "string",
  training_split: "string",
  fewshot_split: "string",
  fewshot_config: "object",
  process_docs: "string",
  output_type: "string",
  doc_to_text: "field",
  doc_to_choice: "field",
  doc_to_target: "field",
  doc_to_continuation: "string",
  doc_to_gold_output: "string",
  target_delimiter: "string",
  fewshot_delimiter: "string",
  num_fewshot: "integer",
  fewshot_seed: "integer",
  repeats: "integer",
  generation_kwargs: "object",
  filter_list: "object[]",
  metric_list: "object[]",
  metadata: "object",
  should_decontaminate: "boolean",
  doc_to_decontamination_query: "string",
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
      case "number":
        return typeof v === "number" && Number.isFinite(v);
      case "boolean":
        return typeof v === "boolean";
      case "object":
        return v !== null && typeof v === "object" && !Array.isArray(v);
      case "object[]":
        return Array.isArray(v) && v.every((x) => x !== null && typeof x === "object");
      case "field":
        // A column name or template, an index, a list, or a mapping whose values are the choices.
        return typeof v === "string" || Number.isInteger(v) ||
          (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) ||
          (v !== null && typeof v === "object" && !Array.isArray(v) &&
            Object.values(v).every((x) => typeof x === "string"));
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

function _check(file: string, where: string, kind: string, v: unknown) {
  if (v !== undefined && !_typeOk(kind, v)) {
    throw new UserError(`${file}: ${where}: expected ${kind}, got ${JSON.stringify(v)}`);
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
  // `null` (YAML `~`) means "not set", as lm-eval's None.
  const r = Object.fromEntries(
    Object.entries(raw as Record<string, unknown>).filter(([, v]) => v !== null),
  );
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    const kind = Object.hasOwn(FIELDS, k) ? FIELDS[k] : undefined;
    if (!kind) {
      throw new UserError(
        `${file}: unknown field "${k}" (known: ${Object.keys(FIELDS).join(", ")})`,
      );
    }
    if (!_typeOk(kind, v)) {
      const what = kind === "field" ? "a column name, template, index, list or mapping" : kind;
      throw new UserError(`${file}: field "${k}": expected ${what}, got ${JSON.stringify(v)}`);
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
  const outputType = (r.output_type ?? "generate_until") as OutputType;
  const types: OutputType[] = [
    "multiple_choice",
    "loglikelihood",
    "loglikelihood_rolling",
    "generate_until",
  ];
  if (!types.includes(outputType)) {
    throw new UserError(
      `${file}: field "output_type": "${outputType}" is not one of ${types.join(", ")}`,
    );
  }
  need("doc_to_target");
  if (!/^[A-Za-z0-9_.-]+$/.test(r.task as string)) {
    throw new UserError(`${file}: field "task": use letters, digits, "_", "-" or "." only`);
  }
  const kw = (r.dataset_kwargs ?? {}) as Record<string, unknown>;
  _checkKeys(file, "dataset_kwargs", kw, ["data_files"]);
  let dataFiles: Record<string, string> | undefined;
  if (kw.data_files !== undefined) {
    const df = kw.data_files;
    if (typeof df === "string") dataFiles = { train: df };
    else if (
      _typeOk("object", df) && Object.values(df as object).every((x) => typeof x === "string")
    ) {
      dataFiles = df as Record<string, string>;
    } else {
      throw new UserError(
        `${file}: dataset_kwargs.data_files: expected a file or a mapping split → file (one file each)`,
      );
    }
  }
  if ((r.dataset_path === undefined && !dataFiles) === (r.dataset_hub === undefined)) {
    throw new UserError(
      `${file}: give exactly one of "dataset_path" (or dataset_kwargs.data_files) or "dataset_hub"`,
    );
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
  if (r.process_docs !== undefined && !(r.process_docs as string in PROCESS_DOCS)) {
    throw new UserError(
      `${file}: field "process_docs": "${r.process_docs}" is not one of ${
        Object.keys(PROCESS_DOCS).join(", ")
      } (Python functions are not run; name one of these)`,
    );
  }
  const fs = r.fewshot_config as Record<string, unknown> | undefined;
  let fewshot: FewshotConfig | undefined;
  if (fs) {
    _checkKeys(file, "fewshot_config", fs, [
      "split",
      "sampler",
      "samples",
      "doc_to_text",
      "doc_to_target",
      "doc_to_choice",
      "target_delimiter",
      "fewshot_delimiter",
    ]);
    _check(file, "fewshot_config.split", "string", fs.split);
    _check(file, "fewshot_config.samples", "object[]", fs.samples);
    for (const k of ["doc_to_text", "doc_to_target", "doc_to_choice"]) {
      _check(file, `fewshot_config.${k}`, "field", fs[k]);
    }
    for (const k of ["target_delimiter", "fewshot_delimiter"]) {
      _check(file, `fewshot_config.${k}`, "string", fs[k]);
    }
    const sampler = fs.sampler ?? "default";
    if (sampler !== "default" && sampler !== "first_n") {
      throw new UserError(`${file}: fewshot_config.sampler: one of default, first_n`);
    }
    fewshot = { ...fs, sampler } as FewshotConfig;
  }
  if (outputType === "multiple_choice" && r.doc_to_choice === undefined) {
    throw new UserError(`${file}: output_type multiple_choice needs "doc_to_choice"`);
  }
  if (r.doc_to_continuation !== undefined && outputType !== "multiple_choice") {
    throw new UserError(`${file}: "doc_to_continuation" (partial scoring) needs multiple_choice`);
  }
  if (
    r.doc_to_continuation === undefined && r.doc_to_text === undefined &&
    outputType !== "loglikelihood_rolling"
  ) {
    throw new UserError(`${file}: field "doc_to_text" is required`);
  }
  const gen = (r.generation_kwargs ?? {}) as Record<string, unknown>;
  _checkKeys(file, "generation_kwargs", gen, [
    "until",
    "max_gen_toks",
    "do_sample",
    "temperature",
    "top_p",
  ]);
  if (typeof gen.until === "string") gen.until = [gen.until];
  _check(file, "generation_kwargs.until", "string[]", gen.until);
  _check(file, "generation_kwargs.max_gen_toks", "integer", gen.max_gen_toks);
  _check(file, "generation_kwargs.do_sample", "boolean", gen.do_sample);
  _check(file, "generation_kwargs.temperature", "number", gen.temperature);
  _check(file, "generation_kwargs.top_p", "number", gen.top_p);
  const maxGen = (gen.max_gen_toks as number) ?? 256;
  if (maxGen < 1 || maxGen > MAX_GEN_TOKS) {
    throw new UserError(
      `${file}: generation_kwargs.max_gen_toks: ${maxGen} is outside 1…${MAX_GEN_TOKS}`,
    );
  }
  const repeats = (r.repeats as number) ?? 1;
  if (repeats < 1 || repeats > 64) throw new UserError(`${file}: field "repeats": 1…64`);
  if (repeats > 1 && outputType !== "generate_until") {
    throw new UserError(`${file}: "repeats" only applies to generate_until tasks`);
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
          compileRegex(String(s.regex_pattern));
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
    const def = METRICS[m.metric as string];
    if (!def || !def.types.includes(outputType)) {
      throw new UserError(
        `${file}: metric_list[${i}].metric: "${m.metric}" is not available for ${outputType} (use ${
          metricsFor(outputType).join(", ")
        })`,
      );
    }
    if (m.aggregation !== undefined && m.aggregation !== def.aggregation) {
      throw new UserError(
        `${file}: metric_list[${i}].aggregation: ${m.metric} aggregates by "${def.aggregation}", not "${m.aggregation}"`,
      );
    }
    if (m.higher_is_better !== undefined && m.higher_is_better !== def.higher_is_better) {
      throw new UserError(
        `${file}: metric_list[${i}].higher_is_better: ${m.metric} is ${def.higher_is_better}`,
      );
    }
    return {
      ...m,
      aggregation: def.aggregation,
      higher_is_better: def.higher_is_better,
    } as unknown as MetricSpec;
  });
  if (metrics.length === 0) {
    throw new UserError(`${file}: "metric_list" is required (e.g. - metric: acc)`);
  }
  // Compile every template now so syntax errors name the file and field.
  const fields: [string, unknown][] = [
    ["doc_to_text", r.doc_to_text],
    ["doc_to_target", r.doc_to_target],
    ["doc_to_choice", r.doc_to_choice],
    ["doc_to_continuation", r.doc_to_continuation],
    ["doc_to_gold_output", r.doc_to_gold_output],
    ["fewshot_config.doc_to_text", fewshot?.doc_to_text],
    ["fewshot_config.doc_to_target", fewshot?.doc_to_target],
    ["fewshot_config.doc_to_choice", fewshot?.doc_to_choice],
  ];
  for (const [k, v] of fields) {
    if (typeof v === "string") _compile(file, k, v);
    else if (Array.isArray(v)) {
      v.forEach((c, i) => typeof c === "string" && _compile(file, `${k}[${i}]`, c));
    }
  }
  const list = (v: unknown) => v === undefined ? [] : typeof v === "string" ? [v] : v as string[];
  return {
    task: r.task as string,
    file,
    tag: [...new Set([...list(r.tag), ...list(r.group)])],
    description: (r.description as string) ?? "",
    dataset_path: r.dataset_path as string | undefined,
    dataset_name: r.dataset_name as string | undefined,
    data_files: dataFiles,
    dataset_hub: hub,
    dataset_format: r.dataset_format as TaskConfig["dataset_format"],
    dataset_records: r.dataset_records as string | undefined,
    fewshot_path: r.fewshot_path as string | undefined,
    test_split: r.test_split as string | undefined,
    validation_split: r.validation_split as string | undefined,
    training_split: r.training_split as string | undefined,
    fewshot_split: r.fewshot_split as string | undefined,
    fewshot_config: fewshot,
    process_docs: r.process_docs as string | undefined,
    output_type: outputType,
    doc_to_text: r.doc_to_text as DocFieldSpec | undefined,
    doc_to_choice: r.doc_to_choice as DocFieldSpec | undefined,
    doc_to_target: r.doc_to_target as DocFieldSpec,
    doc_to_continuation: r.doc_to_continuation as string | undefined,
    doc_to_gold_output: r.doc_to_gold_output as string | undefined,
    target_delimiter: (r.target_delimiter as string) ?? " ",
    fewshot_delimiter: (r.fewshot_delimiter as string) ?? "\n\n",
    num_fewshot: (r.num_fewshot as number) ?? 0,
    fewshot_seed: (r.fewshot_seed as number) ?? 1234,
    generation_kwargs: {
      until: (gen.until as string[]) ?? ["\n\n"],
      max_gen_toks: maxGen,
      do_sample: (gen.do_sample as boolean) ?? false,
      temperature: (gen.temperature as number) ?? 0,
      top_p: gen.top_p as number | undefined,
    },
    repeats,
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

/** A group file: lm-eval's `group` with its member tasks and the metrics averaged over them. */
export interface GroupConfig {
  group: string;
  file: string;
  alias?: string;
  /** Member task names, tags or other groups. */
  task: string[];
  aggregate_metric_list: { metric: string; weight_by_size: boolean; filter_list?: string[] }[];
}

/** Whether a parsed YAML mapping is a group file rather than a task. */
export function isGroupFile(raw: unknown): boolean {
  const r = raw as Record<string, unknown> | null;
  return r !== null && typeof r === "object" && typeof r.group === "string" &&
    (Array.isArray(r.task) || r.task === undefined);
}

/** Validates a group file. */
export function validateGroup(raw: Record<string, unknown>, file: string): GroupConfig {
  _checkKeys(file, "group", raw, [
    "group",
    "group_alias",
    "task",
    "aggregate_metric_list",
    "metadata",
  ]);
  const tasks = (raw.task ?? []) as unknown[];
  if (!tasks.length || !tasks.every((t) => typeof t === "string")) {
    throw new UserError(
      `${file}: group "${raw.group}": "task" must list member task names (inline task definitions: put each in its own file)`,
    );
  }
  const agg = ((raw.aggregate_metric_list ?? []) as Record<string, unknown>[]).map((m, i) => {
    _checkKeys(file, `aggregate_metric_list[${i}]`, m, [
      "metric",
      "aggregation",
      "weight_by_size",
      "filter_list",
    ]);
    if (typeof m.metric !== "string") {
      throw new UserError(`${file}: aggregate_metric_list[${i}] needs "metric"`);
    }
    if ((m.aggregation ?? "mean") !== "mean") {
      throw new UserError(`${file}: aggregate_metric_list[${i}].aggregation: only "mean"`);
    }
    const fl = m.filter_list === undefined
      ? undefined
      : typeof m.filter_list === "string"
      ? [m.filter_list]
      : m.filter_list as string[];
    return {
      metric: m.metric,
      weight_by_size: (m.weight_by_size as boolean) ?? true,
      filter_list: fl,
    };
  });
  return {
    group: raw.group as string,
    file,
    alias: raw.group_alias as string | undefined,
    task: tasks as string[],
    aggregate_metric_list: agg,
  };
}

/** The most `include` levels a task file may chain. */
const MAX_INCLUDE_DEPTH = 8;

/**
 * Reads a YAML task or group file with lm-eval's `include`: the included files (relative to the
 * including file) are read first and the file's own keys win.
 */
export async function readYamlWithIncludes(
  path: string,
  depth = 0,
): Promise<Record<string, unknown>> {
  if (depth > MAX_INCLUDE_DEPTH) {
    throw new UserError(
      `${path}: "include" nests more than ${MAX_INCLUDE_DEPTH} levels (a cycle?)`,
    );
  }
  const text = await readTextChecked(path, "task file");
  let raw: unknown;
  try {
    raw = parseYamlText(text, path, { customTags: [_FUNCTION_TAG] });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read task file (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError(`${path}: expected a YAML mapping of task fields`);
  }
  const r = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(r)) {
    if (v instanceof _PyFunction) {
      throw new UserError(
        `${path}: field "${k}": "!function ${v.name}" runs Python, which Jikji does not; ${
          k === "process_docs"
            ? `name a registered function instead (${Object.keys(PROCESS_DOCS).join(", ")})`
            : "write it as a Jinja template"
        } — see eval/README.md`,
      );
    }
  }
  if (r.include === undefined) return r;
  const inc = typeof r.include === "string" ? [r.include] : r.include;
  if (!Array.isArray(inc) || !inc.every((x) => typeof x === "string")) {
    throw new UserError(`${path}: field "include": expected a file name or a list of them`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const merged: Record<string, unknown> = {};
  for (const f of inc) {
    Object.assign(
      merged,
      await readYamlWithIncludes(f.startsWith("/") ? f : `${dir}/${f}`, depth + 1),
    );
  }
  delete merged.task_list;
  const own = { ...r };
  delete own.include;
  return { ...merged, ...own };
}

class _PyFunction {
  constructor(readonly name: string) {}
}

const _FUNCTION_TAG = {
  tag: "!function",
  resolve: (s: string) => new _PyFunction(s),
};

/** Reads and validates one task file. */
export async function readTaskFile(path: string): Promise<TaskConfig> {
  const raw = await readYamlWithIncludes(path);
  if (isGroupFile(raw)) {
    throw new UserError(`${path}: a group file, not a task (run the folder holding it)`);
  }
  return validateTask(raw, path);
}

/** Reads a task or group file. */
export async function readSuiteFile(
  path: string,
): Promise<{ task: TaskConfig } | { group: GroupConfig }> {
  const raw = await readYamlWithIncludes(path);
  if (isGroupFile(raw)) return { group: validateGroup(raw, path) };
  return { task: validateTask(raw, path) };
}

/**
 * Reads a text file; a path the sandbox does not let this task read gets an error that says so
 * (and where task files outside the project go) instead of "no such file".
 */
export async function readTextChecked(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read ${what} (${_whyNot(err)})`);
  }
}

function _whyNot(err: unknown): string {
  // a link that leads outside: the guard's own words say where it leads
  if (err instanceof SandboxRefusal && / leads to /.test(err.message)) return err.message;
  if (
    err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied ||
    err instanceof SandboxRefusal
  ) {
    return `outside what this task may read: put your own task files and data under ${USER_TASK_DIR}/ (see eval/README.md)`;
  }
  if (err instanceof Deno.errors.NotFound) return "no such file";
  return (err as Error).message;
}

/** Where a user's own task files (and their data) go; the eval task may read it. */
export const USER_TASK_DIR = "eval/user";

/** Stat that names a sandbox refusal. */
export async function statChecked(path: string, what: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    throw new UserError(`${path}: no ${what} here (${_whyNot(err)})`);
  }
}

/** Lists task files: a `.yaml` file as is, or every `*.yaml` under a folder (sorted). */
export async function listTaskFiles(pathOrDir: string): Promise<string[]> {
  const info = await statChecked(pathOrDir, "task file or folder");
  if (info.isFile) return [pathOrDir];
  const out: string[] = [];
  for await (const e of Deno.readDir(pathOrDir)) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) out.push(`${pathOrDir}/${e.name}`);
    else if (e.isDirectory) out.push(...await listTaskFiles(`${pathOrDir}/${e.name}`));
  }
  return out.sort();
}
