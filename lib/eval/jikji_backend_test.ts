import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { loadModel } from "../model/hf_folder.ts";
import { saveTinyLlama } from "../posttrain/testing.ts";
import { createLlama } from "../model/backend.ts";
import { byteLevelTokenizerJson, tokenizerFromJson } from "../train/tokenizer.ts";
import { JikjiModel, scoringWindows } from "./jikji_backend.ts";
import { runTask } from "./runner.ts";
import { RequestCache } from "./cache.ts";
import { validateTask } from "./task_file.ts";

const CONFIG = { max_position_embeddings: 128, tie_word_embeddings: true };

async function folder(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await saveTinyLlama(`${dir}/m`, { config: CONFIG, seed: 5, std: 0.5 });
  return `${dir}/m`;
}

Deno.test("JikjiModel.loglikelihood() batches sorted by length and equals one-at-a-time scoring", async () => {
  const dir = await folder();
  const m = await JikjiModel.load(dir, { device: "cpu", tokenBudget: 40 });
  const reqs = [
    { context: "The cat", continuation: " sat" },
    { context: "A much longer context than the others here", continuation: " ok" },
    { context: "", continuation: "empty context" },
    { context: "x", continuation: "" },
  ];
  const got = await m.loglikelihood(reqs);
  // by hand: BOS + context + continuation through the model, one request at a time
  const tok = tokenizerFromJson(byteLevelTokenizerJson());
  const { cfg, params } = await loadModel(dir);
  const model = await createLlama(cfg, params, { device: "cpu" });
  for (let i = 0; i < 3; i++) {
    const ctx = [tok.bosId!, ...tok.encode(reqs[i].context)];
    const cont = tok.encode(reqs[i].continuation);
    const seq = [...ctx, ...cont], T = seq.length - 1;
    const targets = new Int32Array(T).fill(-1);
    for (let j = ctx.length - 1; j < T; j++) targets[j] = seq[j + 1];
    const s = await model.score(await model.forward({ B: 1, T, tokens: seq.slice(0, T) }), targets);
    let lp = 0, greedy = true;
    for (let j = 0; j < T; j++) {
      if (targets[j] < 0) continue;
      lp += s.logprob[j];
      greedy &&= s.greedy[j] === 1;
    }
    assert.ok(Math.abs(got[i].logprob - lp) < 1e-4, `request ${i}: ${got[i].logprob} vs ${lp}`);
    assert.equal(got[i].isGreedy, greedy);
  }
  assert.deepEqual(got[3], { logprob: 0, isGreedy: true });
  assert.ok(m.name.startsWith("jikji:m-"), m.name);
  m.close();
});

Deno.test("JikjiModel.generate() stops at the task's stop strings and max tokens", async () => {
  const m = await JikjiModel.load(await folder(), { device: "cpu" });
  const [long] = await m.generate([{ prompt: "Hello", until: [], maxTokens: 12 }]);
  assert.ok(long.length > 0);
  const stop = long.slice(3, 5);
  const [cut, alone] = await m.generate([
    { prompt: "Hello", until: [stop], maxTokens: 12 },
    { prompt: "Another prompt", until: [], maxTokens: 4 },
  ]);
  assert.equal(cut, long.slice(0, long.indexOf(stop)));
  const [again] = await m.generate([{ prompt: "Another prompt", until: [], maxTokens: 4 }]);
  assert.equal(alone, again, "a row's output does not depend on its batch");
  m.close();
});

Deno.test("a task file runs end to end on --backend jikji (multiple choice)", async () => {
  const m = await JikjiModel.load(await folder(), { device: "cpu" });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/mc.jsonl`,
    [
      { q: "Sky is", choices: [" blue", " green"], gold: 0 },
      { q: "Grass is", choices: [" blue", " green"], gold: 1 },
    ].map((x) => JSON.stringify(x)).join("\n"),
  );
  const task = validateTask({
    task: "mc",
    dataset_path: "mc.jsonl",
    output_type: "multiple_choice",
    doc_to_text: "{{ q }}",
    doc_to_choice: "{{ choices }}",
    doc_to_target: "{{ gold }}",
    metric_list: [{ metric: "acc" }, { metric: "acc_norm" }],
  }, `${dir}/mc.yaml`);
  const r = await runTask(task, {
    model: m,
    data: { dataRoot: dir },
    cache: await RequestCache.open(),
  });
  assert.equal(r.n, 2);
  assert.ok(r.metrics.acc.value >= 0 && r.metrics.acc.value <= 1);
  m.close();
});

Deno.test("JikjiModel.load() refuses a folder without tokenizer.json, or a config that does not fit, in one line", async () => {
  const dir = await folder();
  await Deno.remove(`${dir}/tokenizer.json`);
  await assert.rejects(() => JikjiModel.load(dir, { device: "cpu" }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /tokenizer\.json: missing; --model needs a Hugging Face folder/);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  const bad = await folder();
  const c = JSON.parse(await Deno.readTextFile(`${bad}/config.json`));
  await Deno.writeTextFile(`${bad}/config.json`, JSON.stringify({ ...c, intermediate_size: 40 }));
  await assert.rejects(
    () => JikjiModel.load(bad, { device: "cpu" }),
    /config\.json intermediate_size does not fit the weights: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[32,16\]/,
  );
});

Deno.test("scoringWindows() covers every scored token once with at most maxLength inputs", () => {
  for (const [n, first, L] of [[10, 1, 4], [30, 12, 8], [5, 1, 8], [9, 3, 2]]) {
    const ws = scoringWindows(n, first, L);
    let next = Math.max(first, 1);
    for (const w of ws) {
      assert.ok(w.end - w.start - 1 <= L && w.scored <= w.end - w.start - 1);
      assert.equal(w.end - w.scored, next); // contiguous, no token twice
      next = w.end;
    }
    assert.equal(next, n);
  }
});

Deno.test("JikjiModel.loglikelihood() scores a document longer than the model's context in windows", async () => {
  const dir = await folder();
  const m = await JikjiModel.load(dir, { device: "cpu", maxLength: 8 });
  const text = "a long page of text that does not fit";
  const [got] = await m.loglikelihood([{ context: "", continuation: text }]);
  // by hand: BOS + the bytes, each window of ≤ 8 inputs scoring the next tokens
  const tok = tokenizerFromJson(byteLevelTokenizerJson());
  const { cfg, params } = await loadModel(dir);
  const model = await createLlama(cfg, params, { device: "cpu" });
  const all = [tok.bosId!, ...tok.encode(text)];
  let lp = 0;
  for (const w of scoringWindows(all.length, 1, 8)) {
    const seq = all.slice(w.start, w.end), T = seq.length - 1;
    const targets = new Int32Array(T).fill(-1);
    for (let j = T - w.scored; j < T; j++) targets[j] = seq[j + 1];
    const s = await model.score(await model.forward({ B: 1, T, tokens: seq.slice(0, T) }), targets);
    for (let j = 0; j < T; j++) if (targets[j] >= 0) lp += s.logprob[j];
  }
  assert.ok(all.length > 30);
  assert.ok(Math.abs(got.logprob - lp) < 1e-4, `${got.logprob} vs ${lp}`);
  m.close();
});
