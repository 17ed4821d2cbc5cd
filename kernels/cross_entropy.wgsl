// cross_entropy.wgsl — softmax cross-entropy over one chunk of rows, with optional z-loss, f32.
// Layout: logits (R, S) row-major with row stride S >= V for rows row0..row0+R, overwritten by
// dloss/dlogits when GRAD (columns V..S-1 are padding: ignored, and zeroed when GRAD);
// targets (N) i32 (< 0 = ignored row: loss 0, gradient 0); loss (N) f32 per row.
// loss = lse - logit[target] + z * lse^2 with lse = log(sum exp(logits)) (max-subtracted, f32).
// dlogits = scale * (softmax - onehot(target) + 2 z lse softmax).
// One workgroup of 256 per row; V may be 200k+ (the caller chunks rows, lib/ops/loss.ts).
// @include reduce

override GRAD: bool = true;

struct Params {
  rows: u32, // rows in this chunk
  v: u32,
  z: f32,
  scale: f32,
  row0: u32, // first row of the chunk in targets and loss
  stride: u32, // row stride of logits (>= v)
  _b: u32,
  _c: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  let r = min(row, p.rows - 1u);
  let base = r * p.stride;
  var m = -3.0e38;
  for (var i = li; i < p.v; i += 256u) {
    m = max(m, logits[base + i]);
  }
  m = wg_max(m, li);
  var s = 0.0;
  for (var i = li; i < p.v; i += 256u) {
    s += exp(logits[base + i] - m);
  }
  s = wg_sum(s, li);
  if (row >= p.rows) {
    return;
  }
  let t = targets[p.row0 + r];
  let lse = m + log(s);
  if (li == 0u) {
    if (t < 0) {
      loss[p.row0 + r] = 0.0;
    } else {
      loss[p.row0 + r] = lse - logits[base + u32(t)] + p.z * lse * lse;
    }
  }
  if (GRAD) {
    workgroupBarrier(); // everyone has read logits[target] before it is overwritten
    let k = 1.0 + 2.0 * p.z * lse;
    for (var i = li; i < p.v; i += 256u) {
      var gv = 0.0;
      if (t >= 0) {
        gv = exp(logits[base + i] - lse) * k - select(0.0, 1.0, i == u32(t));
        gv *= p.scale;
      }
      logits[base + i] = gv;
    }
    for (var i = p.v + li; i < p.stride; i += 256u) {
      logits[base + i] = 0.0;
    }
  }
}
