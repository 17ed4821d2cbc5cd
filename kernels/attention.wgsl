// attention.wgsl — causal grouped-query self-attention, flash style, v2 (the one used): like
// attention_v1.wgsl (same layouts, bindings, entry points, algorithm and precision; read its header)
// but rows are read as vec4<u32> chunks (8 BF16 or 4 f32 values per load) into vec4<f32> registers,
// and the head dim HD is a pipeline constant so every loop over it unrolls and the per-row arrays
// stay in registers. Needs HD % 8 == 0. Measured (GPU timestamps, forward, B=1 T=512 NH=8 NKV=2
// D=64 BF16, llvmpipe on 2 loaded cores, same process): v1 with runtime D 0.68 GFLOP/s; v1 with
// HD constant 0.97-1.00; this 1.74.
// Layout: q, o, do (B, T, NH, D); k, v (B, T, NKV, D); lse, drow (B, NH, T); dq/dk/dv f32.
// @include numeric

override KIND: u32 = 2u; // 0 f32, 2 bf16
override HAS_DOC: bool = false;
override FP8: bool = false;
override HD: u32 = 64u;
override E: u32 = select(4u, 8u, KIND == 2u); // elements per vec4<u32> chunk
const MAX_D4: u32 = 32u; // 128 / 4
const TILE: u32 = 16u;

struct Params {
  b: u32,
  t: u32,
  nh: u32,
  nkv: u32,
  d: u32,
  scale: f32,
  fp8_base: u32, // scale of q at fp8s[fp8_base], k at + fp8_stride, v at + 2 * fp8_stride
  fp8_stride: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> o: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<storage, read> doc: array<u32>;
@group(0) @binding(7) var<storage, read> fp8s: array<f32>;
@group(0) @binding(8) var<storage, read> dout: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read_write> drow: array<f32>;
@group(0) @binding(10) var<storage, read_write> g1: array<vec4<f32>>; // dq, or dk
@group(0) @binding(11) var<storage, read_write> g2: array<vec4<f32>>; // dv

// Values 4*half .. 4*half+3 of a chunk.
fn part(w: vec4<u32>, half: u32) -> vec4<f32> {
  if (KIND == 2u) {
    let h = select(w.xy, w.zw, half == 1u);
    return vec4<f32>(bf16_at(h.x, 0u), bf16_at(h.x, 1u), bf16_at(h.y, 0u), bf16_at(h.y, 1u));
  }
  return bitcast<vec4<f32>>(w);
}

// The FP8 ablation's rounding of a q/k/v value group (which = 0/1/2 picks its scale).
fn fp8v(x: vec4<f32>, which: u32) -> vec4<f32> {
  if (!FP8) {
    return x;
  }
  let s = fp8s[p.fp8_base + which * p.fp8_stride];
  var r: vec4<f32>;
  for (var i = 0u; i < 4u; i++) {
    r[i] = fp8_to_f32(fp8_from_f32_bits(bitcast<u32>(x[i] * s), 0u), 0u) / s;
  }
  return r;
}

fn round_p(x: f32) -> f32 {
  return select(x, fp8_to_f32(fp8_from_f32_bits(bitcast<u32>(x * 448.0), 0u), 0u) / 448.0, FP8);
}

// vec4 group c4 (values 4*c4..) of the row starting at element `base` (base % E == 0).
fn q4(base: u32, c4: u32) -> vec4<f32> {
  return fp8v(part(q[(base + c4 * 4u) / E], c4 % (E / 4u)), 0u);
}

fn k4(base: u32, c4: u32) -> vec4<f32> {
  return fp8v(part(k[(base + c4 * 4u) / E], c4 % (E / 4u)), 1u);
}

fn v4(base: u32, c4: u32) -> vec4<f32> {
  return fp8v(part(v[(base + c4 * 4u) / E], c4 % (E / 4u)), 2u);
}

fn o4(base: u32, c4: u32) -> vec4<f32> {
  return part(o[(base + c4 * 4u) / E], c4 % (E / 4u));
}

fn do4(base: u32, c4: u32) -> vec4<f32> {
  return part(dout[(base + c4 * 4u) / E], c4 % (E / 4u));
}

fn allowed(i: u32, j: u32, bb: u32, di: u32) -> bool {
  if (j > i) {
    return false;
  }
  if (HAS_DOC) {
    return doc[bb * p.t + j] == di;
  }
  return true;
}

fn doc_of(bb: u32, i: u32) -> u32 {
  if (HAS_DOC) {
    return doc[bb * p.t + i];
  }
  return 0u;
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x * 64u + lid.x;
  let h = wid.y;
  let bb = wid.z;
  if (i >= p.t) {
    return;
  }
  let kvh = h / (p.nh / p.nkv);
  let qb = ((bb * p.t + i) * p.nh + h) * HD;
  var qr: array<vec4<f32>, MAX_D4>;
  var acc: array<vec4<f32>, MAX_D4>;
  for (var c = 0u; c < HD / 4u; c++) {
    qr[c] = q4(qb, c) * p.scale;
    acc[c] = vec4<f32>();
  }
  let di = doc_of(bb, i);
  var m = -3.0e38;
  var l = 0.0;
  for (var j0 = 0u; j0 <= i; j0 += TILE) {
    var s: array<f32, TILE>;
    var tmax = -3.0e38;
    for (var jj = 0u; jj < TILE; jj++) {
      let j = j0 + jj;
      s[jj] = -3.0e38;
      if (allowed(i, j, bb, di)) {
        let kb = ((bb * p.t + j) * p.nkv + kvh) * HD;
        var dt = 0.0;
        for (var c = 0u; c < HD / 4u; c++) {
          dt += dot(qr[c], k4(kb, c));
        }
        s[jj] = dt;
        tmax = max(tmax, dt);
      }
    }
    if (tmax <= -3.0e38) {
      continue;
    }
    let mn = max(m, tmax);
    let corr = exp(m - mn);
    l *= corr;
    for (var c = 0u; c < HD / 4u; c++) {
      acc[c] *= corr;
    }
    for (var jj = 0u; jj < TILE; jj++) {
      if (s[jj] > -3.0e38) {
        let pj = round_p(exp(s[jj] - mn));
        l += pj;
        let vb = ((bb * p.t + j0 + jj) * p.nkv + kvh) * HD;
        for (var c = 0u; c < HD / 4u; c++) {
          acc[c] += pj * v4(vb, c);
        }
      }
    }
    m = mn;
  }
  let inv = 1.0 / l;
  for (var w = 0u; w < HD / E; w++) {
    if (KIND == 2u) {
      let a = acc[2u * w] * inv;
      let b = acc[2u * w + 1u] * inv;
      o[qb / E + w] = vec4<u32>(bf16_pack2(a.x, a.y), bf16_pack2(a.z, a.w), bf16_pack2(b.x, b.y), bf16_pack2(b.z, b.w));
    } else {
      o[qb / E + w] = bitcast<vec4<u32>>(acc[w] * inv);
    }
  }
  lse[(bb * p.nh + h) * p.t + i] = m + log(l);
}

@compute @workgroup_size(64)
fn bwd_pre(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x * 64u + lid.x;
  let h = wid.y;
  let bb = wid.z;
  if (i >= p.t) {
    return;
  }
  let qb = ((bb * p.t + i) * p.nh + h) * HD;
  var s = 0.0;
  for (var c = 0u; c < HD / 4u; c++) {
    s += dot(do4(qb, c), o4(qb, c));
  }
  drow[(bb * p.nh + h) * p.t + i] = s;
}

@compute @workgroup_size(64)
fn bwd_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x * 64u + lid.x;
  let h = wid.y;
  let bb = wid.z;
  if (i >= p.t) {
    return;
  }
  let kvh = h / (p.nh / p.nkv);
  let qb = ((bb * p.t + i) * p.nh + h) * HD;
  var qr: array<vec4<f32>, MAX_D4>;
  var dor: array<vec4<f32>, MAX_D4>;
  var dq: array<vec4<f32>, MAX_D4>;
  for (var c = 0u; c < HD / 4u; c++) {
    qr[c] = q4(qb, c) * p.scale;
    dor[c] = do4(qb, c);
    dq[c] = vec4<f32>();
  }
  let row = (bb * p.nh + h) * p.t + i;
  let li = lse[row];
  let dr = drow[row];
  let di = doc_of(bb, i);
  for (var j = 0u; j <= i; j++) {
    if (!allowed(i, j, bb, di)) {
      continue;
    }
    let kb = ((bb * p.t + j) * p.nkv + kvh) * HD;
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < HD / 4u; c++) {
      s += dot(qr[c], k4(kb, c));
      dp += dot(dor[c], v4(kb, c));
    }
    let ds = exp(s - li) * (dp - dr);
    for (var c = 0u; c < HD / 4u; c++) {
      dq[c] += ds * k4(kb, c);
    }
  }
  for (var c = 0u; c < HD / 4u; c++) {
    g1[qb / 4u + c] = dq[c] * p.scale;
  }
}

@compute @workgroup_size(64)
fn bwd_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x * 64u + lid.x;
  let kvh = wid.y;
  let bb = wid.z;
  if (j >= p.t) {
    return;
  }
  let group = p.nh / p.nkv;
  let kb = ((bb * p.t + j) * p.nkv + kvh) * HD;
  var kr: array<vec4<f32>, MAX_D4>;
  var vr: array<vec4<f32>, MAX_D4>;
  var dk: array<vec4<f32>, MAX_D4>;
  var dv: array<vec4<f32>, MAX_D4>;
  for (var c = 0u; c < HD / 4u; c++) {
    kr[c] = k4(kb, c);
    vr[c] = v4(kb, c);
    dk[c] = vec4<f32>();
    dv[c] = vec4<f32>();
  }
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var i = j; i < p.t; i++) {
      if (!allowed(i, j, bb, doc_of(bb, i))) {
        continue;
      }
      let qb = ((bb * p.t + i) * p.nh + h) * HD;
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < HD / 4u; c++) {
        s += dot(q4(qb, c), kr[c]);
        dp += dot(do4(qb, c), vr[c]);
      }
      let row = (bb * p.nh + h) * p.t + i;
      let pij = exp(s * p.scale - lse[row]);
      let ds = pij * (dp - drow[row]);
      let pv = round_p(pij);
      for (var c = 0u; c < HD / 4u; c++) {
        dv[c] += pv * do4(qb, c);
        dk[c] += ds * q4(qb, c);
      }
    }
  }
  for (var c = 0u; c < HD / 4u; c++) {
    g1[kb / 4u + c] = dk[c] * p.scale;
    g2[kb / 4u + c] = dv[c];
  }
}
