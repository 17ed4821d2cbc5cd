/**
 * The training engine: one optimizer step (forward, backward, global-norm clipping, AdamW) and the
 * validation forward, on the one Llama (lib/model/llama.ts) over whichever backend `--engine`
 * picks — `gpu` (WebGPU), `cpu` (the TypeScript references) or `auto`. The precision policy
 * (lib/model/precision.ts) is the model's, so the recipe does not change with the machine.
 * f32 master weights and AdamW moments live on the backend and are handed out for checkpoints.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import { createLlama } from "../model/backend.ts";
import type { Llama } from "../model/llama.ts";
import type { OpName, Ops } from "../model/ops.ts";
import type { Params } from "../model/params.ts";
import { type Precision, precisionPolicy } from "../model/precision.ts";
import type { AdamWConfig } from "./optim.ts";

/** A micro-batch: tokens and targets (B, T), optionally packed documents. */
export interface MicroBatch {
  tokens: Int32Array;
  targets: Int32Array;
  docIds?: Int32Array;
}

/** One FP8 tensor's amax (this step) and scale (for the next). */
export interface Fp8Stat {
  amax: number;
  scale: number;
}

/** What one step reports. */
export interface StepResult {
  loss: number;
  gradNorm: number;
  /** FP8 amax and scale per quantized tensor (fp8 only). */
  fp8?: Map<string, Fp8Stat>;
}

/** Options of {@linkcode createEngine}. */
export interface EngineOptions {
  cfg: LlamaConfig;
  params: Params;
  adam: AdamWConfig;
  moments?: { m: Params; v: Params; t: number; extra?: Params };
  B: number;
  T: number;
  precision: Precision | string;
  fp8Attention?: boolean;
  clip: number;
  /** Ops of a GPU run sent to the CPU reference (debugging). */
  refOps?: OpName[];
  /** Run on these ops instead of the device's (benchmarks of op variants). */
  ops?: Ops<unknown>;
}

/** The engine (see the module doc). */
export class Engine {
  readonly #m = new Map<string, unknown>();
  readonly #v = new Map<string, unknown>();
  #t: number;

  private constructor(readonly model: Llama<unknown>, readonly o: EngineOptions) {
    const { ops } = model;
    this.#t = o.moments?.t ?? 0;
    for (const [name, w] of model.weights) {
      const shape = ops.shape(w);
      const m = o.moments?.m.get(name), v = o.moments?.v.get(name);
      this.#m.set(name, m ? ops.upload(m, shape) : ops.zeros(shape));
      this.#v.set(name, v ? ops.upload(v, shape) : ops.zeros(shape));
    }
    const h = o.moments?.extra?.get("fp8.history"), st = o.moments?.extra?.get("fp8.state");
    if (model.fp8 && h && st) model.fp8.load({ history: h, state: st });
  }

  /** Creates the engine on `device` ("auto", "gpu" or "cpu"). */
  static async create(device: string, o: EngineOptions): Promise<Engine> {
    const precision = typeof o.precision === "string"
      ? precisionPolicy(o.precision, { fp8Attention: o.fp8Attention })
      : o.precision;
    const model = await createLlama(o.cfg, o.params, {
      device,
      refOps: o.refOps,
      precision,
      ops: o.ops,
    });
    return new Engine(model, o);
  }

  /** "gpu" or "cpu" (with the reference ops of a mixed run). */
  get name(): string {
    return this.model.ops.name;
  }

  /** One optimizer step over the micro-batches (gradients averaged), at learning rate `lr`. */
  async step(batches: MicroBatch[], lr: number): Promise<StepResult> {
    const { o } = this;
    return await this.stepWith(lr, async (model, grads) => {
      let loss = 0;
      for (const b of batches) {
        const pass = await model.forward({ B: o.B, T: o.T, tokens: b.tokens, docIds: b.docIds }, {
          grad: true,
        });
        const r = await model.backward(
          pass,
          { targets: b.targets, scale: 1 / batches.length },
          grads,
        );
        loss += r.loss / batches.length;
      }
      return loss;
    });
  }

  /**
   * One optimizer step whose gradients `accumulate` adds into `grads` (through the model's
   * forward and backward, any loss) and whose loss it returns; then clipping, AdamW and the FP8
   * scale update. SFT and preference training use it.
   */
  async stepWith(
    lr: number,
    accumulate: (model: Llama<unknown>, grads: Map<string, unknown>) => Promise<number>,
  ): Promise<StepResult> {
    const { model, o } = this, ops = model.ops;
    const grads = model.zeroGrads();
    const loss = await accumulate(model, grads);
    const clip = await ops.clipByGlobalNorm([...grads.values()], o.clip);
    this.#t++;
    for (const [name, w] of model.weights) {
      const wd = name.endsWith("norm.weight") ? 0 : o.adam.weightDecay;
      await ops.adamw(
        w,
        grads.get(name)!,
        this.#m.get(name)!,
        this.#v.get(name)!,
        {
          lr,
          beta1: o.adam.beta1,
          beta2: o.adam.beta2,
          eps: o.adam.eps,
          weightDecay: wd,
        },
        this.#t,
        clip,
      );
    }
    model.weightsChanged();
    const [gradNorm] = await ops.read(clip);
    ops.free(clip, ...grads.values());
    let fp8: Map<string, Fp8Stat> | undefined;
    if (model.fp8) {
      await model.fp8.update();
      const st = await model.fp8.save(), H = model.fp8.historyLen;
      fp8 = new Map();
      model.fp8.slots.forEach((s, i) =>
        fp8!.set(s.name, { amax: st.history[i * H], scale: st.state[i * 3] })
      );
    }
    return { loss, gradNorm, fp8 };
  }

  /** Summed loss and target count of one batch (no gradients). */
  async evalBatch(b: MicroBatch): Promise<{ sum: number; count: number }> {
    const { model, o } = this;
    const pass = await model.forward({ B: o.B, T: o.T, tokens: b.tokens, docIds: b.docIds });
    const s = await model.score(pass, b.targets);
    model.release(pass);
    let sum = 0, count = 0;
    for (let i = 0; i < b.targets.length; i++) {
      if (b.targets[i] < 0) continue;
      sum -= s.logprob[i];
      count++;
    }
    return { sum, count };
  }

  /** Weights, moments, AdamW step count and FP8 scaling state (CPU copies), for checkpoints. */
  async snapshot(): Promise<{ params: Params; m: Params; v: Params; t: number; extra: Params }> {
    const ops = this.model.ops;
    const read = async (src: Map<string, unknown>) => {
      const out: Params = new Map();
      for (const [k, t] of src) out.set(k, await ops.read(t) as Float32Array);
      return out;
    };
    const extra: Params = new Map();
    if (this.model.fp8) {
      const s = await this.model.fp8.save();
      extra.set("fp8.history", s.history);
      extra.set("fp8.state", s.state);
    }
    return {
      params: await this.model.readParams(),
      m: await read(this.#m),
      v: await read(this.#v),
      t: this.#t,
      extra,
    };
  }

  /** Frees what the engine holds. */
  close(): void {
    this.model.ops.free(...this.#m.values(), ...this.#v.values());
    this.model.destroy();
  }
}

/** Creates the engine named `name`: "cpu", "gpu", or "auto" (the GPU when an adapter answers). */
export async function createEngine(name: string, o: EngineOptions): Promise<Engine> {
  if (!["auto", "cpu", "gpu"].includes(name)) {
    throw new UserError(`engine: expected auto, cpu or gpu, got ${name}`);
  }
  return await Engine.create(name, o);
}
