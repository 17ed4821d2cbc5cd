/**
 * The lm-evaluation-harness task files in eval/lm_eval/ (HellaSwag with its preprocessing, SQuAD
 * and KorQuAD extractive QA, WikiText rolling perplexity, a group) run as written over the small
 * data in eval/lm_eval/testdata/, laid out as the Hugging Face datasets are. The expected prompts
 * and counts were worked out with lm-eval's own preprocessing in Python.
 */

import assert from "node:assert/strict";
import { createRun } from "../run/run_folder.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { listTaskFiles } from "./task_file.ts";
import { REPO_ROOT } from "./testing.ts";

const DIR = `${REPO_ROOT}/eval/lm_eval`;

async function runAll(model: TokenLMModel | "oracle") {
  const tmp = await Deno.makeTempDir();
  const run = await createRun({ task: "eval", config: {}, runsDir: tmp, gpu: false, echo: false });
  const out = await evaluateSuite({
    taskFiles: await listTaskFiles(DIR),
    model,
    data: { dataRoot: `${DIR}/testdata` },
    run,
  });
  return { out, md: await Deno.readTextFile(run.path("results.md")), tmp };
}

Deno.test("eval/lm_eval task files run as lm-eval writes them: MC with preprocessing, QA, rolling, a group", async () => {
  const train = await Deno.readTextFile(`${DIR}/testdata/train.txt`);
  const { out, md, tmp } = await runAll(new TokenLMModel(new CharNgramLM([train], 5)));
  const by = Object.fromEntries(out.results.map((r) => [r.task, r]));
  assert.deepEqual(Object.keys(by).sort(), ["hellaswag", "korquad_v1", "squad_v1", "wikitext"]);
  assert.deepEqual(out.skipped, []);
  // HellaSwag: doc_to_text "{{query}}" reads the column process_docs made, cleaned as lm-eval.
  const hs = by.hellaswag;
  assert.equal(hs.n, 3);
  assert.ok(hs.metrics.acc && hs.metrics.acc_norm);
  const inst = (await import("./instances.ts")).buildInstances;
  const { loadTaskData } = await import("./data.ts");
  const { readTaskFile } = await import("./task_file.ts");
  const t = await readTaskFile(`${DIR}/hellaswag.yaml`);
  const { instances } = inst(t, await loadTaskData(t, { dataRoot: `${DIR}/testdata` }));
  assert.deepEqual(instances.map((i) => i.contexts[0]), [
    "Making tea: A woman fills a kettle with water. She",
    "Washing a car: A man sprays the car with a hose. Then he",
    "Home and Garden: How to water plants. Check the soil. If",
  ]);
  assert.equal(instances[0].continuations[2], " paints the kettle. blue.");
  assert.deepEqual(instances.map((i) => i.gold), [0, 1, 0]);
  // KorQuAD's nested JSON: two questions, each with its paragraph and title.
  assert.equal(by.korquad_v1.n, 2);
  assert.match(by.korquad_v1.samples[0].prompt!, /^제목: 한글\n\n본문: 한글은 1443년/);
  assert.equal(by.korquad_v1.samples[1].target, JSON.stringify(["훈민정음", "훈민정음이었다"]));
  assert.equal(by.squad_v1.samples[0].target, JSON.stringify(["Seoul", "Seoul, South Korea"]));
  // WikiText: 20 words / 79 bytes and 20 / 80 (re.split(r"\s+") and UTF-8, as lm-eval counts).
  const w = by.wikitext;
  const ll = w.samples.reduce((a, s) => a + s.lls![0], 0);
  assert.ok(Math.abs(w.metrics.word_perplexity.value - Math.exp(-ll / 40)) < 1e-9);
  assert.ok(Math.abs(w.metrics.bits_per_byte.value - -ll / 159 / Math.LN2) < 1e-9);
  assert.match(md, /\| qa_suite \| group \| exact,strip \|/);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("eval/lm_eval QA tasks score 1 when fed their gold answers (oracle)", async () => {
  const { out, tmp } = await runAll("oracle");
  for (const r of out.results) {
    for (const [k, v] of Object.entries(r.metrics)) assert.equal(v.value, 1, `${r.task} ${k}`);
  }
  assert.equal(out.groups.find((g) => g.name === "qa_suite")!.value, 1);
  assert.equal(out.skipped.length, 2); // hellaswag and wikitext: not generation tasks
  await Deno.remove(tmp, { recursive: true });
});
