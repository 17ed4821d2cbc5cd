/**
 * `deno task train` through its real command line (deno.json's permissions apply): tokenize,
 * train from a YAML preset, sample, extend, and one-line errors for bad input.
 */

import assert from "node:assert/strict";
import { byteLevelTokenizerJson, learnByteMerges } from "../lib/train/tokenizer.ts";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

async function task(args: string[]): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const out = await runTask(["train", ...args]);
  return { code: out.code, stdout: out.stdout, stderr: taskStderrLines(out.stderr) };
}

Deno.test("deno task train tokenizes, trains from a preset, samples and extends", async () => {
  const rel = `runs/test-tmp/train-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await Deno.mkdir(dir, { recursive: true });
  const texts = ["The quick brown fox jumps over the lazy dog. ", "한국어 문서를 읽고 씁니다. "];
  const docs = Array.from(
    { length: 60 },
    (_, i) => JSON.stringify({ id: `d${i}`, text: texts[i % 2].repeat(3 + (i % 4)), meta: {} }),
  );
  await Deno.writeTextFile(`${dir}/docs.jsonl`, docs.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));

  const tok = await task([
    "tokenize",
    "--quiet",
    "--tokenizer",
    `${rel}/tokenizer.json`,
    "--output",
    `${rel}/all.tok`,
    `${rel}/docs.jsonl`,
  ]);
  assert.equal(tok.code, 0, tok.stderr.join("\n"));
  assert.match(tok.stdout, /60 documents, \d+ tokens/);

  const tr = await task([
    "--quiet",
    "--config",
    "data/configs/train-tiny-base.yaml",
    "--tokenizer",
    `${rel}/tokenizer.json`,
    "--data",
    `en=${rel}/all.tok`,
    "--steps",
    "4",
    "--seq-len",
    "32",
    "--runs-dir",
    `${rel}/runs`,
  ]);
  assert.equal(tr.code, 0, tr.stderr.join("\n"));
  const runDir = [...Deno.readDirSync(`${dir}/runs`)][0].name;
  const model = `${rel}/runs/${runDir}/model`;
  for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
    await Deno.stat(`${ROOT}/${model}/${f}`);
  }
  const metrics = (await Deno.readTextFile(`${dir}/runs/${runDir}/metrics.jsonl`)).trim().split(
    "\n",
  )
    .map((l) => JSON.parse(l));
  assert.deepEqual(metrics.filter((m) => "loss" in m).map((m) => m.step), [1, 2, 3, 4]);
  assert.ok(metrics.some((m) => m.val?.en?.ppl > 1));

  const sample = await task([
    "sample",
    "--model",
    model,
    "--prompt",
    "The",
    "--max-new-tokens",
    "5",
  ]);
  assert.equal(sample.code, 0, sample.stderr.join("\n"));
  assert.match(sample.stdout, /^The/);

  await Deno.writeTextFile(
    `${dir}/bigger.json`,
    JSON.stringify(byteLevelTokenizerJson(learnByteMerges(texts, 8))),
  );
  const ext = await task([
    "extend",
    "--model",
    model,
    "--tokenizer",
    `${rel}/bigger.json`,
    "--output",
    `${rel}/extended`,
  ]);
  assert.equal(ext.code, 0, ext.stderr.join("\n"));
  const m = /vocab 260 → (\d+); (\d+) rows by eeve, 0 from/.exec(ext.stdout);
  assert.ok(m && Number(m[1]) > 260 && Number(m[1]) - 260 === Number(m[2]), ext.stdout);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task train refuses a corrupt shard and a missing model in one line", async () => {
  const rel = `runs/test-tmp/train-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(`${ROOT}/${rel}`, { recursive: true });
  await Deno.writeTextFile(
    `${ROOT}/${rel}/bad.tok`,
    "not a shard at all, but long enough to have a header.".repeat(2),
  );
  const a = await task([
    "--model-config",
    "data/configs/llama-tiny.json",
    "--data",
    `en=${rel}/bad.tok`,
  ]);
  assert.equal(a.code, 2);
  assert.equal(a.stderr.length, 1);
  assert.match(a.stderr[0], /^error: .*bad\.tok: not a valid Jikji token shard: wrong magic/);
  const b = await task(["sample", "--model", `${rel}/nothing`]);
  assert.equal(b.code, 2);
  assert.match(b.stderr.join("\n"), /^error: .*nothing\/config.json: file not found$/);
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});

Deno.test("deno task train sft and dpo run from the command line and refuse bad records in one line", async () => {
  const { saveTinyLlama } = await import("../lib/posttrain/testing.ts");
  const rel = `runs/test-tmp/post-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await saveTinyLlama(`${dir}/base`, { config: { max_position_embeddings: 64 }, chat: true });
  const conv = (q: string, a: string) =>
    JSON.stringify({
      id: q,
      messages: [{ role: "user", content: q }, { role: "assistant", content: a }],
      meta: {},
    });
  await Deno.writeTextFile(
    `${dir}/sft.jsonl`,
    [conv("hi", "hello"), conv("안녕", "반가워요")].join("\n") + "\n",
  );
  const pair = JSON.stringify({
    id: "p",
    prompt: [{ role: "user", content: "hi" }],
    chosen: [{ role: "assistant", content: "hello" }],
    rejected: [{ role: "assistant", content: "go away" }],
    meta: {},
  });
  await Deno.writeTextFile(`${dir}/dpo.jsonl`, pair + "\n");
  const common = [
    "--init-from",
    `${rel}/base`,
    "--steps",
    "2",
    "--seq-len",
    "32",
    "--engine",
    "cpu",
    "--runs-dir",
    rel,
    "--quiet",
  ];
  const sft = await task(["sft", "--data", `${rel}/sft.jsonl`, ...common]);
  assert.equal(sft.code, 0, sft.stderr.join("\n"));
  assert.match(sft.stdout, /run folder: /);
  const dpo = await task(["dpo", "--data", `${rel}/dpo.jsonl`, "--loss", "thunder", ...common]);
  assert.equal(dpo.code, 0, dpo.stderr.join("\n"));
  await Deno.writeTextFile(
    `${dir}/bad.jsonl`,
    conv("a", "b") + "\n" +
      JSON.stringify({ id: "x", messages: [{ role: "robot", content: "hi" }], meta: {} }) + "\n",
  );
  const bad = await task(["sft", "--data", `${rel}/bad.jsonl`, ...common]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.length, 1, bad.stderr.join("\n"));
  assert.match(bad.stderr[0], /bad\.jsonl:2/);
  assert.match(bad.stderr[0], /robot/);
  await saveTinyLlama(`${dir}/nochat`, { config: { max_position_embeddings: 64 } });
  const noTemplate = await task([
    "sft",
    "--data",
    `${rel}/sft.jsonl`,
    ...common.slice(2),
    "--init-from",
    `${rel}/nochat`,
  ]);
  assert.equal(noTemplate.code, 2);
  assert.equal(noTemplate.stderr.length, 1, noTemplate.stderr.join("\n"));
  assert.match(noTemplate.stderr[0], /tokenizer_config\.json/);
  await Deno.remove(dir, { recursive: true });
});
