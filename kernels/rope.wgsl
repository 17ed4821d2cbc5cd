// rope.wgsl — rotary position embedding (Hugging Face Llama "rotate_half" convention), f32.
// Layout: x, out (N tokens, H heads, D) row-major; pos (N) u32 position of each token (positions
// restart per packed document when the caller says so); table (P, D/2, 2) = (cos, sin) of
// pos * inv_freq[i], made on the CPU in f64 (lib/ops/ref/nn.ts applies Llama 3.1 scaling), since
// WGSL's sin/cos are only accurate near [-pi, pi].
// For i < D/2: out[i] = x[i]*cos - x[i+D/2]*sin; out[i+D/2] = x[i+D/2]*cos + x[i]*sin.
// DIR = -1 applies the inverse rotation: the backward (dx from dy). One invocation per pair.

override DIR: f32 = 1.0;

struct Params {
  n: u32,
  h: u32,
  d: u32,
  max_pos: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = p.d / 2u;
  let idx = gid.x + gid.y * nwg.x * 256u; // (token, head, i) with i < half
  if (idx >= p.n * p.h * half) {
    return;
  }
  let i = idx % half;
  let th = idx / half; // token * h + head
  let t = th / p.h;
  let ps = min(pos[t], p.max_pos - 1u);
  let c = table[(ps * half + i) * 2u];
  let s = DIR * table[(ps * half + i) * 2u + 1u];
  let base = th * p.d;
  let a = x[base + i];
  let b = x[base + i + half];
  out[base + i] = a * c - b * s;
  out[base + i + half] = b * c + a * s;
}
