/**
 * FP8 training following Transformer Engine's HYBRID recipe, as Thunder-LLM used it: weights and
 * activations are cast to E4M3 in the forward pass, gradients to E5M2 in the backward pass, each
 * with a per-tensor scale from delayed scaling — the scale used at step t comes from the amax
 * history of earlier steps (length 16 by default, margin 0), amaxes are reduced on the GPU while
 * casting (kernels/cast.wgsl) and the history and scales are updated on the GPU
 * (kernels/fp8_scale.wgsl). Products accumulate in f32 (kernels/gemm.wgsl decodes the codes).
 *
 * @example
 * ```ts ignore
 * const fp8 = new Fp8Scaling(rt, ["x", "w", "dy"]); // one slot per tensor role
 * const y = fp8Linear(rt, fp8, x, w, { x: "x", w: "w" }); // y = x·wᵀ in E4M3
 * fp8.update(); // once per optimizer step, after forward and backward
 * ```
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { expectTensor, free, type Tensor } from "../gpu/tensor.ts";
import { type GpuScalar, quantizeFp8 } from "./cast.ts";
import { matmul } from "./gemm.ts";
import { FP8, type Fp8Format } from "./ref/cast.ts";

/** Options of {@linkcode Fp8Scaling}. */
export interface Fp8ScalingOptions {
  /** Amax history length (Transformer Engine's `amax_history_len`; default 16). */
  historyLen?: number;
  /** Scale margin in powers of two (default 0). */
  margin?: number;
}

/** A slot: one tensor role with its format ("e4m3" forward, "e5m2" gradients under HYBRID). */
export interface Fp8Slot {
  name: string;
  format: Fp8Format;
}

/** Per-tensor FP8 scaling state on the GPU (see the module doc). */
export class Fp8Scaling {
  readonly slots: Fp8Slot[];
  readonly historyLen: number;
  readonly margin: number;
  /** u32[S]: this step's amax bits per slot. */
  readonly amaxNow: GPUBuffer;
  /** f32[S*H]: amax history, newest first. */
  readonly history: GPUBuffer;
  /** f32[S*3]: scale, scaleInv, fp8 max per slot. */
  readonly state: GPUBuffer;
  #rt: GpuRuntime;
  #index = new Map<string, number>();

  /**
   * Makes the state; `slots` are names (format from the name: a slot named `d…` or `grad…` is a
   * gradient → E5M2, otherwise E4M3) or explicit {@linkcode Fp8Slot}s. Scales start at 1.
   */
  constructor(rt: GpuRuntime, slots: (string | Fp8Slot)[], opts: Fp8ScalingOptions = {}) {
    this.#rt = rt;
    this.slots = slots.map((s) =>
      typeof s === "string" ? { name: s, format: /^(d|grad)/.test(s) ? "e5m2" : "e4m3" } : s
    );
    this.historyLen = opts.historyLen ?? 16;
    this.margin = opts.margin ?? 0;
    if (!Number.isInteger(this.historyLen) || this.historyLen < 1) {
      throw new GpuUsageError(`Fp8Scaling: historyLen must be a positive integer`);
    }
    this.slots.forEach((s, i) => {
      if (this.#index.has(s.name)) throw new GpuUsageError(`Fp8Scaling: slot "${s.name}" twice`);
      this.#index.set(s.name, i);
    });
    const n = this.slots.length;
    this.amaxNow = rt.upload(new Uint32Array(n));
    this.history = rt.upload(new Float32Array(n * this.historyLen));
    const st = new Float32Array(n * 3);
    this.slots.forEach((s, i) => st.set([1, 1, FP8[s.format].max], i * 3));
    this.state = rt.upload(st);
  }

  /** The slot index of `name`. */
  slot(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) {
      throw new GpuUsageError(`Fp8Scaling: no slot "${name}" (have ${[...this.#index.keys()]})`);
    }
    return i;
  }

  /** Where the quantizing scale of `name` lives. */
  scale(name: string): GpuScalar {
    return { buffer: this.state, index: this.slot(name) * 3 };
  }

  /** Where the inverse scale of `name` lives (what GEMMs multiply by). */
  scaleInv(name: string): GpuScalar {
    return { buffer: this.state, index: this.slot(name) * 3 + 1 };
  }

  /** Casts an f32 tensor to the slot's format with its current scale, recording its amax. */
  quantize(x: Tensor, name: string, out?: Tensor): Tensor {
    const i = this.slot(name);
    return quantizeFp8(this.#rt, x, this.slots[i].format, this.scale(name), {
      buffer: this.amaxNow,
      index: i,
    }, out);
  }

  /** Pushes this step's amaxes into the histories and recomputes every scale (on the GPU). */
  update(): void {
    const p = new Uint32Array(4);
    p[0] = this.slots.length;
    p[1] = this.historyLen;
    new Float32Array(p.buffer)[2] = 2 ** this.margin;
    const pipe = this.#rt.kernel("fp8_scale", "update");
    this.#rt.dispatch(pipe, [this.amaxNow, this.history, this.state, this.#rt.uniform(p)], [
      Math.ceil(this.slots.length / 64),
    ]);
  }

  /** Reads the state back (for tests, logs and checkpoints). */
  async read(): Promise<{ scale: number[]; scaleInv: number[]; history: Float32Array[] }> {
    const st = await this.#rt.readF32(this.state, this.slots.length * 3);
    const h = await this.#rt.readF32(this.history, this.slots.length * this.historyLen);
    return {
      scale: this.slots.map((_, i) => st[i * 3]),
      scaleInv: this.slots.map((_, i) => st[i * 3 + 1]),
      history: this.slots.map((_, i) => h.slice(i * this.historyLen, (i + 1) * this.historyLen)),
    };
  }

  /** Frees the GPU buffers. */
  destroy(): void {
    for (const b of [this.amaxNow, this.history, this.state]) this.#rt.release(b);
  }
}

/** Slot names of one FP8 linear layer. */
export interface Fp8LinearSlots {
  /** input activations (E4M3) */
  x: string;
  /** weight (E4M3) */
  w: string;
  /** output gradient (E5M2); needed by the backward only */
  dy?: string;
}

/**
 * Forward of a linear layer in FP8: `y = x · wᵀ` with x `(T, C)`, w `(OC, C)` → y `(T, OC)` f32.
 * Returns y and the quantized operands, which the backward reuses (free them after).
 */
export function fp8Linear(
  rt: GpuRuntime,
  fp8: Fp8Scaling,
  x: Tensor,
  w: Tensor,
  slots: Fp8LinearSlots,
): { y: Tensor; xq: Tensor; wq: Tensor } {
  expectTensor("fp8Linear x", x, "f32", [undefined, w.shape[1]]);
  expectTensor("fp8Linear w", w, "f32", [undefined, undefined]);
  const xq = fp8.quantize(x, slots.x);
  const wq = fp8.quantize(w, slots.w);
  const y = matmul(rt, xq, wq, {
    transB: true,
    scaleInvA: fp8.scaleInv(slots.x),
    scaleInvB: fp8.scaleInv(slots.w),
  });
  return { y, xq, wq };
}

/**
 * Backward of {@linkcode fp8Linear}: dy `(T, OC)` f32 is cast to E5M2; returns dx = dy·w `(T, C)`
 * and dw = dyᵀ·x `(OC, C)` (f32; with `dwAccum` given, dw is added into it).
 */
export function fp8LinearBackward(
  rt: GpuRuntime,
  fp8: Fp8Scaling,
  dy: Tensor,
  saved: { xq: Tensor; wq: Tensor },
  slots: Fp8LinearSlots,
  dwAccum?: Tensor,
): { dx: Tensor; dw: Tensor } {
  if (!slots.dy) throw new GpuUsageError("fp8LinearBackward: slots.dy is needed");
  expectTensor("fp8LinearBackward dy", dy, "f32", [saved.xq.shape[0], saved.wq.shape[0]]);
  const dyq = fp8.quantize(dy, slots.dy);
  const sdy = fp8.scaleInv(slots.dy);
  const dx = matmul(rt, dyq, saved.wq, { scaleInvA: sdy, scaleInvB: fp8.scaleInv(slots.w) });
  const dw = matmul(rt, dyq, saved.xq, {
    transA: true,
    scaleInvA: sdy,
    scaleInvB: fp8.scaleInv(slots.x),
    out: dwAccum,
    beta: dwAccum ? 1 : 0,
  });
  free(rt, dyq);
  return { dx, dw };
}
