// elementwise.wgsl — f32 vector arithmetic the model glue needs (residual adds, gradient
// accumulation, scaling). Layout: flat arrays of n elements; one invocation per element; grid1d.
// Tensors above one binding come in chunks (lib/ops/elementwise.ts): n is the chunk's length and
// each array is bound from the chunk's first element.
// add:   out = a + alpha * b
// axpy:  y = y + alpha * x        (in place; y is binding 2)
// scale: y = alpha * y            (in place)
// Precision: f32, one rounding per operation (fma where WGSL allows it is not guaranteed).

struct Params {
  n: u32,
  alpha: f32,
  _a: u32,
  _b: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) {
    y[i] = a[i] + p.alpha * b[i];
  }
}

@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) {
    y[i] = y[i] + p.alpha * a[i];
  }
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) {
    y[i] = p.alpha * y[i];
  }
}
