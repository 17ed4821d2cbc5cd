/**
 * Bit-exact TypeScript references for Jikji's low-precision formats; the WGSL in
 * `kernels/numeric.wgsl` must agree with these on every input.
 *
 * - FP8 E4M3 (OCP "fn" variant, as in Transformer Engine): bias 7, no infinities, NaN = S.1111.111,
 *   largest finite 448.
 * - FP8 E5M2: bias 15, IEEE-like (Inf = S.11111.00, NaN = S.11111.xx), largest finite 57344.
 * - BF16: the top 16 bits of an f32.
 *
 * f32 → FP8 rounds to nearest, ties to even, and saturates ("satfinite", like CUDA's
 * `__NV_SATFINITE` that Transformer Engine uses): finite values beyond the largest finite code and
 * ±Inf become ±max; NaN becomes the NaN code 0x7F with the input's sign. Signed zero is kept.
 * f32 → BF16 rounds to nearest even (overflow becomes ±Inf as in IEEE); NaN stays a quiet NaN.
 *
 * Packing: FP8 codes four per u32 (element i in byte i % 4, little end first), BF16 two per u32
 * (element i in half i % 2, low half first).
 *
 * @module
 */

/** The FP8 formats. */
export type Fp8Format = "e4m3" | "e5m2";

interface Fp8Spec {
  exp: number;
  man: number;
  bias: number;
  maxCode: number;
  max: number;
}

/** Layout of each FP8 format. */
export const FP8: Record<Fp8Format, Fp8Spec> = {
  e4m3: { exp: 4, man: 3, bias: 7, maxCode: 0x7e, max: 448 },
  e5m2: { exp: 5, man: 2, bias: 15, maxCode: 0x7b, max: 57344 },
};

const _f = new Float32Array(1);
const _u = new Uint32Array(_f.buffer);

/** The bits of `x` rounded to f32. */
export function f32Bits(x: number): number {
  _f[0] = x;
  return _u[0];
}

/** The f32 with bits `u`. */
export function bitsF32(u: number): number {
  _u[0] = u >>> 0;
  return _f[0];
}

/** Encodes the f32 with bits `bits` as an FP8 code (satfinite, round to nearest even). */
export function f32BitsToFp8(bits: number, format: Fp8Format): number {
  const { man, bias, maxCode } = FP8[format];
  const sign = (bits >>> 24) & 0x80;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7f; // NaN
  const e32 = abs >>> 23;
  // f32 subnormals are far below the smallest FP8 subnormal: they round to zero
  const mant = e32 === 0 ? 0 : (abs & 0x7fffff) | 0x800000; // 24-bit significand
  const et = e32 - 127 + bias; // biased exponent in the target format
  const shift = 23 - man + Math.max(0, 1 - et);
  let rounded = 0;
  if (shift < 26) {
    const half = 1 << (shift - 1);
    rounded = (mant + half - 1 + ((mant >>> shift) & 1)) >>> shift;
  }
  // for normals `rounded` carries the implicit bit, which adds one to the exponent field
  const code = ((Math.max(et, 1) - 1) << man) + rounded;
  return sign | Math.min(code, maxCode);
}

/** Encodes `x` (first rounded to f32) as an FP8 code. */
export function toFp8(x: number, format: Fp8Format): number {
  return f32BitsToFp8(f32Bits(x), format);
}

/** Decodes an FP8 code to its value (exact in f32). */
export function fromFp8(code: number, format: Fp8Format): number {
  const { exp, man, bias } = FP8[format];
  const sign = code & 0x80 ? -1 : 1;
  const e = (code & 0x7f) >>> man;
  const m = code & ((1 << man) - 1);
  const emax = (1 << exp) - 1;
  if (format === "e4m3" && e === emax && m === (1 << man) - 1) return NaN;
  if (format === "e5m2" && e === emax) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (1 - bias - man);
  return sign * (1 + m / (1 << man)) * 2 ** (e - bias);
}

/** The f32 bits of `x` rounded to BF16, as a 16-bit code. */
export function f32BitsToBf16(bits: number): number {
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN, sign kept
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds `x` to BF16 and returns the 16-bit code. */
export function toBf16(x: number): number {
  return f32BitsToBf16(f32Bits(x));
}

/** The value of a BF16 code. */
export function fromBf16(code: number): number {
  return bitsF32((code & 0xffff) << 16);
}

/** Rounds every value to BF16 and back (what storing in BF16 does to a tensor). */
export function roundBf16(x: ArrayLike<number>): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fromBf16(toBf16(x[i]));
  return out;
}

/** Packs FP8 codes four per u32 (see module doc). Missing tail bytes are zero. */
export function packFp8(codes: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(codes.length / 4));
  for (let i = 0; i < codes.length; i++) out[i >> 2] |= (codes[i] & 0xff) << ((i & 3) * 8);
  return out;
}

/** Unpacks `n` FP8 codes from u32 words. */
export function unpackFp8(words: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i >> 2] >>> ((i & 3) * 8)) & 0xff;
  return out;
}

/** Packs BF16 codes two per u32 (see module doc). */
export function packBf16(codes: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(codes.length / 2));
  for (let i = 0; i < codes.length; i++) out[i >> 1] |= (codes[i] & 0xffff) << ((i & 1) * 16);
  return out;
}

/** Unpacks `n` BF16 codes from u32 words. */
export function unpackBf16(words: Uint32Array, n: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i >> 1] >>> ((i & 1) * 16)) & 0xffff;
  return out;
}

/** Quantizes f32 values to packed FP8 after multiplying by `scale` (in f32, as the GPU does). */
export function quantizeFp8(x: ArrayLike<number>, scale: number, format: Fp8Format): Uint32Array {
  const codes = new Uint8Array(x.length);
  const s = Math.fround(scale);
  for (let i = 0; i < x.length; i++) codes[i] = toFp8(Math.fround(x[i] * s), format);
  return packFp8(codes);
}

/** Encodes f32 values as packed BF16. */
export function encodeBf16(x: ArrayLike<number>): Uint32Array {
  const codes = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) codes[i] = toBf16(x[i]);
  return packBf16(codes);
}

/** Decodes packed BF16 to f32. */
export function decodeBf16(words: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = fromBf16((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
  return out;
}
