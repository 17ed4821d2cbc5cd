/**
 * A typed view of a GPU buffer: shape, element type and the buffer. Ops in `lib/ops/` take and
 * return these, and check shapes and dtypes before they dispatch anything.
 *
 * Element types and their storage:
 * - `f32`, `u32`, `i32`: one per 4 bytes.
 * - `bf16`, `f16`: two per u32 (element i in half i % 2, low half first).
 * - `e4m3`, `e5m2`: FP8 codes, four per u32 (element i in byte i % 4); an FP8 tensor's values are
 *   `decode(code) * scaleInv`, where `scaleInv` lives on the GPU in a scaling state (lib/ops/fp8.ts).
 *
 * @module
 */

import { type Binding, type GpuRuntime, GpuUsageError } from "./runtime.ts";
import { encodeBf16, f32Bits } from "../ops/ref/cast.ts";

/** Element types. */
export type DType = "f32" | "f16" | "bf16" | "e4m3" | "e5m2" | "u32" | "i32";

/** Elements per 32-bit word for each type. */
export const PER_WORD: Record<DType, number> = {
  f32: 1,
  u32: 1,
  i32: 1,
  f16: 2,
  bf16: 2,
  e4m3: 4,
  e5m2: 4,
};

/** Bytes needed for `n` elements of `dtype` (whole words). */
export function byteSize(dtype: DType, n: number): number {
  return Math.ceil(n / PER_WORD[dtype]) * 4;
}

/** A tensor on the GPU. */
export class Tensor {
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GpuUsageError(`shape [${shape}] is not valid`);
    }
    if (buffer.size < this.bytes) {
      throw new GpuUsageError(`buffer of ${buffer.size} bytes is too small for ${this}`);
    }
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes the elements occupy. */
  get bytes(): number {
    return byteSize(this.dtype, this.size);
  }

  /** e.g. `f32[2,3]`. */
  toString(): string {
    return `${this.dtype}[${this.shape.join(",")}]`;
  }
}

/**
 * An uninitialised tensor from the runtime's pool; a one-line `GpuUsageError` when it would pass
 * the device's maxBufferSize.
 */
export function empty(rt: GpuRuntime, shape: readonly number[], dtype: DType = "f32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = byteSize(dtype, n);
  const max = rt.device.limits.maxBufferSize;
  if (bytes > max) {
    throw new GpuUsageError(
      `${dtype}[${shape.join(",")}] needs ${bytes} bytes, above the device's maxBufferSize ${max}`,
    );
  }
  return new Tensor(rt.buffer(bytes), shape, dtype);
}

/** A tensor of zeros (a buffer above maxBufferSize is refused by {@linkcode empty} first). */
export function zeros(rt: GpuRuntime, shape: readonly number[], dtype: DType = "f32"): Tensor {
  const t = empty(rt, shape, dtype);
  rt.write(t.buffer, new Uint8Array(t.bytes));
  return t;
}

/**
 * Uploads values as a tensor: f32/u32/i32 as given, `bf16` and `f16` rounded to nearest even on the
 * CPU. FP8 tensors are made on the GPU with `quantize` (lib/ops/fp8.ts).
 */
export function fromArray(
  rt: GpuRuntime,
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType = "f32",
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new GpuUsageError(`${data.length} values do not fill shape [${shape}] (${n})`);
  }
  let words: ArrayBufferView;
  switch (dtype) {
    case "f32":
      words = data instanceof Float32Array ? data : Float32Array.from(data);
      break;
    case "u32":
      words = Uint32Array.from(data);
      break;
    case "i32":
      words = Int32Array.from(data);
      break;
    case "bf16":
      words = encodeBf16(data);
      break;
    case "f16":
      words = _encodeF16(data);
      break;
    default:
      throw new GpuUsageError(`fromArray() cannot make ${dtype}; quantize an f32 tensor instead`);
  }
  const t = empty(rt, shape, dtype);
  rt.write(t.buffer, words);
  return t;
}

/** Reads a tensor back as numbers (f32/bf16/f16 decoded to f32; u32/i32 as integers). */
export async function toArray(
  rt: GpuRuntime,
  t: Tensor,
): Promise<Float32Array | Uint32Array | Int32Array> {
  const bytes = await rt.read(t.buffer, t.bytes);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, t.bytes / 4);
  switch (t.dtype) {
    case "f32":
      return new Float32Array(bytes.buffer, bytes.byteOffset, t.size);
    case "u32":
      return new Uint32Array(bytes.buffer, bytes.byteOffset, t.size);
    case "i32":
      return new Int32Array(bytes.buffer, bytes.byteOffset, t.size);
    case "bf16": {
      const out = new Float32Array(t.size);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < t.size; i++) {
        u[i] = (i & 1) ? words[i >> 1] & 0xffff0000 : (words[i >> 1] << 16) >>> 0;
      }
      return out;
    }
    case "f16": {
      const out = new Float32Array(t.size);
      for (let i = 0; i < t.size; i++) {
        out[i] = _f16ToF32((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
      }
      return out;
    }
    default:
      throw new GpuUsageError(`toArray() cannot read ${t}; dequantize it first`);
  }
}

/** Reads an f32/bf16/f16 tensor back as f32. */
export async function toF32(rt: GpuRuntime, t: Tensor): Promise<Float32Array> {
  const a = await toArray(rt, t);
  if (!(a instanceof Float32Array)) throw new GpuUsageError(`${t} is not a float tensor`);
  return a;
}

/** Options of ops that split tensors larger than one storage binding. */
export interface BindingOptions {
  /** Largest binding in bytes (default: the device's); smaller values force splitting (tests). */
  bindingLimit?: number;
}

/**
 * The unit, in elements, of the chunks an op splits a flat tensor into: chunk starts at multiples
 * of 1024 elements put every view at a multiple of 1024 bytes (FP8), 2048 (f16, bf16) or 4096
 * (32-bit types), which meets any device's minStorageBufferOffsetAlignment (at most 256).
 */
export const CHUNK_ELEMENTS = 1024;

/**
 * Ranges `[start, count]` covering elements 0…n-1 such that a view of each range fits `limit`
 * bytes at `bytesPerElement` (the widest operand's): one range when all n fit, else ranges of the
 * largest multiple of `quantum` elements that fits (a quantum of 64 rows also keeps row-block
 * views aligned, since 64 · 4 bytes = 256). None when n is 0.
 *
 * @example
 * ```ts
 * import { elementRanges } from "./tensor.ts";
 * console.log(elementRanges(5000, 4, 8192)); // [[0, 2048], [2048, 2048], [4096, 904]]
 * ```
 */
export function elementRanges(
  n: number,
  bytesPerElement: number,
  limit: number,
  quantum = CHUNK_ELEMENTS,
): [number, number][] {
  if (n === 0) return [];
  if (n * bytesPerElement <= limit) return [[0, n]];
  const step = Math.floor(limit / bytesPerElement / quantum) * quantum;
  if (step < quantum) {
    throw new GpuUsageError(
      `a chunk of ${quantum} × ${bytesPerElement} bytes does not fit a binding of ${limit} bytes`,
    );
  }
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}

/**
 * Elements [start, start + count) of `t` as a binding of just those bytes (whole words). `start`
 * must be a multiple of the elements per word, and its byte offset a multiple of the device's
 * minStorageBufferOffsetAlignment (chunks from {@linkcode elementRanges} are).
 */
export function elementView(t: Tensor, start = 0, count = t.size - start): Binding {
  const per = PER_WORD[t.dtype];
  if (start % per !== 0 || start < 0 || count < 0 || start + count > t.size) {
    throw new GpuUsageError(
      `view [${start}, ${start + count}) of ${t} is not word aligned or in range`,
    );
  }
  return { buffer: t.buffer, offset: (start / per) * 4, size: byteSize(t.dtype, count) };
}

/** Returns a tensor's buffer to the pool. */
export function free(rt: GpuRuntime, ...ts: (Tensor | undefined)[]): void {
  for (const t of ts) if (t) rt.release(t.buffer);
}

/** Throws a one-line error unless `t` has `dtype` (one of) and, where given, `shape`. */
export function expectTensor(
  what: string,
  t: Tensor,
  dtype: DType | DType[],
  shape?: readonly (number | undefined)[],
): void {
  const ok = Array.isArray(dtype) ? dtype.includes(t.dtype) : t.dtype === dtype;
  if (!ok) {
    throw new GpuUsageError(`${what}: expected dtype ${[dtype].flat().join("|")}, got ${t}`);
  }
  if (shape) {
    const bad = shape.length !== t.shape.length ||
      shape.some((d, i) => d !== undefined && d !== t.shape[i]);
    if (bad) {
      throw new GpuUsageError(
        `${what}: expected shape [${shape.map((d) => d ?? "?").join(",")}], got ${t}`,
      );
    }
  }
}

function _encodeF16(data: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(data.length / 2));
  for (let i = 0; i < data.length; i++) out[i >> 1] |= _f32ToF16(data[i]) << ((i & 1) * 16);
  return out;
}

/** f32 → IEEE half, round to nearest even (overflow to Inf). */
export function _f32ToF16(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  const e = (a >>> 23) - 127 + 15;
  const mant = (a >>> 23) === 0 ? 0 : (a & 0x7fffff) | 0x800000;
  const shift = 13 + Math.max(0, 1 - e);
  let r = 0;
  if (shift < 26) r = (mant + (1 << (shift - 1)) - 1 + ((mant >>> shift) & 1)) >>> shift;
  const code = ((Math.max(e, 1) - 1) << 10) + r;
  return sign | Math.min(code, 0x7c00);
}

/** IEEE half → f32. */
export function _f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
