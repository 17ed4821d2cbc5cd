/**
 * `bench train`: one optimizer step (forward, backward, clipping, AdamW) of the one Llama.
 * - the tiny preset (data/configs/llama-tiny.json, B=4, T=64): the GPU engine (WebGPU; llvmpipe
 *   where no GPU exists) against the CPU engine in the same precision;
 * - `bench train124m`: the 124M preset (data/configs/llama-124m.json) with Jikji's merged Korean
 *   vocabulary (137,816 tokens: embedding and head above one 128 MiB binding) for a few steps in
 *   every precision on the GPU engine, beside the CPU engine's step, with the backends' peak
 *   memory; and the GPU step at 124M shapes with residual and gradient additions run as GEMMs
 *   against a (C, C) identity (how the model did them before it had element-wise adds) against
 *   the element-wise adds, in the same run.
 *
 * @module
 */

import type { Tensor } from "../gpu/tensor.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { gpuOps } from "../model/ops_gpu.ts";
import { readLlamaConfig } from "../model/config.ts";
import type { LlamaConfig } from "../model/config.ts";
import type { Ops } from "../model/ops.ts";
import { initParams, Rng } from "../model/params.ts";
import { createEngine, type Engine } from "../train/engine.ts";
import { THUNDER_ADAMW } from "../train/optim.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "./harness.ts";

/** GPU ops whose `add`/`addInto` are GEMMs against a (C, C) identity (the old model's way). */
export function identityGemmAdds(ops: Ops<Tensor>, C: number): Ops<Tensor> {
  const eye = new Float32Array(C * C);
  for (let i = 0; i < C; i++) eye[i * C + i] = 1;
  const I = ops.upload(eye, [C, C]);
  const addInto = async (y: Tensor, x: Tensor, alpha = 1) => {
    if (alpha !== 1 || x.shape[x.shape.length - 1] !== C) return await ops.addInto(y, x, alpha);
    await ops.matmul(ops.view(x, [x.size / C, C]), I, {
      out: ops.view(y, [y.size / C, C]),
      beta: 1,
    });
  };
  return {
    ...ops,
    name: `${ops.name} (identity-GEMM adds)`,
    async add(a, b) {
      const out = ops.zeros(a.shape);
      await ops.addInto(out, a);
      await addInto(out, b);
      return out;
    },
    addInto,
  };
}

function _batch(cfg: LlamaConfig, B: number, T: number) {
  const rng = new Rng(0);
  const tokens = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % cfg.vocab_size);
  return { tokens, targets };
}

async function _engine(
  cfg: LlamaConfig,
  device: string,
  precision: string,
  B: number,
  T: number,
  ops?: Ops<unknown>,
) {
  return await createEngine(device, {
    ops,
    cfg,
    params: initParams(cfg, 0),
    adam: THUNDER_ADAMW,
    B,
    T,
    precision,
    clip: 1,
  });
}

async function _adapter(): Promise<string> {
  return (await getRuntime()).gpu.description;
}

/** The train suite. */
export const trainBench: BenchSuite = {
  name: "train",
  summary: "tiny-preset training step tokens/s: GPU engine vs CPU engine (fp32, bf16, fp8)",
  async *run(ctx): AsyncIterable<BenchResult> {
    const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
    const B = 4, T = 64, batch = _batch(cfg, B, T);
    const reps = ctx.quick ? 2 : 5;
    for (const precision of ["fp32", "bf16", "fp8"]) {
      const tps: Record<string, number> = {};
      for (const name of ["cpu", "gpu"]) {
        const engine = await _engine(cfg, name, precision, B, T);
        const ms = await timeMedian(() => engine.step([batch], 1e-3), reps, 1);
        tps[name] = (B * T) / (ms / 1000);
        engine.close();
        ctx.log(`train: ${name} ${precision} step ${ms.toFixed(1)} ms`);
      }
      yield {
        name: `tiny step ${precision} (gpu engine)`,
        value: tps.gpu,
        unit: "tokens/s",
        peer: `cpu engine, ${precision}`,
        peer_value: tps.cpu,
        note:
          `B=${B} T=${T}, ${cfg.num_hidden_layers} layers, C=${cfg.hidden_size}; ${await _adapter()}`,
      };
    }
  },
};

/** The 124M suite: every precision on the GPU engine beside the CPU engine, with peak memory. */
export const train124mBench: BenchSuite = {
  name: "train124m",
  summary:
    "124M with the merged 137,816-token vocabulary: GPU vs CPU step, peak memory; identity-GEMM adds",
  async *run(ctx): AsyncIterable<BenchResult> {
    const base = await readLlamaConfig("data/configs/llama-124m.json");
    const cfg = { ...base, vocab_size: 137816, max_position_embeddings: 2048 };
    const B = 1, T = ctx.quick ? 32 : 128, batch = _batch(cfg, B, T);
    const steps = ctx.quick ? 2 : 3;
    for (const precision of ["fp32", "bf16", "fp8"]) {
      const res: Record<string, { ms: number; peak: number; loss: number }> = {};
      for (const device of ["gpu", "cpu"]) {
        const engine = await _engine(cfg, device, precision, B, T);
        const times: number[] = [];
        let loss = NaN, first = NaN;
        const n = device === "cpu" ? 1 : steps; // the CPU step takes minutes at this size
        for (let s = 0; s < n; s++) {
          const t0 = performance.now();
          loss = (await engine.step([batch], 1e-4)).loss;
          if (s === 0) first = loss;
          times.push(performance.now() - t0);
          ctx.log(
            `train124m: ${device} ${precision} step ${s + 1}: ${
              times.at(-1)!.toFixed(0)
            } ms, loss ${loss.toFixed(4)}`,
          );
        }
        const peak = engine.model.ops.memory().peak;
        engine.close();
        res[device] = {
          ms: Math.min(...(times.length > 1 ? times.slice(1) : times)),
          peak,
          loss: first,
        };
      }
      yield {
        name: `124M merged-vocab step ${precision} (gpu engine)`,
        value: res.gpu.ms / 1000,
        unit: "s",
        peer: `cpu engine, ${precision}`,
        peer_value: res.cpu.ms / 1000,
        note: `B=${B} T=${T}; gpu: best of steps 2…${steps}, cpu: 1 step; first-step loss gpu ${
          res.gpu.loss.toFixed(4)
        } cpu ${res.cpu.loss.toFixed(4)}; ${await _adapter()}`,
      };
      yield {
        name: `124M merged-vocab peak memory ${precision} (gpu buffers)`,
        value: res.gpu.peak / 2 ** 30,
        unit: "GiB",
        peer: "cpu engine tensors",
        peer_value: res.cpu.peak / 2 ** 30,
      };
    }
    // element-wise adds vs identity GEMMs at 124M shapes (its own 32k vocabulary), alternating
    const small = _batch(base, B, T);
    const ms: Record<string, number> = {};
    for (const variant of ["identity", "add", "identity", "add"]) {
      const gpu = gpuOps(await getRuntime());
      const ops = variant === "identity" ? identityGemmAdds(gpu, base.hidden_size) : gpu;
      const engine: Engine = await _engine(base, "gpu", "bf16", B, T, ops as Ops<unknown>);
      const t = await timeMedian(() => engine.step([small], 1e-3), 1, 1);
      ms[variant] = Math.min(ms[variant] ?? Infinity, t);
      engine.close();
    }
    yield {
      name: "124M (32k vocab) gpu step bf16, element-wise residual adds",
      value: ms.add,
      unit: "ms",
      peer: "the same step with identity-GEMM adds (before)",
      peer_value: ms.identity,
      note: `7 adds per layer as (N, C)·(C, C) GEMMs; B=${B} T=${T}, C=${base.hidden_size}`,
    };
  },
};
