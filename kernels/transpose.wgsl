// transpose.wgsl — batched matrix transpose for any storage kind: in (batch, R, C) row-major ->
// out (batch, C, R) row-major, elements kept bit for bit. KIND: 0 f32/u32, 1 f16, 2 bf16 (two per
// u32), 3/4 FP8 (four per u32). One invocation per output u32 word (it gathers that word's
// elements, so packed outputs need no atomics); words never straddle batches when R*C is a
// multiple of the elements per word (lib/ops/gemm.ts checks). Grid: grid1d(words, 256).

override KIND: u32 = 0u;

struct Params {
  rows: u32,
  cols: u32,
  total: u32, // batch * rows * cols elements
  _p: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn per_word() -> u32 {
  return select(select(1u, 2u, KIND == 1u || KIND == 2u), 4u, KIND >= 3u);
}

fn read_code(i: u32) -> u32 {
  let pw = per_word();
  let bits = 32u / pw;
  let mask = select((1u << bits) - 1u, 0xffffffffu, pw == 1u);
  return (src[i / pw] >> ((i % pw) * bits)) & mask;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * 256u;
  let pw = per_word();
  if (w * pw >= p.total) {
    return;
  }
  let rc = p.rows * p.cols;
  var word = 0u;
  for (var e = 0u; e < pw; e++) {
    let o = w * pw + e; // output element: (b, c, r) of (batch, C, R)
    if (o < p.total) {
      let b = o / rc;
      let rem = o % rc;
      let c = rem / p.rows;
      let r = rem % p.rows;
      word |= read_code(b * rc + r * p.cols + c) << (e * (32u / pw));
    }
  }
  dst[w] = word;
}
