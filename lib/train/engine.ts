/**
 * Training engines: what runs one optimizer step (forward, backward, clipping, AdamW) and the
 * validation forward. `cpu` is the TypeScript reference (lib/model/llama_ref.ts; precision fp32,
 * bf16 or fp8 emulated by operand rounding); `gpu` runs the model on WebGPU
 * (lib/model/llama_gpu.ts on issue 3's ops; fp32, bf16, or fp8 with delayed scaling) with
 * clipping and AdamW on the GPU too.
 * Both keep f32 master weights and AdamW moments and can hand them out for checkpoints.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import {
  forwardBackward,
  type Fp8Stat,
  type Params,
  type Precision,
  zeroGrads,
} from "../model/llama_ref.ts";
import { AdamW, type AdamWConfig, clipGradNorm } from "./optim.ts";

/** A micro-batch: tokens and targets (B, T). */
export interface MicroBatch {
  tokens: Int32Array;
  targets: Int32Array;
}

/** What one step reports. */
export interface StepResult {
  loss: number;
  gradNorm: number;
  /** FP8 amax and scale per quantized tensor (fp8 only). */
  fp8?: Map<string, Fp8Stat>;
}

/** One engine. */
export interface Engine {
  readonly name: string;
  /** One optimizer step over the micro-batches (gradients averaged), at learning rate `lr`. */
  step(batches: MicroBatch[], lr: number): Promise<StepResult>;
  /** Summed loss and target count of one batch (no gradients). */
  evalBatch(b: MicroBatch): Promise<{ sum: number; count: number }>;
  /** Weights, moments and AdamW step count (copies on the CPU), for checkpoints. */
  snapshot(): Promise<{ params: Params; m: Params; v: Params; t: number; extra?: Params }>;
  /** Frees what the engine holds. */
  close(): void;
}

/** Options shared by the engines. */
export interface EngineOptions {
  cfg: LlamaConfig;
  params: Params;
  adam: AdamWConfig;
  moments?: { m: Params; v: Params; t: number; extra?: Params };
  B: number;
  T: number;
  precision: Precision;
  fp8Attention: boolean;
  clip: number;
}

/** The CPU reference engine. */
export class CpuEngine implements Engine {
  readonly name = "cpu-reference";
  #adam: AdamW;
  constructor(readonly o: EngineOptions) {
    this.#adam = new AdamW(o.adam, o.params);
    if (o.moments) {
      this.#adam.m = o.moments.m;
      this.#adam.v = o.moments.v;
      this.#adam.t = o.moments.t;
    }
  }

  step(batches: MicroBatch[], lr: number): Promise<StepResult> {
    const { cfg, params, B, T, precision } = this.o;
    const grads = zeroGrads(params);
    const fp8 = precision === "fp8" ? new Map<string, Fp8Stat>() : undefined;
    let loss = 0;
    for (const b of batches) {
      const r = forwardBackward(cfg, params, b.tokens, b.targets, B, T, {
        precision,
        grads,
        fp8Stats: fp8,
        fp8Attention: this.o.fp8Attention,
        lossScale: 1 / batches.length,
      });
      loss += r.loss / batches.length;
    }
    const gradNorm = clipGradNorm(grads, this.o.clip);
    this.#adam.step(params, grads, lr);
    return Promise.resolve({ loss, gradNorm, fp8 });
  }

  evalBatch(b: MicroBatch): Promise<{ sum: number; count: number }> {
    const { cfg, params, B, T, precision } = this.o;
    const r = forwardBackward(cfg, params, b.tokens, b.targets, B, T, { precision });
    return Promise.resolve({ sum: r.count ? r.loss * r.count : 0, count: r.count });
  }

  snapshot() {
    return Promise.resolve({
      params: this.o.params,
      m: this.#adam.m,
      v: this.#adam.v,
      t: this.#adam.t,
    });
  }

  close(): void {}
}

/**
 * Creates the engine named `name`: "cpu", "gpu", or "auto" (the GPU when a WebGPU adapter is
 * available and the options are wired there, else the CPU reference).
 */
export async function createEngine(name: string, o: EngineOptions): Promise<Engine> {
  if (o.fp8Attention && o.precision !== "fp8") {
    throw new UserError("--fp8-attention needs --precision fp8");
  }
  if (name === "auto") {
    const { requestGpu } = await import("../gpu/device.ts");
    name = await requestGpu().then(() => "gpu", () => "cpu");
  }
  if (name === "cpu") return new CpuEngine(o);
  if (name === "gpu") {
    const { GpuEngine } = await import("./engine_gpu.ts");
    return await GpuEngine.create(o);
  }
  throw new UserError(`engine: expected auto, cpu or gpu, got ${name}`);
}
