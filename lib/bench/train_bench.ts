/**
 * `bench train`: training throughput of the tiny preset (data/configs/llama-tiny.json) on the
 * trainer's CPU reference path — one optimizer step (forward, backward, AdamW) on B=4, T=64 —
 * in bf16 and fp8 against fp32 measured in the same run (the cost of the operand rounding the
 * CPU path emulates). The GPU path is not wired in yet, so there is no GPU figure here.
 *
 * @module
 */

import { readLlamaConfig } from "../model/config.ts";
import { forwardBackward, initParams, Rng, zeroGrads } from "../model/llama_ref.ts";
import { AdamW, THUNDER_ADAMW } from "../train/optim.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "./harness.ts";

/** The train suite. */
export const trainBench: BenchSuite = {
  name: "train",
  summary: "tiny-preset training step tokens/s on the CPU path (fp32, bf16, fp8)",
  async *run(ctx): AsyncIterable<BenchResult> {
    const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
    const B = 4, T = 64;
    const rng = new Rng(0);
    const tokens = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
    const targets = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
    const reps = ctx.quick ? 2 : 5;
    const tps: Record<string, number> = {};
    for (const precision of ["fp32", "bf16", "fp8"] as const) {
      const params = initParams(cfg, 0);
      const opt = new AdamW(THUNDER_ADAMW, params);
      const ms = await timeMedian(
        () => {
          const grads = zeroGrads(params);
          forwardBackward(cfg, params, tokens, targets, B, T, { grads, precision });
          opt.step(params, grads, 1e-3);
          return Promise.resolve();
        },
        reps,
        1,
      );
      tps[precision] = (B * T) / (ms / 1000);
      ctx.log(`train: ${precision} step ${ms.toFixed(1)} ms`);
      yield {
        name: `tiny step ${precision} (cpu path)`,
        value: tps[precision],
        unit: "tokens/s",
        ...(precision === "fp32" ? {} : { peer: "same step in fp32", peer_value: tps.fp32 }),
        note: `B=${B} T=${T}, ${cfg.num_hidden_layers} layers, C=${cfg.hidden_size}`,
      };
    }
  },
};
