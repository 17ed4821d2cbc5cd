/**
 * End-to-end runs of every task file in eval/bench over the shared benchmark data
 * (`../shared/bench` from the repository root): the in-process n-gram model on a few rows per
 * task, the oracle on every generation row, and a resumed run answered from the request cache.
 */
import assert from "node:assert/strict";
import { createRun } from "../run/run_folder.ts";
import { readDataset } from "./data.ts";
import { VERIFIERS } from "./ifeval/verifiers.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { listTaskFiles, readTaskFile } from "./task_file.ts";
import { REPO_ROOT, requireBenchDir } from "./testing.ts";

const BENCH = requireBenchDir();
const TASKS = `${REPO_ROOT}/eval/bench`;
const LIMIT = 20;

async function model(bench: string) {
  const ko = await Deno.readTextFile(`${bench}/satKorean/kimyujeong_dongbaekkkot.txt`);
  const en = (await Deno.readTextFile(`${bench}/lambada/lambada_test.jsonl`)).slice(0, 20000);
  return new TokenLMModel(new CharNgramLM([ko, en], 4, "char-4gram-test"));
}

Deno.test({
  name: "evaluateSuite() runs every eval/bench task file end to end and writes results",
  ignore: !BENCH,
  async fn() {
    const files = await listTaskFiles(TASKS);
    assert.ok(files.length >= 15, `${files.length} task files`);
    const runsDir = await Deno.makeTempDir();
    const run = await createRun({ task: "eval", config: {}, runsDir, gpu: false, echo: false });
    const m = await model(BENCH!);
    const { results, skipped } = await evaluateSuite({
      taskFiles: files,
      model: m,
      data: { dataRoot: BENCH! },
      run,
      limit: LIMIT,
    });
    run.close();
    assert.deepEqual(skipped, []);
    assert.equal(results.length, files.length);
    for (const r of results) {
      assert.equal(r.n, LIMIT, `${r.task}: ${JSON.stringify(r.skipped_rows)}`);
      assert.ok(Object.keys(r.metrics).length > 0, r.task);
      for (const [k, v] of Object.entries(r.metrics)) {
        assert.ok(Number.isFinite(v.value), `${r.task} ${k}`);
      }
      assert.equal(r.samples.length, LIMIT);
    }
    const byName = new Map(results.map((r) => [r.task, r]));
    assert.ok("exact_match,strict-match" in byName.get("ko_gsm8k")!.metrics);
    assert.ok("acc_norm" in byName.get("arc_easy")!.metrics);
    assert.ok("perplexity" in byName.get("lambada")!.metrics);
    assert.ok("inst_level_loose_acc" in byName.get("kite_korean")!.metrics);
    const json = JSON.parse(await Deno.readTextFile(run.path("results.json")));
    assert.equal(json.results.length, files.length);
    const md = await Deno.readTextFile(run.path("results.md"));
    for (const r of results) assert.ok(md.includes(`| ${r.task} |`), r.task);

    // Resume: the same folder answers every request from requests.jsonl.
    const again = await createRun({
      task: "eval",
      config: {},
      dir: run.dir,
      gpu: false,
      echo: false,
    });
    const second = await evaluateSuite({
      taskFiles: files,
      model: m,
      data: { dataRoot: BENCH! },
      run: again,
      limit: LIMIT,
    });
    again.close();
    for (const [i, r] of second.results.entries()) {
      assert.equal(r.requests.cached, r.requests.unique, r.task);
      assert.deepEqual(r.metrics, results[i].metrics);
    }
    await Deno.remove(runsDir, { recursive: true });
  },
});

Deno.test({
  name: "evaluateSuite() scores 100% on every generation task when fed the gold answers",
  ignore: !BENCH,
  async fn() {
    const files = [];
    for (const f of await listTaskFiles(TASKS)) {
      if ((await readTaskFile(f)).output_type === "generate_until") files.push(f);
    }
    const runsDir = await Deno.makeTempDir();
    const run = await createRun({ task: "eval", config: {}, runsDir, gpu: false, echo: false });
    const { results, skipped } = await evaluateSuite({
      taskFiles: files,
      model: "oracle",
      data: { dataRoot: BENCH! },
      run,
    });
    run.close();
    assert.deepEqual(results.map((r) => r.task).sort(), ["gsm8k", "ko_gsm8k"]);
    for (const r of results) {
      assert.ok(r.n >= 1319, `${r.task}: ${r.n}`);
      for (const [k, v] of Object.entries(r.metrics)) assert.equal(v.value, 1, `${r.task} ${k}`);
    }
    // Instruction-following tasks have no gold responses: listed as skipped, with the reason.
    assert.equal(skipped.length, files.length - 2);
    for (const s of skipped) assert.match(s.reason, /no gold answers/);
    await Deno.remove(runsDir, { recursive: true });
  },
});

Deno.test({
  name: "VERIFIERS covers every instruction in the IFEval and KITE data",
  ignore: !BENCH,
  async fn() {
    for (const f of await listTaskFiles(TASKS)) {
      const task = await readTaskFile(f);
      if (!task.metric_list.some((m) => m.metric.startsWith("prompt_level"))) continue;
      const ds = await readDataset(`${BENCH}/${task.dataset_path}`);
      for (const { doc } of ds.rows) {
        for (const id of doc.instruction_id_list as string[]) assert.ok(VERIFIERS[id], id);
      }
    }
  },
});
