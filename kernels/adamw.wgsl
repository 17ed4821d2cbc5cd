// adamw.wgsl — one AdamW step (decoupled weight decay, bias correction), f32, in place.
// Layout: param, grad, m, v flat (N); clip (2) = (global grad norm, clip factor) from grad_norm.wgsl.
// g = grad * clip[1]; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// param = param * (1 - lr wd) - lr * (m / bc1) / (sqrt(v / bc2) + eps), bc_i = 1 - b_i^t
// (PyTorch torch.optim.AdamW order). One invocation per element; grid1d. Tensors above one binding
// come in chunks (lib/ops/optim.ts): n is the chunk's length, each array bound from its start.

struct Params {
  n: u32,
  lr: f32,
  b1: f32,
  b2: f32,
  eps: f32,
  wd: f32,
  bc1: f32,
  bc2: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  let g = grad[i] * clip[1];
  let mi = p.b1 * m[i] + (1.0 - p.b1) * g;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * (1.0 - p.lr * p.wd) - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
