/**
 * The kill -9 / resume test: a tiny fp8 training run is started as a subprocess through the real
 * task entry, killed with SIGKILL between checkpoints, resumed with `--resume`, and its per-step
 * losses must equal, bit for bit, those of a run that was never interrupted — on the CPU engine
 * and on the GPU engine (whose checkpoints carry the FP8 delayed-scaling state).
 */

import assert from "node:assert/strict";
import { readJsonlLog } from "../run/run_folder.ts";
import { ShardWriter } from "./shards.ts";
import { Rng } from "../model/params.ts";
import { gpuTest } from "../gpu/testing.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function makeData(dir: string) {
  const cfg = {
    hidden_size: 16,
    intermediate_size: 32,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    num_hidden_layers: 1,
    vocab_size: 40,
    tie_word_embeddings: true,
    max_position_embeddings: 64,
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
  const rng = new Rng(1);
  for (const [name, lo] of [["en", 0], ["ko", 20]] as const) {
    const w = await ShardWriter.open(`${dir}/${name}.tok`, 40, 39);
    for (let d = 0; d < 40; d++) {
      // a learnable pattern: runs of increasing ids
      const start = lo + (rng.nextU32() % 10);
      await w.addDoc(Array.from({ length: 30 }, (_, i) => start + (i % 9)));
    }
    await w.close();
  }
}

function args(dir: string, runsDir: string, extra: string[] = [], engine = "cpu", steps = 30) {
  return [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    `${ROOT}tasks/train.ts`,
    "--quiet",
    "--model-config",
    `${dir}/config.json`,
    "--data",
    `en=${dir}/en.tok`,
    "--data",
    `ko=${dir}/ko.tok`,
    "--steps",
    String(steps),
    "--batch-size",
    "2",
    "--seq-len",
    "16",
    "--grad-accum",
    "2",
    "--warmup-steps",
    "3",
    "--ckpt-every",
    "3",
    "--eval-every",
    "5",
    "--precision",
    "fp8",
    "--runs-dir",
    runsDir,
    "--engine",
    engine,
    ...extra,
  ];
}

async function runToEnd(a: string[]) {
  const out = await new Deno.Command(Deno.execPath(), { args: a, stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

async function onlyDir(runsDir: string): Promise<string> {
  const dirs = [];
  for await (const e of Deno.readDir(runsDir)) if (e.isDirectory) dirs.push(`${runsDir}/${e.name}`);
  assert.equal(dirs.length, 1);
  return dirs[0];
}

async function lossesByStep(runDir: string): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (const r of await readJsonlLog(`${runDir}/metrics.jsonl`)) {
    if (typeof r.loss === "number") m.set(r.step as number, r.loss);
  }
  return m;
}

async function killAndResume(engine: string, steps: number) {
  const dir = await Deno.makeTempDir();
  await makeData(dir);
  await runToEnd(args(dir, `${dir}/ref`, [], engine, steps));
  const ref = await lossesByStep(await onlyDir(`${dir}/ref`));
  assert.equal(ref.size, steps);

  const child = new Deno.Command(Deno.execPath(), {
    args: args(dir, `${dir}/kill`, [], engine, steps),
    stdout: "null",
    stderr: "null",
  }).spawn();
  let runDir = "";
  let killedAt = 0;
  for (let i = 0; i < 600 && !killedAt; i++) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      runDir ||= await onlyDir(`${dir}/kill`);
      const text = await Deno.readTextFile(`${runDir}/metrics.jsonl`);
      const steps = [...text.matchAll(/"step":(\d+),"loss"/g)].map((m) => Number(m[1]));
      if (steps.length && Math.max(...steps) >= 7) {
        child.kill("SIGKILL");
        killedAt = Math.max(...steps);
      }
    } catch { /* not there yet */ }
  }
  const status = await child.status;
  assert.ok(killedAt > 0, "the run finished before it could be killed");
  assert.equal(status.signal, "SIGKILL");
  assert.ok(killedAt < steps, `killed at step ${killedAt}`);
  await assert.rejects(() => Deno.stat(`${runDir}/summary.json`));

  await runToEnd(args(dir, `${dir}/kill`, ["--resume", runDir], engine, steps));
  const resumed = await lossesByStep(runDir);
  assert.equal(resumed.size, steps);
  const recorded = (await readJsonlLog(`${runDir}/metrics.jsonl`))
    .filter((r) => typeof r.loss === "number").map((r) => r.step);
  assert.equal(new Set(recorded).size, recorded.length, "a step recorded twice in metrics.jsonl");
  for (const [step, loss] of ref) assert.equal(resumed.get(step), loss, `step ${step}`);
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.ok(summary.resumed_from_step >= 6 && summary.resumed_from_step <= killedAt);
  await Deno.remove(dir, { recursive: true });
}

Deno.test("train --resume after kill -9 yields the same losses as an uninterrupted run (cpu, fp8)", () =>
  killAndResume("cpu", 30));

gpuTest(
  "train --resume after kill -9 yields the same losses as an uninterrupted run (gpu, fp8 with its amax history)",
  () => killAndResume("gpu", 14),
);
