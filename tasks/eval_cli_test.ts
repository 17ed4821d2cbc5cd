/**
 * `deno task eval` through its real command line (deno.json's permissions apply): run, tokens and
 * check on a small task folder made under runs/, and one-line errors for bad input.
 */

import assert from "node:assert/strict";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

function evalTask(args: string[]) {
  return runTask(["eval", ...args]);
}

async function fixture(): Promise<string> {
  const rel = `runs/test-eval-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  await Deno.mkdir(`${dir}/tasks`);
  await Deno.writeTextFile(
    `${dir}/data/train.txt`,
    "하늘은 파랗다. 풀은 푸르다. 2 더하기 2는 4. #### 4\n",
  );
  await Deno.writeTextFile(
    `${dir}/data/mc.jsonl`,
    [
      { q: "하늘은", choices: ["파랗다", "푸르다"], gold: 0 },
      { q: "풀은", choices: ["파랗다", "푸르다"], gold: 1 },
    ].map((x) => JSON.stringify(x)).join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/data/gen.jsonl`,
    JSON.stringify({ q: "2 더하기 2는?", a: "4", sol: "2 더하기 2는 4. #### 4" }),
  );
  await Deno.writeTextFile(
    `${dir}/tasks/mc.yaml`,
    'task: mc\ndataset_path: mc.jsonl\noutput_type: multiple_choice\ndoc_to_text: "{{ q }}"\n' +
      'doc_to_choice: "{{ choices }}"\ndoc_to_target: "{{ gold }}"\nmetric_list: [{metric: acc}, {metric: acc_norm}]\n',
  );
  await Deno.writeTextFile(
    `${dir}/tasks/gen.yaml`,
    'task: gen\ndataset_path: gen.jsonl\noutput_type: generate_until\ndoc_to_text: "문제: {{ q }}\\n답:"\n' +
      'doc_to_target: "{{ a }}"\ndoc_to_gold_output: "{{ sol }}"\ngeneration_kwargs: {until: ["\\n"], max_gen_toks: 20}\n' +
      "filter_list: [{name: strict-match, filter: [{function: gsm8k_strict}]}]\nmetric_list: [{metric: exact_match}]\n",
  );
  await Deno.writeTextFile(`${dir}/tasks/bad.yaml`, "task: bad\nshots: 5\n");
  return rel;
}

Deno.test("deno task eval run evaluates a folder of task files and reports the bad one", async () => {
  const rel = await fixture();
  const r = await evalTask([
    "run",
    `${rel}/tasks`,
    "--backend",
    "ngram",
    "--train-text",
    `${rel}/data/train.txt`,
    "--ngram-order",
    "3",
    "--data-root",
    `${rel}/data`,
    "--runs-dir",
    `${rel}/runs`,
    "-q",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| mc \| 0 \| acc_norm \|/);
  assert.match(r.stdout, /\| gen \| 0 \| exact_match \| strict-match \|/);
  assert.match(r.stdout, /bad\.yaml`: .*unknown field "shots"/);
  const runDir = r.stdout.match(/run folder: (.*)/)![1];
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}/${runDir}/results.json`));
  assert.equal(json.results.length, 2);
  assert.ok(await Deno.stat(`${ROOT}/${runDir}/results.html`));

  // Resume: the same model continues from the cache; another model is refused.
  const ngramArgs = (order: string) => [
    "run",
    `${rel}/tasks`,
    "--backend",
    "ngram",
    "--train-text",
    `${rel}/data/train.txt`,
    "--ngram-order",
    order,
    "--data-root",
    `${rel}/data`,
    "--resume",
    runDir,
    "-q",
  ];
  const resumed = await evalTask(ngramArgs("3"));
  assert.equal(resumed.code, 0, resumed.stderr);
  const again = JSON.parse(await Deno.readTextFile(`${ROOT}/${runDir}/results.json`));
  for (const r of again.results) assert.equal(r.requests.cached, r.requests.unique, r.task);
  const other = await evalTask(ngramArgs("4"));
  assert.equal(other.code, 2);
  assert.match(other.stderr, /that run used model "char-3gram-[0-9a-f]{8}"/);

  const oracle = await evalTask([
    "run",
    `${rel}/tasks/gen.yaml`,
    "--backend",
    "oracle",
    "--data-root",
    `${rel}/data`,
    "--runs-dir",
    `${rel}/runs`,
    "-q",
  ]);
  assert.equal(oracle.code, 0, oracle.stderr);
  assert.match(oracle.stdout, /\| gen \| 0 \| exact_match \| strict-match \| 1\.0000 \|/);

  const tokens = await evalTask([
    "tokens",
    `${rel}/tasks/mc.yaml`,
    "--data-root",
    `${rel}/data`,
    "--runs-dir",
    `${rel}/runs`,
    "-q",
  ]);
  assert.equal(tokens.code, 0, tokens.stderr);
  assert.match(tokens.stdout, /\| mc \| .*tokenizer\.json \| 2 \|/);
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});

Deno.test("deno task eval refuses bad options in one line", async () => {
  const r = await evalTask(["run", "eval/bench", "--backend", "gpt"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^error: .*backend.*gpt/);
  const n = await evalTask(["run", "eval/bench", "--backend", "ngram"]);
  assert.equal(n.code, 2);
  assert.match(n.stderr.trim(), /^error: --backend ngram needs --train-text/);
  const h = await evalTask(["run", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--data-root <string>/);
  const u = await evalTask(["nope"]);
  assert.equal(u.code, 2);
});

/** A tiny random Llama with the byte-level tokenizer, saved as a model folder under `rel`. */
async function llamaFolder(rel: string): Promise<string> {
  const { saveTinyLlama } = await import("../lib/posttrain/testing.ts");
  await saveTinyLlama(`${ROOT}/${rel}/llama`);
  return `${rel}/llama`;
}

Deno.test("deno task eval run --backend jikji evaluates a model folder, resumes from its cache, refuses a bad folder", async () => {
  const rel = await fixture();
  const model = await llamaFolder(rel);
  const args = ["run", `${rel}/tasks/mc.yaml`, `${rel}/tasks/gen.yaml`, "--backend", "jikji"];
  const common = ["--model", model, "--device", "cpu", "--data-root", `${rel}/data`];
  const r = await evalTask([...args, ...common, "--runs-dir", rel, "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /# Jikji eval: jikji:llama-[0-9a-f]{12}/);
  const dir = r.stdout.match(/run folder: (\S+)/)![1];
  const res = JSON.parse(await Deno.readTextFile(`${ROOT}/${dir}/results.json`));
  assert.ok(JSON.stringify(res).includes('"mc"') && JSON.stringify(res).includes('"gen"'));
  const again = await evalTask([...args, ...common, "--resume", dir, "--quiet"]);
  assert.equal(again.code, 0, again.stderr);
  await Deno.remove(`${ROOT}/${model}/tokenizer.json`);
  const bad = await evalTask([...args, ...common, "--runs-dir", rel, "--quiet"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr.trim(),
    /^error: .*llama\/tokenizer\.json: missing; --model needs a Hugging Face folder/,
  );
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});

Deno.test("deno task eval run: no task evaluated (the oracle on multiple choice) exits 2 with one line", async () => {
  const rel = await fixture();
  const r = await evalTask([
    "run",
    `${rel}/tasks/mc.yaml`,
    "--backend",
    "oracle",
    "--data-root",
    `${rel}/data`,
    "--runs-dir",
    `${rel}/runs`,
    "--quiet",
  ]);
  assert.equal(r.code, 2, r.stdout);
  const lines = taskStderrLines(r.stderr);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^error: no task could be evaluated: 1 skipped \(first: .*mc\.yaml: .*oracle answers generation tasks only\)$/,
  );
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});

Deno.test("deno task eval: a task file or data root the sandbox denies says so and where files go", async () => {
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/t.yaml`, "task: t\n");
  const r = await evalTask(["check", `${outside}/t.yaml`]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /t\.yaml: no task file or folder here \(outside what this task may read: put your own task files and data under eval\/user\//,
  );
  const rel = await fixture();
  const d = await evalTask(["check", `${rel}/tasks/mc.yaml`, "--data-root", outside]);
  // eval check writes its findings to stderr
  assert.match(d.stderr, /mc\.jsonl: cannot read dataset \(outside what this task may read/);
  await Deno.remove(outside, { recursive: true });
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});
