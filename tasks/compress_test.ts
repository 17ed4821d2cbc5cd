/**
 * `deno task train upscale` and `train prune` through their real command line: the folders they
 * write load in `deno task eval --backend jikji` and give the same logits in the PyTorch golden
 * script (lib/model/golden/make_golden.py, float64) as in Jikji; bad targets are refused in one
 * line naming the flag.
 */

import assert from "node:assert/strict";
import { loadModel } from "../lib/model/hf_folder.ts";
import { createLlama } from "../lib/model/backend.ts";
import { pytorchFolderScores } from "../lib/model/golden.ts";
import { saveTinyLlama } from "../lib/posttrain/testing.ts";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

async function task(args: string[]) {
  const out = await runTask(["train", ...args]);
  return { code: out.code, stdout: out.stdout, stderr: taskStderrLines(out.stderr) };
}

/** Logits of `ids` from the PyTorch script, or undefined (said loudly) where torch is missing. */
async function torchLogits(dir: string, ids: number[]): Promise<Float64Array | undefined> {
  const ref = await pytorchFolderScores(dir, [ids]);
  return ref ? Float64Array.from(ref.logits!.flat(2)) : undefined;
}

async function sameLogits(dir: string) {
  const ids = [256, 72, 101, 108, 108, 111, 32, 235, 149, 156];
  const { cfg, params } = await loadModel(dir);
  const m = await createLlama(cfg, params, { device: "cpu" });
  const got = await m.logits(await m.forward({ B: 1, T: ids.length, tokens: ids }));
  m.destroy();
  const want = await torchLogits(dir, ids);
  if (!want) return;
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst < 1e-4, `${dir}: max |jikji − torch| ${worst}`);
}

Deno.test("train upscale and prune write folders that eval --backend jikji and PyTorch read alike", async () => {
  const rel = `runs/test-tmp/compress-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await saveTinyLlama(`${dir}/base`, {
    config: {
      hidden_size: 16,
      intermediate_size: 32,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 4,
      num_hidden_layers: 3,
    },
    seed: 3,
    std: 0.3,
  });
  const texts = ["The quick brown fox jumps over the lazy dog. ", "한국어 문서를 읽고 씁니다. "];
  await Deno.writeTextFile(
    `${dir}/cal.jsonl`,
    texts.map((t, i) => JSON.stringify({ id: `${i}`, text: t.repeat(4), meta: {} })).join("\n"),
  );

  const up = await task([
    "upscale",
    "--model",
    `${rel}/base`,
    "--drop",
    "1",
    "--output",
    `${rel}/up`,
  ]);
  assert.equal(up.code, 0, up.stderr.join("\n"));
  assert.match(up.stdout, /3 → 4 layers/);
  const pr = await task([
    "prune",
    "--model",
    `${rel}/base`,
    "--calibration",
    `${rel}/cal.jsonl`,
    "--samples",
    "8",
    "--seq-len",
    "16",
    "--hidden",
    "12",
    "--ffn",
    "20",
    "--heads",
    "2",
    "--kv-heads",
    "1",
    "--layers",
    "2",
    "--device",
    "cpu",
    "--output",
    `${rel}/pruned`,
  ]);
  assert.equal(pr.code, 0, pr.stderr.join("\n"));
  const imp = JSON.parse(await Deno.readTextFile(`${dir}/pruned/importance.json`));
  assert.equal(imp.heads.length, 3);
  assert.equal(imp.kept.layers.length, 2);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/pruned/config.json`));
  assert.deepEqual(
    [cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads, cfg.num_key_value_heads],
    [12, 20, 2, 1],
  );
  await Deno.stat(`${dir}/pruned/tokenizer.json`);

  for (const m of ["up", "pruned"]) {
    await sameLogits(`${dir}/${m}`);
    await Deno.mkdir(`${dir}/${m}-eval`);
    await Deno.writeTextFile(
      `${dir}/${m}-eval/mc.jsonl`,
      JSON.stringify({ q: "Sky is", choices: [" blue", " green"], gold: 0 }),
    );
    await Deno.writeTextFile(
      `${dir}/${m}-eval/mc.yaml`,
      'task: mc\ndataset_path: mc.jsonl\noutput_type: multiple_choice\ndoc_to_text: "{{ q }}"\n' +
        'doc_to_choice: "{{ choices }}"\ndoc_to_target: "{{ gold }}"\nmetric_list: [{metric: acc}]\n',
    );
    const ev = await runTask([
      "eval",
      "run",
      `${rel}/${m}-eval/mc.yaml`,
      "--backend",
      "jikji",
      "--model",
      `${rel}/${m}`,
      "--device",
      "cpu",
      "--data-root",
      `${rel}/${m}-eval`,
      "--runs-dir",
      `${rel}/runs`,
      "--quiet",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, new RegExp(`# Jikji eval: jikji:${m}-[0-9a-f]{12}`));
    assert.match(ev.stdout, /\| mc \| 0 \| acc \| {2}\| [01]\.0000 \|/);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train prune and upscale refuse targets that cannot hold in one line naming the flag", async () => {
  const rel = `runs/test-tmp/compress-${crypto.randomUUID().slice(0, 8)}`;
  await saveTinyLlama(`${ROOT}/${rel}/base`, {
    config: { num_attention_heads: 4, num_key_value_heads: 2, head_dim: 4 },
  });
  await Deno.writeTextFile(
    `${ROOT}/${rel}/cal.jsonl`,
    '{"id":"a","text":"hello there","meta":{}}\n',
  );
  const prune = (extra: string[]) =>
    task([
      "prune",
      "--model",
      `${rel}/base`,
      "--calibration",
      `${rel}/cal.jsonl`,
      "--output",
      `${rel}/out`,
      ...extra,
    ]);
  for (
    const [flags, re] of [
      [["--heads", "8"], /^error: --heads 8: the model has 4 attention heads/],
      [["--heads", "4", "--kv-heads", "3"], /^error: --kv-heads 3: the model has 2/],
      [["--heads", "3"], /^error: --kv-heads 2: must divide --heads 3/],
      [["--hidden", "99"], /^error: --hidden 99/],
    ] as const
  ) {
    const r = await prune([...flags]);
    assert.equal(r.code, 2, flags.join(" "));
    assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
    assert.match(r.stderr[0], re);
  }
  const up = await task([
    "upscale",
    "--model",
    `${rel}/base`,
    "--drop",
    "1",
    "--output",
    `${rel}/u`,
  ]);
  assert.equal(up.code, 2);
  assert.match(up.stderr[0], /^error: --drop 1: expected an integer from 0 to 0/);
  const map = await task([
    "upscale",
    "--model",
    `${rel}/base`,
    "--layer-map",
    "0-1",
    "--output",
    `${rel}/u`,
  ]);
  assert.equal(map.code, 2);
  assert.match(map.stderr[0], /^error: --layer-map 0-1: layer 1 does not exist/);
  await assert.rejects(() => Deno.stat(`${ROOT}/${rel}/out`));
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});
