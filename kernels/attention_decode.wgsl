// attention_decode.wgsl — one decoding step of grouped-query attention against a KV cache, f32.
// Layout (row-major): q, o (B, NH, D); k, v (B, S, NKV, D) caches, read as vec2 (D even, ≤ 128);
// lengths (B) u32: row b attends to keys 0..min(lengths[b], S)-1 (≥ 1; 0 gives o = 0). Query head
// h reads KV head h / (NH / NKV); scores q·k / sqrt(D).
// Algorithm: one workgroup of 256 per (b, h); keys in tiles of 256, one per invocation: each scores
// its key (a D-long dot product), the tile's max and Σ exp go through workgroup reductions into a
// running max m and sum l (online softmax: both rescaled by exp(m_old − m_new), the same computed
// factor, so it cancels in o = acc / l), and P·V is split over G = 256 / (D/2) key groups × D/2 dim
// pairs (invocation g·D/2 + c sums keys ≡ g mod G of each tile for dims 2c, 2c+1); the G partial
// sums are added in a fixed order at the end. No atomics: deterministic. Keys past the length are
// never read, so the cache's tail may hold anything.
// Grid: (NH, B). Measured (GPU timestamps, llvmpipe on 2 cores, B=1 NH=32 NKV=8 D=128 S=4096 all
// valid: 134 MB of K and V reads, 67 MFLOP): scalar loads 510 ms; vec2 loads of k 442 ms; vec2
// loads of k and v (this) 368 ms.
// @include reduce

struct Params {
  b: u32,
  s: u32, // cache length S
  nh: u32,
  nkv: u32,
  d: u32,
  scale: f32, // 1 / sqrt(D)
  _a: u32,
  _b: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>; // (B, NH, D)
@group(0) @binding(1) var<storage, read> k: array<vec2<f32>>; // (B, S, NKV, D)
@group(0) @binding(2) var<storage, read> v: array<vec2<f32>>; // (B, S, NKV, D)
@group(0) @binding(3) var<storage, read> lengths: array<u32>; // (B)
@group(0) @binding(4) var<storage, read_write> o: array<vec2<f32>>; // (B, NH, D)
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> q_sh: array<vec2<f32>, 64>;
var<workgroup> p_sh: array<f32, 256>; // this tile's exp(score − m)
var<workgroup> part: array<vec2<f32>, 256>; // P·V partial sums, (G, D)
var<workgroup> n_sh: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wid.x;
  let b = wid.y;
  let d = p.d;
  let kvh = h / (p.nh / p.nkv);
  let qbase = (b * p.nh + h) * d;
  if (li < d / 2u) {
    q_sh[li] = vec2<f32>(q[qbase + 2u * li], q[qbase + 2u * li + 1u]);
  }
  if (li == 0u) {
    n_sh = min(lengths[b], p.s);
  }
  let n = workgroupUniformLoad(&n_sh); // also publishes q_sh
  let d2 = d / 2u; // dim pairs
  let groups = 256u / d2;
  let grp = li / d2; // key group of this invocation in P·V
  let c = li % d2; // its dim pair
  var m = -3.4e38;
  var l = 0.0;
  var acc = vec2<f32>(0.0);
  for (var t0 = 0u; t0 < n; t0 += 256u) {
    let j = t0 + li;
    var sc = -3.4e38;
    if (j < n) {
      let kb = ((b * p.s + j) * p.nkv + kvh) * d / 2u;
      var acc_d = 0.0;
      for (var x = 0u; x < d / 2u; x++) {
        acc_d += dot(q_sh[x], k[kb + x]);
      }
      sc = acc_d * p.scale;
    }
    let m_new = max(m, wg_max(sc, li)); // key t0 is valid: m_new is a real score
    let alpha = exp(m - m_new);
    var pj = 0.0;
    if (j < n) {
      pj = exp(sc - m_new);
    }
    p_sh[li] = pj;
    l = l * alpha + wg_sum(pj, li); // its barriers also publish p_sh
    m = m_new;
    if (grp < groups) {
      acc *= alpha;
      let cnt = min(256u, n - t0);
      for (var jj = grp; jj < cnt; jj += groups) {
        acc += p_sh[jj] * v[((b * p.s + t0 + jj) * p.nkv + kvh) * d2 + c];
      }
    }
  }
  part[li] = select(vec2<f32>(0.0), acc, grp < groups);
  workgroupBarrier();
  if (li < d2) {
    var sum = vec2<f32>(0.0);
    for (var g = 0u; g < groups; g++) {
      sum += part[g * d2 + li];
    }
    o[qbase / 2u + li] = select(sum / l, vec2<f32>(0.0), n == 0u);
  }
}
