/**
 * The GPU training engine: LlamaGpu's forward/backward (fp32, bf16, or fp8 with delayed scaling,
 * whose amax history advances once per optimizer step), global-norm clipping and AdamW on the GPU
 * (issue 3's ops), f32 master weights and moments resident on the device.
 *
 * @module
 */

import { getRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import { free, fromArray, type Tensor, toF32, zeros } from "../gpu/tensor.ts";
import { adamw, clipByGlobalNorm } from "../ops/optim.ts";
import { LlamaGpu } from "../model/llama_gpu.ts";
import { type Fp8Stat, type Params, paramShapes } from "../model/llama_ref.ts";
import type { Engine, EngineOptions, MicroBatch, StepResult } from "./engine.ts";

/** The GPU engine (see the module doc). */
export class GpuEngine implements Engine {
  readonly name = "gpu";
  #m = new Map<string, Tensor>();
  #v = new Map<string, Tensor>();
  #t: number;

  private constructor(
    readonly rt: GpuRuntime,
    readonly model: LlamaGpu,
    readonly o: EngineOptions,
  ) {
    this.#t = o.moments?.t ?? 0;
    for (const [name, shape] of paramShapes(o.cfg)) {
      const m = o.moments?.m.get(name), v = o.moments?.v.get(name);
      this.#m.set(name, m ? fromArray(rt, m, shape) : zeros(rt, shape));
      this.#v.set(name, v ? fromArray(rt, v, shape) : zeros(rt, shape));
    }
  }

  /** Uploads the model and moments (and the FP8 scaling state of a resumed fp8 run). */
  static async create(o: EngineOptions): Promise<GpuEngine> {
    const rt = await getRuntime();
    const model = new LlamaGpu(rt, o.cfg, o.params, o.precision, {
      fp8Attention: o.fp8Attention,
    });
    const h = o.moments?.extra?.get("fp8.history"), st = o.moments?.extra?.get("fp8.state");
    if (model.fp8 && h && st) {
      rt.write(model.fp8.history, h);
      rt.write(model.fp8.state, st);
    }
    return new GpuEngine(rt, model, o);
  }

  async step(batches: MicroBatch[], lr: number): Promise<StepResult> {
    const { rt, model, o } = this;
    const grads = model.zeroGrads();
    let loss = 0;
    for (const b of batches) {
      const r = await model.lossAndGrads(b.tokens, b.targets, o.B, o.T, grads, 1 / batches.length);
      loss += r.loss / batches.length;
    }
    const clip = clipByGlobalNorm(rt, [...grads.values()], o.clip);
    this.#t++;
    for (const [name, w] of model.weights) {
      const wd = name.endsWith("norm.weight") ? 0 : o.adam.weightDecay;
      adamw(
        rt,
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
    const [gradNorm] = await rt.readF32(clip, 2);
    rt.release(clip);
    free(rt, ...grads.values());
    let fp8: Map<string, Fp8Stat> | undefined;
    if (model.fp8) {
      model.fp8.update();
      const st = await model.fp8.read();
      fp8 = new Map();
      model.fp8.slots.forEach((s, i) =>
        fp8!.set(s.name, { amax: st.history[i][0], scale: st.scale[i] })
      );
    }
    return { loss, gradNorm, fp8 };
  }

  async evalBatch(b: MicroBatch): Promise<{ sum: number; count: number }> {
    const { o } = this;
    const N = o.B * o.T, V = o.cfg.vocab_size;
    const logits = await this.model.logits(b.tokens, o.B, o.T);
    let sum = 0, count = 0;
    for (let n = 0; n < N; n++) {
      const tg = b.targets[n];
      if (tg < 0) continue;
      let m = -Infinity;
      for (let i = 0; i < V; i++) m = Math.max(m, logits[n * V + i]);
      let z = 0;
      for (let i = 0; i < V; i++) z += Math.exp(logits[n * V + i] - m);
      sum += Math.log(z) + m - logits[n * V + tg];
      count++;
    }
    return { sum, count };
  }

  async snapshot() {
    const params: Params = await this.model.readParams();
    const m: Params = new Map(), v: Params = new Map();
    for (const [k, t] of this.#m) m.set(k, await toF32(this.rt, t));
    for (const [k, t] of this.#v) v.set(k, await toF32(this.rt, t));
    const extra: Params = new Map();
    const fp8 = this.model.fp8;
    if (fp8) {
      const n = fp8.slots.length;
      extra.set("fp8.history", await this.rt.readF32(fp8.history, n * fp8.historyLen));
      extra.set("fp8.state", await this.rt.readF32(fp8.state, n * 3));
    }
    return { params, m, v, t: this.#t, extra };
  }

  close(): void {
    free(this.rt, ...this.#m.values(), ...this.#v.values());
    this.model.destroy();
  }
}
