// gemm_tile.wgsl — v4, for discrete GPUs: C = alpha*(A·Bᵀ) + beta*C in f32 with A (M, K) and B (N, K)
// row-major (as gemm_nt.wgsl: forward linears x·Wᵀ), through workgroup memory: a 256-invocation
// workgroup stages a 128 × 16 slice of A and of B (16 KiB, WebGPU's guaranteed workgroup storage)
// and each invocation accumulates an 8 × 8 block of C from them — 64 FMAs per four vec4 reads of
// workgroup memory, the classic CUDA SGEMM tiling. gemm.wgsl's register-only tile measured better
// on llvmpipe (no real shared memory there); this is the candidate for NVIDIA, timed against it
// by `deno task bench gpu`. f32 operands only, K a multiple of 16, operands in one binding
// (lib/ops/gemm.ts checks). Rows past M and N read clamped indices; their results are not stored.
// Grid (ceil(N/128), ceil(M/128), batch).

// @include gemm_params

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: GemmParams;

var<workgroup> As: array<vec4<f32>, 512>; // (16 k, 128 rows / 4)
var<workgroup> Bs: array<vec4<f32>, 512>; // (16 k, 128 columns / 4)

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m0 = wid.y * 128u;
  let n0 = wid.x * 128u;
  let a_base = p.a_off + wid.z * p.a_bs;
  let b_base = p.b_off + wid.z * p.b_bs;
  // staging: invocation li loads 8 consecutive k of row (li / 2) of each 128-row slice
  let lr = li >> 1u;
  let lk = (li & 1u) * 8u;
  let a_row = a_base + min(m0 + lr, p.m - 1u) * p.a_rs;
  let b_row = b_base + min(n0 + lr, p.n - 1u) * p.b_rs;
  var acc: array<vec4<f32>, 16>; // (8 rows, 2 × vec4 columns)
  for (var k0 = 0u; k0 < p.k; k0 += 16u) {
    let a0 = A[(a_row + k0 + lk) >> 2u];
    let a1 = A[(a_row + k0 + lk + 4u) >> 2u];
    let b0 = B[(b_row + k0 + lk) >> 2u];
    let b1 = B[(b_row + k0 + lk + 4u) >> 2u];
    let av = array<f32, 8>(a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);
    let bv = array<f32, 8>(b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w);
    for (var i = 0u; i < 8u; i++) {
      // element (k, r) of a slice lives at vec4 k*32 + r/4, lane r%4
      let at = (lk + i) * 32u + (lr >> 2u);
      As[at][lr & 3u] = av[i];
      Bs[at][lr & 3u] = bv[i];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let ra0 = As[kk * 32u + lid.y * 2u];
      let ra1 = As[kk * 32u + lid.y * 2u + 1u];
      let cb0 = Bs[kk * 32u + lid.x * 2u];
      let cb1 = Bs[kk * 32u + lid.x * 2u + 1u];
      let ra = array<f32, 8>(ra0.x, ra0.y, ra0.z, ra0.w, ra1.x, ra1.y, ra1.z, ra1.w);
      for (var i = 0u; i < 8u; i++) {
        acc[2u * i] = fma(vec4<f32>(ra[i]), cb0, acc[2u * i]);
        acc[2u * i + 1u] = fma(vec4<f32>(ra[i]), cb1, acc[2u * i + 1u]);
      }
    }
    workgroupBarrier();
  }
  let cb = p.c_off + wid.z * p.c_bs;
  for (var i = 0u; i < 8u; i++) {
    let row = m0 + lid.y * 8u + i;
    if (row >= p.m) {
      continue;
    }
    for (var j = 0u; j < 8u; j++) {
      let col = n0 + lid.x * 8u + j;
      if (col < p.n) {
        let at = cb + row * p.c_rs + col;
        var v = p.alpha * acc[2u * i + (j >> 2u)][j & 3u];
        if (p.beta != 0.0) {
          v += p.beta * C[at];
        }
        C[at] = v;
      }
    }
  }
}
