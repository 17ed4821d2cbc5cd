// attention.wgsl — causal grouped-query self-attention, flash style: forward and backward without
// ever materialising the T x T matrix.
// Layout (row-major): q, o, do (B, T, NH, D); k, v (B, T, NKV, D); KIND 0 = f32, 2 = bf16 packed two
// per u32 (q, k, v, o, do all of that kind); lse, drow (B, NH, T) f32; dq (B, T, NH, D), dk, dv
// (B, T, NKV, D) f32; doc (B, T) u32 document id per token when HAS_DOC (a query attends to keys
// j <= i of its own document only). Query head h reads KV head h / (NH / NKV).
// Precision: loads decoded to f32, scores, softmax statistics (running max m, sum l, lse = m +
// log l) and accumulators all f32. forward: one invocation per query row, keys in tiles of 16 with
// one online-softmax rescale per tile. backward (FlashAttention-2 algebra, no atomics, so
// deterministic): bwd_pre drow_i = do_i . o_i; bwd_dq one invocation per query row; bwd_dkv one
// invocation per key row, looping over the query heads of its group and the queries i >= j.
// FP8 (ablation only, Thunder-LLM's unstable setting): q, k, v are rounded through E4M3 with the
// per-tensor scales fp8s[0..2] (value = fp8(x * s) / s) and the probabilities through E4M3 with
// scale 448 (p <= 1) before the P.V product; gradients are straight-through.
// Grid: (ceil(T/64), NH or NKV, B); workgroup 64.
// @include numeric

override KIND: u32 = 2u;
override HAS_DOC: bool = false;
override FP8: bool = false;
const MAX_D: u32 = 128u;
const TILE: u32 = 16u;

struct Params {
  b: u32,
  t: u32,
  nh: u32,
  nkv: u32,
  d: u32,
  scale: f32, // 1 / sqrt(D)
  _a: u32,
  _b: u32,
}

@group(0) @binding(0) var<storage, read> q: array<u32>;
@group(0) @binding(1) var<storage, read> k: array<u32>;
@group(0) @binding(2) var<storage, read> v: array<u32>;
@group(0) @binding(3) var<storage, read_write> o: array<u32>; // o (forward; read by bwd_pre)
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<storage, read> doc: array<u32>;
@group(0) @binding(7) var<storage, read> fp8s: array<f32>;
@group(0) @binding(8) var<storage, read> dout: array<u32>;
@group(0) @binding(9) var<storage, read_write> drow: array<f32>;
@group(0) @binding(10) var<storage, read_write> g1: array<f32>; // dq, or dk
@group(0) @binding(11) var<storage, read_write> g2: array<f32>; // dv

fn dec(word: u32, idx: u32) -> f32 {
  if (KIND == 2u) {
    return bf16_at(word, idx);
  }
  return bitcast<f32>(word);
}

fn widx(idx: u32) -> u32 {
  return select(idx, idx >> 1u, KIND == 2u);
}

fn fp8_round(x: f32, s: f32) -> f32 {
  return fp8_to_f32(fp8_from_f32_bits(bitcast<u32>(x * s), 0u), 0u) / s;
}

fn ld_q(i: u32) -> f32 {
  let x = dec(q[widx(i)], i);
  return select(x, fp8_round(x, fp8s[0]), FP8);
}

fn ld_k(i: u32) -> f32 {
  let x = dec(k[widx(i)], i);
  return select(x, fp8_round(x, fp8s[1]), FP8);
}

fn ld_v(i: u32) -> f32 {
  let x = dec(v[widx(i)], i);
  return select(x, fp8_round(x, fp8s[2]), FP8);
}

fn ld_o(i: u32) -> f32 {
  return dec(o[widx(i)], i);
}

fn ld_do(i: u32) -> f32 {
  return dec(dout[widx(i)], i);
}

fn round_p(x: f32) -> f32 {
  return select(x, fp8_round(x, 448.0), FP8);
}

// May query i (document di) attend to key j?
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
  let d = p.d;
  let kvh = h / (p.nh / p.nkv);
  let qb = ((bb * p.t + i) * p.nh + h) * d;
  var qr: array<f32, MAX_D>;
  var acc: array<f32, MAX_D>;
  for (var c = 0u; c < d; c++) {
    qr[c] = ld_q(qb + c) * p.scale;
    acc[c] = 0.0;
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
        let kb = ((bb * p.t + j) * p.nkv + kvh) * d;
        var dot = 0.0;
        for (var c = 0u; c < d; c++) {
          dot += qr[c] * ld_k(kb + c);
        }
        s[jj] = dot;
        tmax = max(tmax, dot);
      }
    }
    if (tmax <= -3.0e38) {
      continue; // every key of this tile is masked
    }
    let mn = max(m, tmax);
    let corr = exp(m - mn);
    l *= corr;
    for (var c = 0u; c < d; c++) {
      acc[c] *= corr;
    }
    for (var jj = 0u; jj < TILE; jj++) {
      if (s[jj] > -3.0e38) {
        let pj = round_p(exp(s[jj] - mn));
        l += pj;
        let vb = ((bb * p.t + j0 + jj) * p.nkv + kvh) * d;
        for (var c = 0u; c < d; c++) {
          acc[c] += pj * ld_v(vb + c);
        }
      }
    }
    m = mn;
  }
  let inv = 1.0 / l;
  if (KIND == 2u) {
    for (var c = 0u; c < d; c += 2u) {
      o[(qb + c) >> 1u] = bf16_pack2(acc[c] * inv, acc[c + 1u] * inv);
    }
  } else {
    for (var c = 0u; c < d; c++) {
      o[qb + c] = bitcast<u32>(acc[c] * inv);
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
  let qb = ((bb * p.t + i) * p.nh + h) * p.d;
  var s = 0.0;
  for (var c = 0u; c < p.d; c++) {
    s += ld_do(qb + c) * ld_o(qb + c);
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
  let d = p.d;
  let kvh = h / (p.nh / p.nkv);
  let qb = ((bb * p.t + i) * p.nh + h) * d;
  var qr: array<f32, MAX_D>;
  var dor: array<f32, MAX_D>;
  var dq: array<f32, MAX_D>;
  for (var c = 0u; c < d; c++) {
    qr[c] = ld_q(qb + c) * p.scale;
    dor[c] = ld_do(qb + c);
    dq[c] = 0.0;
  }
  let row = (bb * p.nh + h) * p.t + i;
  let li = lse[row];
  let dr = drow[row];
  let di = doc_of(bb, i);
  for (var j = 0u; j <= i; j++) {
    if (!allowed(i, j, bb, di)) {
      continue;
    }
    let kb = ((bb * p.t + j) * p.nkv + kvh) * d;
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < d; c++) {
      s += qr[c] * ld_k(kb + c);
      dp += dor[c] * ld_v(kb + c);
    }
    let ds = exp(s - li) * (dp - dr);
    for (var c = 0u; c < d; c++) {
      dq[c] += ds * ld_k(kb + c);
    }
  }
  for (var c = 0u; c < d; c++) {
    g1[qb + c] = dq[c] * p.scale;
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
  let d = p.d;
  let group = p.nh / p.nkv;
  let kb = ((bb * p.t + j) * p.nkv + kvh) * d;
  var kr: array<f32, MAX_D>;
  var vr: array<f32, MAX_D>;
  var dk: array<f32, MAX_D>;
  var dv: array<f32, MAX_D>;
  for (var c = 0u; c < d; c++) {
    kr[c] = ld_k(kb + c);
    vr[c] = ld_v(kb + c);
    dk[c] = 0.0;
    dv[c] = 0.0;
  }
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var i = j; i < p.t; i++) {
      if (!allowed(i, j, bb, doc_of(bb, i))) {
        continue;
      }
      let qb = ((bb * p.t + i) * p.nh + h) * d;
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < d; c++) {
        s += ld_q(qb + c) * kr[c];
        dp += ld_do(qb + c) * vr[c];
      }
      let row = (bb * p.nh + h) * p.t + i;
      let pij = exp(s * p.scale - lse[row]);
      let ds = pij * (dp - drow[row]);
      let pv = round_p(pij);
      for (var c = 0u; c < d; c++) {
        dv[c] += pv * ld_do(qb + c);
        dk[c] += ds * ld_q(qb + c);
      }
    }
  }
  for (var c = 0u; c < d; c++) {
    g1[kb + c] = dk[c] * p.scale;
    g2[kb + c] = dv[c];
  }
}
