// rmsnorm.wgsl — RMSNorm forward and backward, f32.
// Layout: x, y, dy, dx (N, C) row-major; w, dw (C); rstd (N) saved by forward.
// forward:     rstd[n] = 1/sqrt(mean_c x[n,c]^2 + eps); y = x * rstd * w      (one workgroup per row)
// backward_dx: dx = rstd*w*dy - rstd^3/C * x * sum_c(w*dy*x)                    (one workgroup per row)
// backward_dw: dw[c] (+)= sum_n dy[n,c] * x[n,c] * rstd[n]                      (one invocation per column)
// Precision: f32 with tree reductions in workgroup memory.
// @include reduce

struct Params {
  n: u32,
  c: u32,
  eps: f32,
  accumulate: u32, // backward_dw: 1 adds into dw
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // y (forward) or dx (backward_dx) or dw
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read> dy: array<f32>;

fn row_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(256)
fn forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = row_id(wid, nwg);
  let ok = row < p.n;
  let base = min(row, p.n - 1u) * p.c;
  var ss = 0.0;
  for (var i = li; i < p.c; i += 256u) {
    let v = x[base + i];
    ss += v * v;
  }
  let r = inverseSqrt(wg_sum(ss, li) / f32(p.c) + p.eps);
  if (!ok) {
    return;
  }
  for (var i = li; i < p.c; i += 256u) {
    y[base + i] = x[base + i] * r * w[i];
  }
  if (li == 0u) {
    rstd[row] = r;
  }
}

@compute @workgroup_size(256)
fn backward_dx(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = row_id(wid, nwg);
  let ok = row < p.n;
  let rr = min(row, p.n - 1u);
  let base = rr * p.c;
  var s = 0.0;
  for (var i = li; i < p.c; i += 256u) {
    s += w[i] * dy[base + i] * x[base + i];
  }
  let tot = wg_sum(s, li);
  if (!ok) {
    return;
  }
  let r = rstd[rr];
  let k = r * r * r / f32(p.c) * tot;
  for (var i = li; i < p.c; i += 256u) {
    y[base + i] = r * w[i] * dy[base + i] - k * x[base + i];
  }
}

@compute @workgroup_size(256)
fn backward_dw(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.c) {
    return;
  }
  var s = 0.0;
  for (var n = 0u; n < p.n; n++) {
    s += dy[n * p.c + c] * x[n * p.c + c] * rstd[n];
  }
  if (p.accumulate == 1u) {
    s += y[c];
  }
  y[c] = s;
}
