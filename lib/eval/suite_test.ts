import assert from "node:assert/strict";
import { createRun } from "../run/run_folder.ts";
import { loadTaskData } from "./data.ts";
import { pooledStderr } from "./groups.ts";
import { buildInstances } from "./instances.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { readTaskFile } from "./task_file.ts";

const j = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("splits: test_split / validation_split pick the evaluated file, fewshot_split the examples", async () => {
  const dir = await folder({
    "data/qa/validation.jsonl": j([{ q: "v1", a: "x" }, { q: "v2", a: "y" }]),
    "data/qa/train.jsonl": j([{ q: "t1", a: "z" }]),
    "t.yaml": "task: t\ndataset_path: qa\ntraining_split: train\nvalidation_split: validation\n" +
      "test_split: null\nnum_fewshot: 1\ndoc_to_text: q\ndoc_to_target: a\nmetric_list: [{metric: exact_match}]\n",
  });
  const task = await readTaskFile(`${dir}/t.yaml`);
  const data = await loadTaskData(task, { dataRoot: `${dir}/data` });
  assert.match(data.eval.file, /validation\.jsonl$/);
  assert.match(data.fewshot!.file, /train\.jsonl$/);
  const { instances } = buildInstances(task, data);
  assert.equal(instances[0].contexts[0], "t1 z\n\nv1");
  // dataset_kwargs.data_files (lm-eval's local JSON) and fewshot_config.samples.
  const dir2 = await folder({
    "data/a.jsonl": j([{ q: "Q", a: "A" }]),
    "t.yaml":
      "task: t\ndataset_path: json\ndataset_kwargs: {data_files: {test: a.jsonl}}\ntest_split: test\n" +
      "num_fewshot: 1\nfewshot_config: {sampler: first_n, samples: [{q: S, a: T}]}\n" +
      "doc_to_text: q\ndoc_to_target: a\nmetric_list: [{metric: exact_match}]\n",
  });
  const t2 = await readTaskFile(`${dir2}/t.yaml`);
  const d2 = await loadTaskData(t2, { dataRoot: `${dir2}/data` });
  assert.equal(buildInstances(t2, d2).instances[0].contexts[0], "S T\n\nQ");
  const bad = await folder({
    "t.yaml":
      "task: t\ndataset_path: qa\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\nmetric_list: [{metric: exact_match}]\n",
  });
  await Deno.mkdir(`${bad}/data/qa`, { recursive: true });
  await assert.rejects(
    loadTaskData(await readTaskFile(`${bad}/t.yaml`), { dataRoot: `${bad}/data` }),
    /split "test": no .*qa file, nor test\.\{jsonl,json,csv,tsv\}/,
  );
});

Deno.test("include: a base file's fields, the including file's own fields win", async () => {
  const dir = await folder({
    "_default_template_yaml":
      "dataset_path: d.jsonl\noutput_type: multiple_choice\ndoc_to_text: q\n" +
      "doc_to_choice: choices\ndoc_to_target: gold\nmetric_list: [{metric: acc}]\ntarget_delimiter: ' '\n",
    "a.yaml": "include: _default_template_yaml\ntask: a\ntarget_delimiter: ': '\n",
    "loop.yaml": "include: loop.yaml\ntask: l\n",
    "py.yaml": "task: p\nprocess_docs: !function utils.process_docs\n",
  });
  const t = await readTaskFile(`${dir}/a.yaml`);
  assert.equal(t.task, "a");
  assert.equal(t.target_delimiter, ": ");
  assert.equal(t.output_type, "multiple_choice");
  await assert.rejects(readTaskFile(`${dir}/loop.yaml`), /"include" nests more than 8 levels/);
  await assert.rejects(
    readTaskFile(`${dir}/py.yaml`),
    /"!function utils\.process_docs" runs Python, which Jikji does not; name a registered function instead \(hellaswag, squad\)/,
  );
});

Deno.test("group files average their members by size; tags too; the suite table lists both", async () => {
  const mc = (task: string, tag: string) =>
    `task: ${task}\ntag: ${tag}\ndataset_path: ${task}.jsonl\noutput_type: multiple_choice\n` +
    "doc_to_text: q\ndoc_to_choice: choices\ndoc_to_target: gold\nmetric_list: [{metric: acc}]\n";
  const rows = (n: number) =>
    j(Array.from(
      { length: n },
      (_, i) => ({ q: "하늘은", choices: ["파랗다", "네모"], gold: i % 2 }),
    ));
  const dir = await folder({
    "data/a.jsonl": rows(2),
    "data/b.jsonl": rows(4),
    "tasks/a.yaml": mc("a", "ko"),
    "tasks/b.yaml": mc("b", "ko"),
    "tasks/_suite.yaml":
      "group: suite\ntask: [a, b]\naggregate_metric_list: [{metric: acc, weight_by_size: true}]\n",
    "tasks/_flat.yaml":
      "group: flat\ntask: [suite, a]\naggregate_metric_list: [{metric: acc, weight_by_size: false}]\n",
  });
  const run = await createRun({
    task: "eval",
    config: {},
    runsDir: `${dir}/runs`,
    gpu: false,
    echo: false,
  });
  const model = new TokenLMModel(new CharNgramLM(["하늘은 파랗다. 하늘은 파랗다."], 3));
  const out = await evaluateSuite({
    taskFiles: ["_flat.yaml", "_suite.yaml", "a.yaml", "b.yaml"].map((f) => `${dir}/tasks/${f}`),
    model,
    data: { dataRoot: `${dir}/data` },
    run,
  });
  const [a, b] = out.results;
  const suite = out.groups.find((g) => g.name === "suite")!;
  assert.deepEqual(suite.tasks, ["a", "b"]);
  assert.equal(suite.n, 6);
  const want = (a.metrics.acc.value * 2 + b.metrics.acc.value * 4) / 6;
  assert.ok(Math.abs(suite.value - want) < 1e-12);
  assert.ok(
    Math.abs(suite.stderr - pooledStderr([a.metrics.acc.stderr, b.metrics.acc.stderr], [2, 4])) <
      1e-12,
  );
  const flat = out.groups.find((g) => g.name === "flat")!;
  assert.ok(Math.abs(flat.value - (suite.value + a.metrics.acc.value) / 2) < 1e-12);
  assert.ok(Number.isNaN(flat.stderr));
  const tag = out.groups.find((g) => g.kind === "tag" && g.name === "ko")!;
  assert.ok(Math.abs(tag.value - want) < 1e-12);
  const md = await Deno.readTextFile(run.path("results.md"));
  assert.match(md, /## Groups and tags/);
  assert.match(md, /\| suite \| group \| acc \| \d\.\d{4} \| \d\.\d{4} \| 2 \| 6 \|/);
  assert.match(md, /\| ko \| tag \| acc \|/);
});

Deno.test("pooledStderr() equals the stderr of the pooled sample when subtasks share a mean", () => {
  // Two halves of [1,0,1,0] and [1,1,0,0]: each mean 0.5.
  const se = (xs: number[]) => {
    const m = xs.reduce((p, q) => p + q, 0) / xs.length;
    return Math.sqrt(xs.reduce((p, x) => p + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
  };
  const a = [1, 0, 1, 0];
  const b = [1, 1, 0, 0];
  const pooled = pooledStderr([se(a), se(b)], [4, 4]);
  // lm-eval's formula: sqrt(Σ (n−1)·se²·n / (N − k) / N).
  assert.ok(
    Math.abs(pooled - Math.sqrt((3 * se(a) ** 2 * 4 + 3 * se(b) ** 2 * 4) / 6 / 8)) < 1e-15,
  );
  assert.ok(Math.abs(pooled - se([...a, ...b]) * Math.sqrt(7 / 6)) < 1e-12);
});

Deno.test("generation_kwargs: do_sample with repeats asks for several seeded samples; majority_vote picks", async () => {
  const gen = (extra: string) =>
    "task: g\ndataset_path: g.jsonl\noutput_type: generate_until\ndoc_to_text: q\ndoc_to_target: a\n" +
    `${extra}\nfilter_list: [{name: vote, filter: [{function: majority_vote}, {function: take_first}]}]\n` +
    "metric_list: [{metric: exact_match}]\n";
  const dir = await folder({
    "data/g.jsonl": j([{ q: "하늘은", a: "파랗다" }]),
    "tasks/s.yaml": gen(
      "repeats: 5\ngeneration_kwargs: {until: ['.'], max_gen_toks: 6, do_sample: true, temperature: 1.5}",
    ),
    "tasks/greedy.yaml": gen("repeats: 5\ngeneration_kwargs: {until: ['.'], max_gen_toks: 6}")
      .replace("task: g", "task: h"),
  });
  const model = new TokenLMModel(
    new CharNgramLM(["하늘은 파랗다. 하늘은 푸르다. 바다는 넓다."], 2),
  );
  const runs = [];
  for (const f of ["s", "greedy"]) {
    const run = await createRun({
      task: "eval",
      config: {},
      runsDir: `${dir}/runs`,
      gpu: false,
      echo: false,
    });
    runs.push(
      (await evaluateSuite({
        taskFiles: [`${dir}/tasks/${f}.yaml`],
        model,
        data: { dataRoot: `${dir}/data` },
        run,
      })).results[0],
    );
  }
  const [sampled, greedy] = runs;
  assert.equal(sampled.requests.total, 5);
  const rs = sampled.samples[0].responses!;
  assert.equal(rs.length, 5);
  assert.ok(new Set(rs).size > 1, JSON.stringify(rs)); // seeded samples differ
  const counts = rs.map((r) => rs.filter((x) => x === r).length);
  assert.equal(
    rs.filter((x) => x === sampled.samples[0].filtered!.vote).length,
    Math.max(...counts),
  );
  assert.equal(greedy.requests.total, 1); // greedy repeats would all be the same
});

Deno.test("chrf and bleu are corpus scores of a task, from the rows' summed statistics", async () => {
  const dir = await folder({
    "data/t.jsonl": j([
      { src: "고양이", ref: "the cat sat on the mat" },
      { src: "개", ref: "a dog runs in the park" },
    ]),
    "tasks/t.yaml": "task: t\ndataset_path: t.jsonl\ndoc_to_text: src\ndoc_to_target: ref\n" +
      "metric_list: [{metric: chrf, aggregation: chrf, higher_is_better: true}, {metric: bleu}]\n",
  });
  const run = await createRun({
    task: "eval",
    config: {},
    runsDir: `${dir}/runs`,
    gpu: false,
    echo: false,
  });
  const out = await evaluateSuite({
    taskFiles: [`${dir}/tasks/t.yaml`],
    model: "oracle",
    data: { dataRoot: `${dir}/data` },
    run,
  });
  const m = out.results[0].metrics;
  assert.equal(m["chrf,none"].value, 100);
  assert.ok(Math.abs(m["bleu,none"].value - 100) < 1e-9);
  assert.ok(out.results[0].samples.every((s) => s.stats?.["bleu,none"]?.length === 10));
});
