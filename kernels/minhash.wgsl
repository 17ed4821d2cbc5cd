// minhash.wgsl — MinHash signatures of a batch of documents.
//
// What: sig[d, k] = min over shingles x of document d of ((a_k·x + b_k) mod (2^61 − 1)) mod 2^32,
//   datatrove-style universal hashing; empty documents get 0xFFFFFFFF everywhere.
// Layout (D = documents in the batch, K = permutations, S = shingles in the batch):
//   shingles: (S,) u32        shingle hashes of all documents, concatenated
//   offsets:  (D + 1,) u32    document d owns shingles[offsets[d] .. offsets[d + 1])
//   perms:    (K, 4) u32      (a_hi, a_lo, b_hi, b_lo): a, b < 2^61 − 1 split as 29 + 32 bits
//   sig:      (D, K) u32      output
//   p:        uniform (D, K, doc_base, 0): this dispatch covers documents doc_base + workgroup.x
// One workgroup per document, one invocation per permutation (strided by WG).
// Precision: exact integer arithmetic. WGSL has no 64-bit integers, so the 93-bit product a·x is
//   kept in three u32 words and reduced at bit 61; the plain TypeScript reference is `permute` in
//   lib/filter/minhash.ts, which does the same steps, and the results are bit-identical.

override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> shingles: array<u32>;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> perms: array<u32>;
@group(0) @binding(3) var<storage, read_write> sig: array<u32>;
@group(0) @binding(4) var<uniform> p: vec4<u32>;

// (hi, lo) of the 64-bit product of two u32.
fn mul32(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (mid << 16u) | (p00 & 0xffffu);
  let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, lo);
}

fn permute(x: u32, ahi: u32, alo: u32, bhi: u32, blo: u32) -> u32 {
  let m1 = mul32(alo, x);
  let m2 = mul32(ahi, x);
  var w0 = m1.y;
  var w1 = m2.y + m1.x;
  var w2 = m2.x + select(0u, 1u, w1 < m2.y);
  let t0 = w0 + blo;
  let c0 = select(0u, 1u, t0 < w0);
  w0 = t0;
  let t1 = w1 + bhi;
  let c1 = select(0u, 1u, t1 < w1);
  let t2 = t1 + c0;
  let c2 = select(0u, 1u, t2 < t1);
  w1 = t2;
  w2 = w2 + c1 + c2;
  let top = (w2 << 3u) | (w1 >> 29u);
  let s_lo = w0 + top;
  let s_hi = (w1 & 0x1fffffffu) + select(0u, 1u, s_lo < w0);
  let ge_p = s_hi > 0x1fffffffu || (s_hi == 0x1fffffffu && s_lo == 0xffffffffu);
  return select(s_lo, s_lo + 1u, ge_p);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let d = p.z + wg.x;
  if (d >= p.x) { return; }
  let start = offsets[d];
  let end = offsets[d + 1u];
  for (var k = lid.x; k < p.y; k += WG) {
    let ahi = perms[4u * k];
    let alo = perms[4u * k + 1u];
    let bhi = perms[4u * k + 2u];
    let blo = perms[4u * k + 3u];
    var m = 0xffffffffu;
    for (var i = start; i < end; i++) {
      m = min(m, permute(shingles[i], ahi, alo, bhi, blo));
    }
    sig[d * p.y + k] = m;
  }
}
