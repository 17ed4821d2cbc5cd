// numeric.wgsl — shared number-format helpers, pulled into kernels by `// @include numeric`.
// No entry points. Bit-exact twins of lib/ops/ref/cast.ts:
//   FP8 E4M3 (fmt 0u): bias 7, no Inf, NaN = S.1111.111, max 448.
//   FP8 E5M2 (fmt 1u): bias 15, Inf = S.11111.00, NaN = S.11111.xx, max 57344.
//   f32 -> FP8: round to nearest even, satfinite (overflow and ±Inf -> ±max), NaN -> S|0x7F.
//   BF16: top half of an f32, round to nearest even; NaN stays a quiet NaN.
// Packing: FP8 four per u32 (element i in byte i%4), BF16/f16 two per u32 (element i in half i%2).
// Everything works on u32 bit patterns, so results do not depend on the compiler's float rules.

fn pow2_f32(k: i32) -> f32 {
  return bitcast<f32>(u32(k + 127) << 23u);
}

fn fp8_from_f32_bits(bits: u32, fmt: u32) -> u32 {
  let man = select(3u, 2u, fmt == 1u);
  let bias = select(7i, 15i, fmt == 1u);
  let max_code = select(0x7eu, 0x7bu, fmt == 1u);
  let sign = (bits >> 24u) & 0x80u;
  let a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) {
    return sign | 0x7fu;
  }
  let e32 = i32(a >> 23u);
  var mant = (a & 0x7fffffu) | 0x800000u;
  if (e32 == 0) {
    mant = 0u; // f32 subnormals round to zero in FP8
  }
  let et = e32 - 127 + bias;
  let shift = u32(23 - i32(man) + max(0, 1 - et));
  var r = 0u;
  if (shift < 26u) {
    let half = 1u << (shift - 1u);
    r = (mant + half - 1u + ((mant >> shift) & 1u)) >> shift;
  }
  // for normals r carries the implicit bit, which adds one to the exponent field
  let code = (u32(max(et, 1) - 1) << man) + r;
  return sign | min(code, max_code);
}

fn fp8_to_f32_bits(code: u32, fmt: u32) -> u32 {
  let man = select(3u, 2u, fmt == 1u);
  let bias = select(7i, 15i, fmt == 1u);
  let sign = (code & 0x80u) << 24u;
  let a = code & 0x7fu;
  let e = a >> man;
  let m = a & ((1u << man) - 1u);
  if (fmt == 0u && a == 0x7fu) {
    return sign | 0x7fc00000u;
  }
  if (fmt == 1u && e == 31u) {
    return sign | select(0x7fc00000u, 0x7f800000u, m == 0u);
  }
  if (e == 0u) {
    return sign | bitcast<u32>(f32(m) * pow2_f32(1 - bias - i32(man)));
  }
  return sign | (u32(i32(e) - bias + 127) << 23u) | (m << (23u - man));
}

// The value of FP8 code `code` (finite codes; NaN/Inf codes give NaN/Inf bit patterns).
fn fp8_to_f32(code: u32, fmt: u32) -> f32 {
  return bitcast<f32>(fp8_to_f32_bits(code, fmt));
}

// FP8 element i of a packed word array, decoded.
fn fp8_at(word: u32, i: u32, fmt: u32) -> f32 {
  return fp8_to_f32((word >> ((i & 3u) * 8u)) & 0xffu, fmt);
}

fn bf16_from_f32_bits(bits: u32) -> u32 {
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return ((bits >> 16u) | 0x40u) & 0xffffu;
  }
  return ((bits + 0x7fffu + ((bits >> 16u) & 1u)) >> 16u) & 0xffffu;
}

fn bf16_from_f32(x: f32) -> u32 {
  return bf16_from_f32_bits(bitcast<u32>(x));
}

fn bf16_to_f32(code: u32) -> f32 {
  return bitcast<f32>((code & 0xffffu) << 16u);
}

// BF16 element i of a packed word (two per u32).
fn bf16_at(word: u32, i: u32) -> f32 {
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}

// Two f32 as one packed BF16 word (lo = element 2j, hi = element 2j+1).
fn bf16_pack2(lo: f32, hi: f32) -> u32 {
  return bf16_from_f32(lo) | (bf16_from_f32(hi) << 16u);
}
