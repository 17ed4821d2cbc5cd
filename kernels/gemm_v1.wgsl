// gemm_v1.wgsl — naive GEMM, one invocation per output element; the algorithmic reference on the
// GPU for the tiled kernels (layout and precision: gemm_common.wgsl). 8x8 workgroups, grid (N, M, batch).
// @include gemm_common

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let b = gid.z;
  if (m >= p.m || n >= p.n) {
    return;
  }
  var acc = 0.0;
  let a0 = p.a_off + b * p.a_bs + m * p.a_rs;
  let b0 = p.b_off + b * p.b_bs + n * p.b_cs;
  for (var k = 0u; k < p.k; k++) {
    acc += load_a(a0 + k * p.a_cs) * load_b(b0 + k * p.b_rs);
  }
  store_c(b, m, n, acc, scales[p.sa_idx] * scales[p.sb_idx]);
}
