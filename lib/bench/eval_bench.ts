/**
 * `bench eval`: the `--backend jikji` evaluator on the demo's continued Llama (the newest
 * `runs/demo-…/train/cpt/model`; without one, a random Llama of the tiny preset's shape with the
 * byte-level tokenizer, named so in the note): log-likelihood requests/s (contexts of ~120
 * characters, continuations of ~20, Korean and English) and generated tokens/s (8 prompts, 64
 * new tokens each, greedy, through the KV cache), on the GPU backend with the CPU backend as peer.
 *
 * @module
 */

import { join } from "node:path";
import { writeJsonAtomic } from "../io/atomic.ts";
import { readLlamaConfig } from "../model/config.ts";
import { saveModel } from "../model/hf_folder.ts";
import { initParams, Rng } from "../model/params.ts";
import { JikjiModel } from "../eval/jikji_backend.ts";
import { byteLevelTokenizerJson } from "../train/tokenizer.ts";
import type { BenchResult, BenchSuite } from "./harness.ts";

async function _demoModel(): Promise<{ dir: string; what: string }> {
  const runs: string[] = [];
  try {
    for await (const e of Deno.readDir("runs")) {
      if (e.isDirectory && e.name.startsWith("demo-")) runs.push(e.name);
    }
  } catch { /* no runs yet */ }
  for (const r of runs.sort().reverse()) {
    const dir = join("runs", r, "train", "cpt", "model");
    try {
      await Deno.stat(join(dir, "model.safetensors"));
      return { dir, what: `demo CPT model ${dir}` };
    } catch { /* an unfinished demo */ }
  }
  const dir = "runs/bench-eval-model";
  const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
  await Deno.mkdir(`${dir}/tok`, { recursive: true });
  await writeJsonAtomic(`${dir}/tok/tokenizer.json`, byteLevelTokenizerJson());
  await saveModel(dir, cfg, initParams(cfg, 0), { tokenizerDir: `${dir}/tok` });
  return { dir, what: "random Llama of the tiny preset (no demo run found)" };
}

function _text(rng: Rng, chars: number): string {
  const words = [
    "LibreOffice",
    "문서를",
    "저장합니다",
    "the",
    "table",
    "셀",
    "서식",
    "menu",
    "선택",
  ];
  let s = "";
  while (s.length < chars) s += (s ? " " : "") + words[rng.nextU32() % words.length];
  return s.slice(0, chars);
}

/** The eval suite. */
export const evalBench: BenchSuite = {
  name: "eval",
  summary: "--backend jikji on the demo model: log-likelihood requests/s, generated tokens/s",
  async *run(ctx): AsyncIterable<BenchResult> {
    const { dir, what } = await _demoModel();
    const rng = new Rng(1);
    const n = ctx.quick ? 64 : 256;
    const requests = Array.from({ length: n }, () => ({
      context: _text(rng, 80 + (rng.nextU32() % 80)),
      continuation: " " + _text(rng, 10 + (rng.nextU32() % 20)),
    }));
    const prompts = Array.from({ length: 8 }, () => ({
      prompt: _text(rng, 60),
      until: [],
      maxTokens: ctx.quick ? 16 : 64,
    }));
    const figures: Record<string, { rps: number; tps: number }> = {};
    for (const device of ["gpu", "cpu"]) {
      const m = await JikjiModel.load(dir, { device });
      await m.loglikelihood(requests.slice(0, 8)); // warm-up (pipelines)
      let t0 = performance.now();
      await m.loglikelihood(requests);
      const rps = n / ((performance.now() - t0) / 1000);
      const before = m.counts.generatedTokens;
      t0 = performance.now();
      await m.generate(prompts);
      const tps = (m.counts.generatedTokens - before) / ((performance.now() - t0) / 1000);
      figures[device] = { rps, tps };
      ctx.log(`eval: ${device}: ${rps.toFixed(1)} requests/s, ${tps.toFixed(1)} tokens/s`);
      m.close();
    }
    yield {
      name: "jikji log-likelihood requests (gpu)",
      value: figures.gpu.rps,
      unit: "requests/s",
      peer: "cpu backend",
      peer_value: figures.cpu.rps,
      note: `${n} requests, ~120+20 chars, sorted and batched; ${what}`,
    };
    yield {
      name: "jikji generation, KV cache (gpu)",
      value: figures.gpu.tps,
      unit: "tokens/s",
      peer: "cpu backend",
      peer_value: figures.cpu.tps,
      note: `8 prompts × ${prompts[0].maxTokens} new tokens, greedy, one batch; ${what}`,
    };
  },
};
