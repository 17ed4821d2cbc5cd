/**
 * Plain reference for delayed scaling (kernels/fp8_scale.wgsl): one slot's amax history update and
 * scale, in f32 like the GPU, and the CPU scaling state built on it.
 *
 * @module
 */

import { FP8, type Fp8Format, fromFp8, toFp8 } from "./cast.ts";

/**
 * Pushes `amaxNow` into `history` (newest first, in place) and returns the new `[scale,
 * scaleInv]`, or the old ones when the history's max is 0 or not finite.
 */
export function delayedScalingRef(
  history: Float32Array,
  amaxNow: number,
  fp8Max: number,
  margin: number,
  old: [number, number],
): [number, number] {
  history.copyWithin(1, 0, history.length - 1);
  history[0] = amaxNow;
  let amax = 0;
  for (const v of history) amax = Math.max(amax, v);
  if (!(amax > 0 && amax < 3.4e38)) return old;
  const scale = Math.fround(Math.fround(fp8Max / amax) / Math.fround(2 ** margin));
  return [scale, Math.fround(1 / scale)];
}

/**
 * The CPU twin of lib/ops/fp8.ts `Fp8Scaling`: per-slot amax history, scale and inverse scale
 * (f32, scales start at 1), the same quantization (`fp8(x·scale)`, satfinite, nearest even) and
 * the same update, so a model run on either backend rounds at the same points with the same scales.
 */
export class Fp8ScalingRef {
  readonly amaxNow: Float32Array;
  /** (S·H) newest first per slot. */
  readonly history: Float32Array;
  /** (S·3): scale, scaleInv, fp8 max per slot. */
  readonly state: Float32Array;
  #index = new Map<string, number>();
  constructor(
    readonly slots: { name: string; format: Fp8Format }[],
    readonly historyLen = 16,
    readonly margin = 0,
  ) {
    slots.forEach((s, i) => this.#index.set(s.name, i));
    this.amaxNow = new Float32Array(slots.length);
    this.history = new Float32Array(slots.length * historyLen);
    this.state = new Float32Array(slots.length * 3);
    slots.forEach((s, i) => this.state.set([1, 1, FP8[s.format].max], i * 3));
  }

  /** The slot index of `name`. */
  slot(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) throw new Error(`Fp8ScalingRef: no slot "${name}"`);
    return i;
  }

  /** The values `x` takes in the slot's format (decoded code × scaleInv); records the amax. */
  quantize(x: ArrayLike<number>, name: string): Float32Array {
    const i = this.slot(name);
    const fmt = this.slots[i].format;
    const scale = this.state[i * 3], inv = this.state[i * 3 + 1];
    const out = new Float32Array(x.length);
    let amax = this.amaxNow[i];
    for (let j = 0; j < x.length; j++) {
      const v = x[j];
      const a = Math.abs(v);
      if (a > amax && a < Infinity) amax = a;
      out[j] = fromFp8(toFp8(Math.fround(v * scale), fmt), fmt) * inv;
    }
    this.amaxNow[i] = amax;
    return out;
  }

  /** Pushes this step's amaxes into the histories and recomputes the scales. */
  update(): void {
    const H = this.historyLen;
    this.slots.forEach((_, i) => {
      const h = this.history.subarray(i * H, (i + 1) * H);
      const old: [number, number] = [this.state[i * 3], this.state[i * 3 + 1]];
      const [s, si] = delayedScalingRef(
        h,
        this.amaxNow[i],
        this.state[i * 3 + 2],
        this.margin,
        old,
      );
      this.state[i * 3] = s;
      this.state[i * 3 + 1] = si;
      this.amaxNow[i] = 0;
    });
  }
}
