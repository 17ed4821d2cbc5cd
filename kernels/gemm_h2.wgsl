// gemm_h2.wgsl — C = alpha*s*(A·Bᵀ) + beta*C with A (M, K) and B (N, K) row-major (as gemm_nt.wgsl:
// forward linears x·Wᵀ; lib/ops/gemm.ts transposes other layouts first), multiplied in packed half
// precision: operands are f16, or FP8 codes turned into f16 by a shift (E4M3 · 2^-8 is the code's
// bits moved up 7; E5M2 is the high byte of an f16), then multiplied by a power of two that puts
// the operand's largest code near 2^6 — from the tensor's amax and scale when given (the FP8
// recipe records both), else from the format's largest code — so products of FP8 values are
// exact, 8 of them stay below f16's 65504, and only products 2^-36 below the largest flush to
// zero. vec2<f16> FMAs (two multiply-adds per instruction on NVIDIA) accumulate 16 k (8 products
// per half); each 16-k partial is added into f32 accumulators: the f16 rounding error stays below
// 9·2^-11 of Σ|a·b| of one 16-k chunk. The powers of two come back in the f32 scale. Needs
// `shader-f16`, K a multiple of 16, operands in one binding; f16 operands are used as they are
// (8 products must stay within 65504). E4M3/E5M2 NaN codes are not decoded as NaN (saturating
// quantisation never writes them). Each invocation computes 8 rows × 8 columns; workgroup 8 × 8;
// grid (ceil(N/64), ceil(M/64), batch).
enable f16;

override A_KIND: u32 = 1u; // 1 f16, 3 e4m3, 4 e5m2 (lib/ops/gemm.ts's KIND)
override B_KIND: u32 = 1u;

// @include gemm_params

@group(0) @binding(0) var<storage, read> A: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: GemmParams;
@group(0) @binding(4) var<storage, read> scales: array<f32>;
// f32 bits of each FP8 operand's amax (the unscaled tensor's), where hp.z / hp.w say it is given
@group(0) @binding(5) var<storage, read> amax: array<u32>;
@group(0) @binding(6) var<uniform> hp: vec4<u32>; // amax index of A, of B; A has one, B has one

// The two halves of a word. Naga types bitcast<vec2<f16>>(u32) as f32 and rejects it, so they go
// through unpack2x16float and back (exact both ways).
fn h2(w: u32) -> vec2<f16> {
  return vec2<f16>(unpack2x16float(w));
}

// Two E4M3 codes (the low 16 bits of x) as f16 values times 2^-8: sign to bit 15, the rest up 7.
fn e4m3x2(x: u32) -> vec2<f16> {
  let b = ((x & 0x7fu) << 7u) | ((x & 0x80u) << 8u) | ((x & 0x7f00u) << 15u) | ((x & 0x8000u) << 16u);
  return h2(b);
}

// Two E5M2 codes as f16 (the code is an f16's high byte).
fn e5m2x2(x: u32) -> vec2<f16> {
  return h2(((x & 0xffu) << 8u) | ((x & 0xff00u) << 16u));
}

// Elements [e, e+16) of one operand (e % 16 == 0 in its element count) as 8 half pairs.
fn load16(kind: u32, is_a: bool, e: u32, f: vec2<f16>) -> array<vec2<f16>, 8> {
  var out: array<vec2<f16>, 8>;
  if (kind == 1u) {
    let i = e >> 3u;
    let w0 = select(B[i], A[i], is_a);
    let w1 = select(B[i + 1u], A[i + 1u], is_a);
    for (var j = 0u; j < 4u; j++) {
      out[j] = h2(w0[j]);
      out[4u + j] = h2(w1[j]);
    }
  } else {
    let w = select(B[e >> 4u], A[e >> 4u], is_a);
    for (var j = 0u; j < 4u; j++) {
      if (kind == 3u) {
        out[2u * j] = e4m3x2(w[j]) * f;
        out[2u * j + 1u] = e4m3x2(w[j] >> 16u) * f;
      } else {
        out[2u * j] = e5m2x2(w[j]) * f;
        out[2u * j + 1u] = e5m2x2(w[j] >> 16u) * f;
      }
    }
  }
  return out;
}

// The power of two the decoded halves of an operand are multiplied by (1 for f16): its largest
// code (amax · scale, at most the format's largest) to about 2^6; E4M3's shift already gave 2^-8.
fn prescale(kind: u32, has_amax: bool, amax_idx: u32, si_idx: u32) -> f32 {
  if (kind == 1u) {
    return 1.0;
  }
  let fmt_max = select(448.0, 57344.0, kind == 4u);
  var code_max = fmt_max;
  if (has_amax) {
    code_max = min(bitcast<f32>(amax[amax_idx]) / scales[si_idx], fmt_max);
  }
  let e = 6.0 - ceil(log2(max(code_max, 1.0e-30)));
  // within f16's range as a factor (tiny tensors are scaled up less)
  return clamp(exp2(clamp(e, -40.0, 40.0)) * select(1.0, 256.0, kind == 3u), 5.96e-8, 32768.0);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bz = wid.z;
  let m0 = (wid.y * 8u + lid.y) * 8u;
  let n0 = (wid.x * 8u + lid.x) * 8u;
  let a_base = p.a_off + bz * p.a_bs;
  let b_base = p.b_off + bz * p.b_bs;
  let pa = prescale(A_KIND, hp.z != 0u, hp.x, p.sa_idx);
  let pb = prescale(B_KIND, hp.w != 0u, hp.y, p.sb_idx);
  let fa = vec2<f16>(f16(pa));
  let fb = vec2<f16>(f16(pb));
  // the decoded halves' own factor (E4M3: 2^-8 from the shift) times the prescale
  let da = pa * select(1.0, 0.00390625, A_KIND == 3u);
  let db = pb * select(1.0, 0.00390625, B_KIND == 3u);
  var acc: array<f32, 64>; // (8 rows, 8 columns)
  for (var k = 0u; k < p.k; k += 16u) {
    var a: array<array<vec2<f16>, 8>, 8>;
    for (var r = 0u; r < 8u; r++) {
      a[r] = load16(A_KIND, true, a_base + min(m0 + r, p.m - 1u) * p.a_rs + k, fa);
    }
    for (var c = 0u; c < 8u; c++) {
      let b = load16(B_KIND, false, b_base + min(n0 + c, p.n - 1u) * p.b_rs + k, fb);
      for (var r = 0u; r < 8u; r++) {
        var h = vec2<f16>(0.0h);
        for (var i = 0u; i < 8u; i++) {
          h = fma(a[r][i], b[i], h);
        }
        acc[r * 8u + c] += f32(h.x) + f32(h.y);
      }
    }
  }
  let s = p.alpha * scales[p.sa_idx] * scales[p.sb_idx] / (da * db);
  let cb = p.c_off + bz * p.c_bs;
  for (var r = 0u; r < 8u; r++) {
    for (var c = 0u; c < 8u; c++) {
      if (m0 + r < p.m && n0 + c < p.n) {
        let i = cb + (m0 + r) * p.c_rs + n0 + c;
        var v = s * acc[r * 8u + c];
        if (p.beta != 0.0) {
          v += p.beta * C[i];
        }
        C[i] = v;
      }
    }
  }
}
