// gemm_params.wgsl — the uniform every GEMM kernel takes (lib/ops/gemm.ts writes it), included by
// `// @include gemm_params`. Offsets and strides are in elements: element (m, k) of op(A) in batch b
// is at a_off + b*a_bs + m*a_rs + k*a_cs, likewise B with (k, n); C is row-major with row stride
// c_rs. sa_idx / sb_idx index the FP8 inverse scales.

struct GemmParams {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,
  a_off: u32,
  a_bs: u32,
  a_rs: u32,
  a_cs: u32,
  b_off: u32,
  b_bs: u32,
  b_rs: u32,
  b_cs: u32,
  c_off: u32,
  c_bs: u32,
  sa_idx: u32,
  sb_idx: u32,
  alpha: f32,
  beta: f32,
  c_rs: u32,
  _p1: u32,
}
