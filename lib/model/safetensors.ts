/**
 * A strict safetensors reader and writer (the format of Hugging Face `model.safetensors`).
 *
 * Layout (the format's spec): 8 bytes little-endian u64 `N` = header length; `N` bytes of UTF-8
 * JSON (may be right-padded with spaces) mapping each tensor name to `{dtype, shape,
 * data_offsets: [begin, end]}` (offsets relative to the byte buffer that follows the header), plus
 * an optional `"__metadata__"` map of string to string; then the byte buffer. Tensors are
 * row-major, little-endian.
 *
 * The reader refuses, with one line naming the file and the tensor, anything that could be
 * mis-read: a header length past the file or over 100 MB, invalid JSON, an unknown dtype, a shape
 * that is not a list of non-negative integers, `end - begin != product(shape) × dtype size`,
 * offsets outside the buffer, overlapping tensors, and holes (the buffer must be covered exactly,
 * as the reference implementation requires).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { UserError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";

/** The dtypes of the format and their sizes in bytes. */
export const DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The float dtypes Jikji converts to and from f32. */
export type FloatDtype = "F32" | "BF16" | "F16";

/** One tensor as stored: dtype, shape and its raw little-endian bytes (a view into the file). */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A parsed safetensors file. */
export interface SafeTensors {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** The longest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses safetensors bytes strictly; `name` is used in error messages.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, parseSafetensors, tensorToF32 } from "./safetensors.ts";
 * const bytes = encodeSafetensors([{ name: "w", shape: [2], data: new Float32Array([1, 2]) }]);
 * const st = parseSafetensors(bytes, "w.safetensors");
 * console.log(tensorToF32(st.tensors.get("w")!)); // Float32Array [1, 2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, name = "safetensors"): SafeTensors {
  const bad = (why: string): never => {
    throw new UserError(`${name}: not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) bad(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) bad(`header length ${n64} exceeds ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > bytes.length) {
    bad(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  }
  if (n < 2) bad(`header length ${n} is too short for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return bad("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) bad("header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return bad(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    bad("header is not a JSON object");
  }
  const bufferStart = 8 + n;
  const bufferLen = bytes.length - bufferStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        bad("__metadata__ is not an object of strings");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") bad(`__metadata__.${k} is not a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const t = value as Record<string, unknown>;
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      bad(`tensor "${key}" is not an object`);
    }
    for (const k of Object.keys(t)) {
      if (k !== "dtype" && k !== "shape" && k !== "data_offsets") {
        bad(`tensor "${key}" has unknown field "${k}"`);
      }
    }
    const dtype = t.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_SIZES)) {
      bad(`tensor "${key}" has unknown dtype ${JSON.stringify(dtype)}`);
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`tensor "${key}" shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = t.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      bad(`tensor "${key}" data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) bad(`tensor "${key}" data_offsets end ${end} < begin ${begin}`);
    if (end > bufferLen) {
      bad(
        `tensor "${key}" data_offsets [${begin}, ${end}] lie outside the ${bufferLen}-byte buffer`,
      );
    }
    let count = 1;
    for (const d of shape as number[]) count *= d;
    const want = count * DTYPE_SIZES[dtype as string];
    if (!Number.isSafeInteger(want) || want !== end - begin) {
      bad(
        `tensor "${key}" ${dtype}${
          JSON.stringify(shape)
        } needs ${want} bytes but data_offsets span ${end - begin}`,
      );
    }
    spans.push({ name: key, begin, end });
    tensors.set(key, {
      dtype: dtype as string,
      shape: shape as number[],
      bytes: bytes.subarray(bufferStart + begin, bufferStart + end),
    });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const s of spans) {
    if (s.begin < pos) {
      bad(`tensor "${s.name}" overlaps the tensor before it (begins at ${s.begin} < ${pos})`);
    }
    if (s.begin > pos) {
      bad(`hole in the buffer at bytes [${pos}, ${s.begin}) before tensor "${s.name}"`);
    }
    pos = s.end;
  }
  if (pos !== bufferLen) {
    bad(`buffer has ${bufferLen - pos} trailing bytes not covered by any tensor`);
  }
  return { tensors, metadata };
}

/** Reads and parses one `.safetensors` file strictly. */
export async function readSafetensors(path: string): Promise<SafeTensors> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw err;
  }
  return parseSafetensors(bytes, path);
}

/**
 * Reads a model's weights from a folder or file: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (`weight_map`: tensor name → shard file). Every tensor the index
 * names must be in its shard, and no tensor may appear in two shards.
 */
export async function readModelWeights(pathOrDir: string): Promise<SafeTensors> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(pathOrDir);
  } catch {
    throw new UserError(`${pathOrDir}: not found (expected a model folder or .safetensors file)`);
  }
  if (stat.isFile) {
    if (pathOrDir.endsWith(".index.json")) return await _readSharded(pathOrDir);
    return await readSafetensors(pathOrDir);
  }
  const single = join(pathOrDir, "model.safetensors");
  const index = join(pathOrDir, "model.safetensors.index.json");
  if (await _exists(single)) return await readSafetensors(single);
  if (await _exists(index)) return await _readSharded(index);
  throw new UserError(
    `${pathOrDir}: has neither model.safetensors nor model.safetensors.index.json`,
  );
}

async function _exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function _readSharded(indexPath: string): Promise<SafeTensors> {
  let index: { weight_map?: unknown; metadata?: unknown };
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (err) {
    throw new UserError(`${indexPath}: not valid JSON (${(err as Error).message})`);
  }
  const map = index.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new UserError(`${indexPath}: weight_map is missing or not an object`);
  }
  const wanted = map as Record<string, unknown>;
  const byShard = new Map<string, string[]>();
  for (const [t, f] of Object.entries(wanted)) {
    if (typeof f !== "string" || f.includes("/") || f.includes("\\") || f.startsWith(".")) {
      throw new UserError(
        `${indexPath}: weight_map["${t}"] must be a file name in the same folder`,
      );
    }
    byShard.set(f, [...(byShard.get(f) ?? []), t]);
  }
  const tensors = new Map<string, RawTensor>();
  const metadata: Record<string, string> = {};
  for (const [file, names] of byShard) {
    const shardPath = join(dirname(indexPath), file);
    const shard = await readSafetensors(shardPath);
    Object.assign(metadata, shard.metadata);
    for (const t of names) {
      const raw = shard.tensors.get(t);
      if (!raw) {
        throw new UserError(`${shardPath}: lacks tensor "${t}" that ${indexPath} maps to it`);
      }
      tensors.set(t, raw);
    }
    for (const t of shard.tensors.keys()) {
      if (wanted[t] !== file) {
        throw new UserError(
          `${shardPath}: tensor "${t}" is not mapped to this shard by ${indexPath}`,
        );
      }
    }
  }
  return { tensors, metadata };
}

/** Converts a float32 to bf16 bits (round to nearest even; NaN stays NaN). */
export function f32ToBf16Bits(x: number): number {
  _f32[0] = x;
  const u = _u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Converts bf16 bits to a float32 value. */
export function bf16BitsToF32(h: number): number {
  _u32[0] = h << 16;
  return _f32[0];
}

const _f32 = new Float32Array(1);
const _u32 = new Uint32Array(_f32.buffer);

/** Converts a float32 to IEEE half bits (round to nearest even, overflow to ±Inf). */
export function f32ToF16Bits(x: number): number {
  _f32[0] = x;
  const u = _u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // a carry into the exponent is right
  return sign | half;
}

/** Converts IEEE half bits to a float32 value. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decodes a float tensor (F32, BF16, F16, F64) to a new Float32Array. */
export function tensorToF32(t: RawTensor, name = "tensor"): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case "BF16":
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    default:
      throw new UserError(`${name}: dtype ${t.dtype} is not a float type (need F32, BF16 or F16)`);
  }
}

/** One tensor to write: f32 values stored as `dtype` (default F32). */
export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: FloatDtype;
}

/**
 * Encodes tensors as safetensors bytes (header padded with spaces to a multiple of 8 so the buffer
 * is aligned, tensors in the given order, no holes).
 */
export function encodeSafetensors(
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`encodeSafetensors: duplicate tensor ${t.name}`);
    seen.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(`encodeSafetensors: ${t.name} shape ${t.shape} != ${t.data.length} values`);
    }
    const dtype = t.dtype ?? "F32";
    const size = n * DTYPE_SIZES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + size] };
    off += size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) {
    json += " ".repeat(pad);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors) {
    const dtype = t.dtype ?? "F32";
    const d = t.data;
    if (dtype === "F32") {
      for (let i = 0; i < d.length; i++, p += 4) dv.setFloat32(p, d[i], true);
    } else if (dtype === "BF16") {
      for (let i = 0; i < d.length; i++, p += 2) dv.setUint16(p, f32ToBf16Bits(d[i]), true);
    } else {
      for (let i = 0; i < d.length; i++, p += 2) dv.setUint16(p, f32ToF16Bits(d[i]), true);
    }
  }
  return out;
}

/** Writes tensors to `path` atomically as safetensors. */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
