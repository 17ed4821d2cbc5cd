/**
 * Format conversion on the GPU (kernels/cast.wgsl): f32 → packed FP8 with a per-tensor scale and a
 * fused amax, packed FP8 → f32, and f32 ↔ packed BF16. Bit-exact with lib/ops/ref/cast.ts.
 * Tensors larger than one storage binding are converted in chunks of a multiple of 1024 elements
 * ({@linkcode elementRanges}), each bound as its own byte range, so the kernels index from 0.
 *
 * @module
 */

import { type GpuRuntime, grid1d } from "../gpu/runtime.ts";
import {
  type BindingOptions,
  elementRanges,
  elementView,
  empty,
  expectTensor,
  Tensor,
} from "../gpu/tensor.ts";
import type { Fp8Format } from "./ref/cast.ts";

/** Where a scale (or amax) lives on the GPU: an f32 (u32 for amax) array and an index into it. */
export interface GpuScalar {
  buffer: GPUBuffer;
  index: number;
}

const FMT = { e4m3: 0, e5m2: 1 } as const;

/**
 * Quantizes an f32 tensor to FP8: `code = fp8(x * scale)`; also raises `amax` (f32 bits in a u32
 * slot, atomic max) to max |x| over finite values. Returns a new tensor of `format`. Tensors above
 * one binding are converted in chunks (the amax slot is one small binding shared by all).
 */
export function quantizeFp8(
  rt: GpuRuntime,
  x: Tensor,
  format: Fp8Format,
  scale: GpuScalar,
  amax: GpuScalar,
  out?: Tensor,
  opts: BindingOptions = {},
): Tensor {
  expectTensor("quantizeFp8 x", x, "f32");
  const y = out ?? empty(rt, x.shape, format);
  expectTensor("quantizeFp8 out", y, format, x.shape);
  const pipe = rt.kernel("cast", "quantize_fp8", { FMT: FMT[format] });
  for (const [s, n] of elementRanges(x.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, scale.index, amax.index, 0]));
    const binds = [elementView(x, s, n), elementView(y, s, n), scale.buffer, p, amax.buffer];
    rt.dispatch(pipe, binds, grid1d(Math.ceil(n / 4), 256));
  }
  return y;
}

/** Decodes an FP8 tensor to f32, multiplying by `scaleInv` (skipped when it is exactly 1). */
export function dequantizeFp8(
  rt: GpuRuntime,
  x: Tensor,
  scaleInv: GpuScalar,
  opts: BindingOptions = {},
): Tensor {
  expectTensor("dequantizeFp8 x", x, ["e4m3", "e5m2"]);
  const y = empty(rt, x.shape, "f32");
  const pipe = rt.kernel("cast", "dequantize_fp8", { FMT: FMT[x.dtype as Fp8Format] });
  for (const [s, n] of elementRanges(x.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, scaleInv.index, 0, 0]));
    const binds = [elementView(x, s, n), elementView(y, s, n), scaleInv.buffer, p];
    rt.dispatch(pipe, binds, grid1d(n, 256));
  }
  return y;
}

/** Rounds an f32 tensor to packed BF16 (nearest even). */
export function toBf16(
  rt: GpuRuntime,
  x: Tensor,
  out?: Tensor,
  opts: BindingOptions = {},
): Tensor {
  expectTensor("toBf16 x", x, "f32");
  const y = out ?? empty(rt, x.shape, "bf16");
  expectTensor("toBf16 out", y, "bf16", x.shape);
  const pipe = rt.kernel("cast", "encode_bf16");
  for (const [s, n] of elementRanges(x.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, 0, 0, 0]));
    const binds = [elementView(x, s, n), elementView(y, s, n), undefined, p];
    rt.dispatch(pipe, binds, grid1d(Math.ceil(n / 2), 256));
  }
  return y;
}

/** Widens a packed BF16 tensor to f32 (exact). */
export function fromBf16(
  rt: GpuRuntime,
  x: Tensor,
  out?: Tensor,
  opts: BindingOptions = {},
): Tensor {
  expectTensor("fromBf16 x", x, "bf16");
  const y = out ?? empty(rt, x.shape, "f32");
  expectTensor("fromBf16 out", y, "f32", x.shape);
  const pipe = rt.kernel("cast", "decode_bf16");
  for (const [s, n] of elementRanges(x.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, 0, 0, 0]));
    const binds = [elementView(x, s, n), elementView(y, s, n), undefined, p];
    rt.dispatch(pipe, binds, grid1d(n, 256));
  }
  return y;
}

/** A reusable small f32 array on the GPU (scales), initialised to `values`. */
export function scalars(rt: GpuRuntime, values: ArrayLike<number>): GPUBuffer {
  return rt.upload(Float32Array.from(values));
}

/** Wraps raw f32 bit patterns as an f32 tensor (tests of NaN/Inf handling). */
export function tensorFromBits(rt: GpuRuntime, bits: Uint32Array): Tensor {
  return new Tensor(rt.upload(bits), [bits.length], "f32");
}
