// swiglu.wgsl — SwiGLU gate, f32. Layout: g, u, h, dh, dg, du flat (N) arrays.
// forward:  h = silu(g) * u, silu(g) = g * sigmoid(g)
// backward: dg = dh * u * sig * (1 + g * (1 - sig)); du = dh * silu(g)
// One invocation per element; grid1d. Tensors above one binding come in chunks (lib/ops/nn.ts):
// n is the chunk's length, each array bound from the chunk's first element.

struct Params {
  n: u32,
  _a: u32,
  _b: u32,
  _c: u32,
}

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>; // h (forward) or dg (backward)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> dh: array<f32>;
@group(0) @binding(5) var<storage, read_write> du: array<f32>;

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  let gv = g[i];
  h[i] = gv * sigmoid(gv) * u[i];
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  let gv = g[i];
  let s = sigmoid(gv);
  h[i] = dh[i] * u[i] * s * (1.0 + gv * (1.0 - s));
  du[i] = dh[i] * gv * s;
}
