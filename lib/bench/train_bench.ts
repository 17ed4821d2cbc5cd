/**
 * `bench train`: training throughput of the tiny preset (data/configs/llama-tiny.json) — one
 * optimizer step (forward, backward, clipping, AdamW) on B=4, T=64 — on the GPU engine (WebGPU
 * through issue 3's ops; on llvmpipe where no GPU exists) against the CPU reference engine in the
 * same precision, measured in the same run.
 *
 * @module
 */

import { readLlamaConfig } from "../model/config.ts";
import { initParams, type Precision, Rng } from "../model/llama_ref.ts";
import { createEngine } from "../train/engine.ts";
import { THUNDER_ADAMW } from "../train/optim.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "./harness.ts";

/** The train suite. */
export const trainBench: BenchSuite = {
  name: "train",
  summary: "tiny-preset training step tokens/s: GPU engine vs CPU reference (fp32, bf16, fp8)",
  async *run(ctx): AsyncIterable<BenchResult> {
    const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
    const B = 4, T = 64;
    const rng = new Rng(0);
    const tokens = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
    const targets = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
    const reps = ctx.quick ? 2 : 5;
    for (const precision of ["fp32", "bf16", "fp8"] as Precision[]) {
      const tps: Record<string, number> = {};
      let adapter = "";
      for (const name of ["cpu", "gpu"]) {
        const engine = await createEngine(name, {
          cfg,
          params: initParams(cfg, 0),
          adam: THUNDER_ADAMW,
          B,
          T,
          precision,
          fp8Attention: false,
          clip: 1,
        });
        const ms = await timeMedian(() => engine.step([{ tokens, targets }], 1e-3), reps, 1);
        tps[name] = (B * T) / (ms / 1000);
        if (name === "gpu") {
          const { getRuntime } = await import("../gpu/runtime.ts");
          adapter = (await getRuntime()).gpu.description;
        }
        engine.close();
        ctx.log(`train: ${name} ${precision} step ${ms.toFixed(1)} ms`);
      }
      yield {
        name: `tiny step ${precision} (gpu engine)`,
        value: tps.gpu,
        unit: "tokens/s",
        peer: `cpu reference engine, ${precision}`,
        peer_value: tps.cpu,
        note: `B=${B} T=${T}, ${cfg.num_hidden_layers} layers, C=${cfg.hidden_size}; ${adapter}`,
      };
    }
  },
};
