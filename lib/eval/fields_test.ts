import assert from "node:assert/strict";
import { parseRows } from "./data.ts";
import { buildInstances } from "./instances.ts";
import { scoreInstance } from "./runner.ts";
import { validateTask } from "./task_file.ts";
import { RowTemplate, templateColumns } from "./template.ts";
import { parseLiteral } from "./pyliteral.ts";

type Doc = Record<string, unknown>;
const ds = (docs: Doc[], file = "d.jsonl") => ({
  file,
  rows: docs.map((doc, i) => ({ row: i + 1, doc })),
  skipped: [],
});
const task = (fields: Record<string, unknown>) =>
  validateTask(
    { task: "t", dataset_path: "d.jsonl", metric_list: [{ metric: "acc" }], ...fields },
    "t.yaml",
  );

Deno.test("a bare column name in doc_to_text / doc_to_choice / doc_to_target is that column", () => {
  const t = task({
    output_type: "multiple_choice",
    doc_to_text: "query",
    doc_to_choice: "choices",
    doc_to_target: "label",
  });
  const { instances } = buildInstances(t, {
    eval: ds([{ query: "Sky is", choices: ["blue", "square"], label: "1" }]),
  });
  assert.equal(instances[0].contexts[0], "Sky is"); // not the word "query"
  assert.deepEqual(instances[0].continuations, [" blue", " square"]);
  assert.equal(instances[0].gold, 1); // the label text "1" indexes the choices, as lm-eval
  // A string that names no column stays a (literal) template.
  const lit = task({
    output_type: "multiple_choice",
    doc_to_text: "Answer:",
    doc_to_choice: "choices",
    doc_to_target: 0,
  });
  assert.equal(
    buildInstances(lit, { eval: ds([{ choices: ["a", "b"] }]) }).instances[0].contexts[0],
    "Answer:",
  );
});

Deno.test("list targets: several gold choices or answers, any one counts", () => {
  const mc = task({
    output_type: "multiple_choice",
    doc_to_text: "{{ q }}",
    doc_to_choice: "{{ choices }}",
    doc_to_target: "{{ golds }}",
    metric_list: [{ metric: "acc" }],
  });
  const { instances } = buildInstances(mc, {
    eval: ds([{ q: "x", choices: ["a", "b", "c"], golds: [0, 2] }]),
  });
  assert.deepEqual(instances[0].golds, [0, 2]);
  const ll = (lls: number[]) => lls.map((logprob) => ({ logprob, isGreedy: false }));
  assert.equal(scoreInstance(mc, instances[0], ll([-3, -2, -1])).metrics.acc, 1); // picks 2
  assert.equal(scoreInstance(mc, instances[0], ll([-3, -1, -2])).metrics.acc, 0); // picks 1
  // A rendered Python list (answers['text']) is a list of gold texts for generation.
  const gen = task({
    output_type: "generate_until",
    doc_to_text: "{{ q }}",
    doc_to_target: "{{ answers['text'] }}",
    metric_list: [{ metric: "exact_match" }],
  });
  const g =
    buildInstances(gen, { eval: ds([{ q: "?", answers: { text: ["Paris", "paris, France"] } }]) })
      .instances[0];
  assert.deepEqual(g.golds, ["Paris", "paris, France"]);
  assert.equal(scoreInstance(gen, g, ["paris, France"]).metrics["exact_match,none"], 1);
  assert.equal(scoreInstance(gen, g, ["Lyon"]).metrics["exact_match,none"], 0);
  assert.deepEqual(parseLiteral(`['it\\'s', "b", 3, (1, 2), None]`), [
    "it's",
    "b",
    3,
    [1, 2],
    null,
  ]);
});

Deno.test("target_delimiter and fewshot_delimiter join as lm-eval joins them", () => {
  const rows = [{ q: "A", a: "1" }, { q: "B", a: "2" }];
  const ll = task({
    output_type: "loglikelihood",
    doc_to_text: "{{ q }}",
    doc_to_target: "{{ a }}",
    target_delimiter: " => ",
    fewshot_delimiter: " | ",
    num_fewshot: 1,
    description: "D: ",
  });
  const [i] = buildInstances(ll, { eval: ds(rows) }, 1).instances;
  // The few-shot answer follows target_delimiter; the scored target is sent as written.
  assert.equal(i.contexts[0], "D: B => 2 | A");
  assert.deepEqual(i.continuations, ["1"]);
  const gen = task({
    output_type: "generate_until",
    doc_to_text: "{{ q }}",
    doc_to_target: "{{ a }}",
    num_fewshot: 1,
    metric_list: [{ metric: "exact_match" }],
    fewshot_config: { target_delimiter: ": ", fewshot_delimiter: "\n" },
  });
  assert.equal(buildInstances(gen, { eval: ds(rows) }, 1).instances[0].contexts[0], "B: 2\nA");
});

Deno.test("Jinja macros with parameters read no columns of those names, and render", () => {
  const src = "{% macro fmt(label, text='x') %}{{ label }}) {{ text }}{% endmacro %}" +
    "{{ fmt('A', first) }} {{ fmt('B', second) }}";
  assert.deepEqual(templateColumns(src), ["first", "second"]);
  const t = task({
    output_type: "generate_until",
    doc_to_text: src,
    doc_to_target: "{{ first }}",
    metric_list: [{ metric: "exact_match" }],
  });
  const r = buildInstances(t, { eval: ds([{ first: "one", second: "two" }]) });
  assert.equal(r.skipped.length, 0);
  assert.equal(r.instances[0].contexts[0], "A) one B) two");
});

Deno.test("list.index() and list.count() work as in Python's Jinja", () => {
  const t = task({
    output_type: "multiple_choice",
    doc_to_text: "{{ q }}",
    doc_to_choice: "{{ options }}",
    doc_to_target: "{{ options.index(answer) }}",
  });
  const r = buildInstances(t, {
    eval: ds([{ q: "?", options: ["a", "b", "c"], answer: "c" }, {
      q: "?",
      options: ["a", "b"],
      answer: "z",
    }]),
  });
  assert.equal(r.instances[0].gold, 2);
  assert.match(r.skipped[0].reason, /"z" is not in list/);
  assert.equal(new RowTemplate("{{ xs.count('a') }}").render({ xs: ["a", "b", "a"] }), "2");
});

Deno.test("CSV number columns are numbers: lm-eval's {{answer-1}} indexes the choices", () => {
  const data = parseRows("q,answer,id\nfirst?,2,007\n", "csv", "d.csv");
  assert.deepEqual(data.rows[0].doc, { q: "first?", answer: 2, id: "007" });
  const t = task({
    output_type: "multiple_choice",
    doc_to_text: "{{ q }}",
    doc_to_choice: ["x", "y", "z"],
    doc_to_target: "{{answer-1}}",
  });
  assert.equal(buildInstances(t, { eval: data }).instances[0].gold, 1);
});

Deno.test("range() in a template is capped, so no task file loops without end", () => {
  assert.throws(
    () => new RowTemplate("{% for i in range(1000000000) %}x{% endfor %}").render({}),
    /range\(\) of 1000000000 items/,
  );
  assert.equal(new RowTemplate("{% for i in range(3) %}{{ i }}{% endfor %}").render({}), "012");
  assert.throws(
    () =>
      validateTask({
        task: "t",
        dataset_path: "d.jsonl",
        output_type: "generate_until",
        doc_to_text: "x",
        doc_to_target: "y",
        generation_kwargs: { max_gen_toks: 100000 },
        metric_list: [{ metric: "exact_match" }],
      }, "t.yaml"),
    /max_gen_toks: 100000 is outside/,
  );
});

Deno.test("doc_to_text giving an index makes each choice a context (lm-eval's WinoGrande)", () => {
  const t = task({
    output_type: "multiple_choice",
    doc_to_text: "{{ answer | int - 1 }}",
    doc_to_choice: "{{ [sentence.split('_')[0] + option1, sentence.split('_')[0] + option2] }}",
    doc_to_target: "{{ sentence.split('_')[1] }}",
  });
  const [i] = buildInstances(t, {
    eval: ds([{ sentence: "The cup is _ full.", option1: "A", option2: "B", answer: "2" }]),
  }).instances;
  assert.deepEqual(i.contexts, ["The cup is A", "The cup is B"]);
  assert.deepEqual(i.continuations, ["  full.", "  full."]);
  assert.equal(i.gold, 1);
});
