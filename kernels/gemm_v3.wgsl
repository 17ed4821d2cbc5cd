// gemm_v3.wgsl — experiment: no workgroup memory; 64 invocations along N, each 1 column x 8 rows.
// @include gemm_common

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.z;
  let n = wid.x * 64u + lid.x;
  let m0 = wid.y * 8u;
  let a_base = p.a_off + b * p.a_bs + m0 * p.a_rs;
  let b_base = p.b_off + b * p.b_bs + min(n, p.n - 1u) * p.b_cs;
  let mm = min(p.m - m0, 8u);
  var c0 = 0.0; var c1 = 0.0; var c2 = 0.0; var c3 = 0.0;
  var c4 = 0.0; var c5 = 0.0; var c6 = 0.0; var c7 = 0.0;
  let ars = select(0u, p.a_rs, true);
  let r1 = min(1u, mm - 1u) * ars; let r2 = min(2u, mm - 1u) * ars; let r3 = min(3u, mm - 1u) * ars;
  let r4 = min(4u, mm - 1u) * ars; let r5 = min(5u, mm - 1u) * ars; let r6 = min(6u, mm - 1u) * ars;
  let r7 = min(7u, mm - 1u) * ars;
  for (var k = 0u; k < p.k; k++) {
    let bv = load_b(b_base + k * p.b_rs);
    let ak = a_base + k * p.a_cs;
    c0 = fma(load_a(ak), bv, c0);
    c1 = fma(load_a(ak + r1), bv, c1);
    c2 = fma(load_a(ak + r2), bv, c2);
    c3 = fma(load_a(ak + r3), bv, c3);
    c4 = fma(load_a(ak + r4), bv, c4);
    c5 = fma(load_a(ak + r5), bv, c5);
    c6 = fma(load_a(ak + r6), bv, c6);
    c7 = fma(load_a(ak + r7), bv, c7);
  }
  if (n >= p.n) { return; }
  let s = scales[p.sa_idx] * scales[p.sb_idx];
  store_c(b, m0, n, c0, s);
  if (mm > 1u) { store_c(b, m0 + 1u, n, c1, s); }
  if (mm > 2u) { store_c(b, m0 + 2u, n, c2, s); }
  if (mm > 3u) { store_c(b, m0 + 3u, n, c3, s); }
  if (mm > 4u) { store_c(b, m0 + 4u, n, c4, s); }
  if (mm > 5u) { store_c(b, m0 + 5u, n, c5, s); }
  if (mm > 6u) { store_c(b, m0 + 6u, n, c6, s); }
  if (mm > 7u) { store_c(b, m0 + 7u, n, c7, s); }
}
