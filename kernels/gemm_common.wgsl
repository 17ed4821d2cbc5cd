// gemm_common.wgsl — bindings and parameters shared by the GEMM kernels (included).
// C[b] = alpha * s * (op(A[b]) · op(B[b])) + beta * C[b], with op(A) of shape (M, K), op(B) (K, N),
// C row-major (M, N) with row stride c_rs. Element (m, k) of op(A) in batch b sits at a_off + b*a_bs + m*a_rs + k*a_cs
// (in elements), so plain, transposed and broadcast (a_bs = 0) operands are all strides; likewise B
// with (k, n). s = scales[sa_idx] * scales[sb_idx] (the inverse FP8 scales; 1 otherwise).
// Accumulation is f32. beta == 0 never reads C.
// @include gemm_load

// @include gemm_params

@group(0) @binding(0) var<storage, read> A: array<u32>;
@group(0) @binding(1) var<storage, read> B: array<u32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: GemmParams;
@group(0) @binding(4) var<storage, read> scales: array<f32>;

fn load_a(idx: u32) -> f32 {
  return load_kind(A[word_index(idx, A_KIND)], idx, A_KIND);
}

fn load_b(idx: u32) -> f32 {
  return load_kind(B[word_index(idx, B_KIND)], idx, B_KIND);
}

fn store_c(b: u32, m: u32, n: u32, acc: f32, s: f32) {
  let i = p.c_off + b * p.c_bs + m * p.c_rs + n;
  var v = p.alpha * s * acc;
  if (p.beta != 0.0) {
    v += p.beta * C[i];
  }
  C[i] = v;
}
