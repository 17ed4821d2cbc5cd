import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { createRun } from "../run/run_folder.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { readTaskFile, validateTask } from "./task_file.ts";
import { templateColumns } from "./template.ts";

const BASE = {
  task: "t",
  dataset_path: "d.jsonl",
  output_type: "multiple_choice",
  doc_to_text: "{{ q }}",
  doc_to_choice: "{{ choices }}",
  doc_to_target: "{{ gold }}",
  metric_list: [{ metric: "acc" }],
};

Deno.test("validateTask() names the file and the unknown field", () => {
  assert.throws(
    () => validateTask({ ...BASE, doc_to_txt: "x" }, "eval/x.yaml"),
    (e: Error) =>
      e instanceof UserError && e.message.startsWith('eval/x.yaml: unknown field "doc_to_txt"'),
  );
  assert.throws(
    () => validateTask({ ...BASE, metric_list: [{ metric: "exact_match" }] }, "x.yaml"),
    /not available for multiple_choice/,
  );
  assert.throws(() => validateTask({ ...BASE, num_fewshot: "5" }, "x.yaml"), /"num_fewshot"/);
  assert.throws(() => validateTask({ ...BASE, doc_to_text: "{{ q " }, "x.yaml"), /doc_to_text/);
  assert.throws(
    () =>
      validateTask({
        ...BASE,
        dataset_path: undefined,
        dataset_hub: { repo: "a/b", file: "c", x: 1 },
      }, "x.yaml"),
    /dataset_hub: unknown field "x"/,
  );
  assert.equal(validateTask(BASE, "x.yaml").target_delimiter, " ");
});

Deno.test("templateColumns() lists row columns, not bound names or filters", () => {
  assert.deepEqual(
    templateColumns("{% set n = 1 %}{% for c in choices %}{{ c | trim }}{% endfor %}{{ q.x }}"),
    ["choices", "q"],
  );
});

Deno.test("evaluateSuite() reports bad task files and rows with file and row, and goes on", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/data`;
  await Deno.mkdir(data);
  await Deno.writeTextFile(
    `${data}/mc.jsonl`,
    [
      JSON.stringify({ q: "하늘은", choices: ["파랗다", "네모나다"], gold: 0 }),
      "{not json",
      JSON.stringify({ q: "바다는", choices: ["넓다", "작다"], gold: 5 }),
      JSON.stringify({ question: "no q column", choices: ["a", "b"], gold: 0 }),
      JSON.stringify({ q: "풀은", choices: ["푸르다", "붉다"], gold: "푸르다" }),
    ].join("\n"),
  );
  await Deno.writeTextFile(`${data}/s.tsv`, "a\tb\n하나\t둘\n셋\n");
  const tasks = `${dir}/tasks`;
  await Deno.mkdir(tasks);
  const yaml = (o: Record<string, unknown>) => JSON.stringify(o); // JSON is YAML
  await Deno.writeTextFile(`${tasks}/1_good.yaml`, yaml({ ...BASE, dataset_path: "mc.jsonl" }));
  await Deno.writeTextFile(
    `${tasks}/2_unknown.yaml`,
    yaml({ ...BASE, task: "u", dataset_path: "mc.jsonl", shots: 5 }),
  );
  await Deno.writeTextFile(
    `${tasks}/3_tsv.yaml`,
    yaml({
      task: "tsv",
      dataset_path: "s.tsv",
      output_type: "loglikelihood",
      doc_to_text: "{{ a }}",
      doc_to_target: "{{ b }}",
      metric_list: [{ metric: "acc" }],
    }),
  );
  await Deno.writeTextFile(
    `${tasks}/4_missing.yaml`,
    yaml({ ...BASE, task: "m", dataset_path: "mc.jsonl", doc_to_text: "{{ nope }}" }),
  );
  const run = await createRun({ task: "eval", config: {}, runsDir: dir, gpu: false, echo: false });
  const model = new TokenLMModel(new CharNgramLM(["하늘은 파랗다. 풀은 푸르다. 바다는 넓다."], 3));
  const files = [...Deno.readDirSync(tasks)].map((e) => `${tasks}/${e.name}`).sort();
  const { results, skipped } = await evaluateSuite({
    taskFiles: files,
    model,
    data: { dataRoot: data },
    run,
  });
  run.close();
  assert.deepEqual(results.map((r) => r.task), ["t", "tsv"]);
  const t = results[0];
  assert.equal(t.n, 2);
  assert.deepEqual(
    t.skipped_rows.map((s) => [s.file, s.row, s.reason.slice(0, 30)]),
    [
      [`${data}/mc.jsonl`, 2, "invalid JSON (Expected propert"],
      [`${data}/mc.jsonl`, 3, `${tasks}/1_good.yaml: target 5 `.slice(0, 30)],
      [`${data}/mc.jsonl`, 4, `${tasks}/1_good.yaml: template`.slice(0, 30)],
    ],
  );
  assert.equal(results[1].skipped_rows[0].row, 3);
  assert.match(results[1].skipped_rows[0].reason, /1 fields, header has 2/);
  assert.deepEqual(skipped.map((s) => s.file), [
    `${tasks}/2_unknown.yaml`,
    `${tasks}/4_missing.yaml`,
  ]);
  assert.match(skipped[0].reason, /2_unknown\.yaml: unknown field "shots"/);
  assert.match(skipped[1].reason, /missing column\(s\) nope/);
  const md = await Deno.readTextFile(run.path("results.md"));
  assert.match(md, /## Skipped tasks/);
  assert.match(md, /mc\.jsonl` row 3: .*target 5 is not one of the 2 choices/);
  const json = JSON.parse(await Deno.readTextFile(run.path("results.json")));
  assert.equal(json.skipped_tasks.length, 2);
  assert.equal(json.results[0].samples.length, 2);
  assert.ok(await Deno.readTextFile(run.path("results.html")));
  await assert.rejects(() => readTaskFile(`${dir}/none.yaml`), UserError);
  await Deno.remove(dir, { recursive: true });
});
