// grad_norm.wgsl — global L2 norm of many gradient tensors and the clipping factor, f32.
// partial: each workgroup sums squares of up to 256*ITEMS elements of x (N) into partials[p.off + wg].
// finalize: one workgroup sums partials[0..p.n) (all tensors), writes out = (norm, factor) with
//   factor = min(1, max_norm / (norm + 1e-6)) (PyTorch clip_grad_norm_), or 1 when max_norm <= 0.
// AdamW reads the factor on the GPU, so clipping needs no readback.
// A tensor above one binding comes in chunks of whole 256*ITEMS blocks (lib/ops/optim.ts): x is
// bound from the chunk's first element, p.n is its length and p.off its first partial, so the
// partial sums, and the norm, are the same bit for bit as unsplit.
// @include reduce

const ITEMS: u32 = 16u;

struct Params {
  n: u32,
  off: u32,
  max_norm: f32,
  _p: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn partial(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let g = wid.x + wid.y * nwg.x;
  var s = 0.0;
  for (var j = 0u; j < ITEMS; j++) {
    let i = g * 256u * ITEMS + j * 256u + li;
    if (i < p.n) {
      let v = x[i];
      s += v * v;
    }
  }
  let t = wg_sum(s, li);
  if (li == 0u) {
    partials[p.off + g] = t;
  }
}

@compute @workgroup_size(256)
fn finalize(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.n; i += 256u) {
    s += partials[i];
  }
  let norm = sqrt(wg_sum(s, li));
  if (li == 0u) {
    out[0] = norm;
    out[1] = select(1.0, min(1.0, p.max_norm / (norm + 1e-6)), p.max_norm > 0.0);
  }
}
