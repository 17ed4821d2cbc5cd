// fp8_scale.wgsl — delayed scaling (Transformer Engine's DelayedScaling recipe) for per-tensor FP8
// scales, all on the GPU. Layout (S = slots, H = history length):
//   amax_now  u32[S]    this step's amax of each tensor as f32 bits (raised by cast.wgsl's atomicMax)
//   history   f32[S*H]  history[s*H + 0] is the newest amax
//   state     f32[S*3]  (scale, scale_inv, fp8_max) per slot
// update: push amax_now into the history (dropping the oldest), reset amax_now to 0, then
//   amax = max(history); scale = fp8_max / amax / 2^margin when amax is finite and > 0 (else the
//   scale is kept); scale_inv = 1 / scale. Precision: f32, same order of operations as the TS
//   reference (delayedScalingRef in lib/ops/ref/fp8.ts); WGSL allows division 2.5 ULP of error, so
//   tests compare scales to 1e-6 relative, and the history itself exactly.

struct Params {
  slots: u32,
  hist: u32,
  pow2_margin: f32, // 2^margin
  _p: u32,
}

@group(0) @binding(0) var<storage, read_write> amax_now: array<u32>;
@group(0) @binding(1) var<storage, read_write> history: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = gid.x;
  if (s >= p.slots) {
    return;
  }
  let base = s * p.hist;
  for (var i = p.hist - 1u; i > 0u; i--) {
    history[base + i] = history[base + i - 1u];
  }
  history[base] = bitcast<f32>(amax_now[s]);
  amax_now[s] = 0u;
  var amax = 0.0;
  for (var i = 0u; i < p.hist; i++) {
    amax = max(amax, history[base + i]);
  }
  if (amax > 0.0 && amax < 3.4e38) {
    let scale = state[s * 3u + 2u] / amax / p.pow2_margin;
    state[s * 3u] = scale;
    state[s * 3u + 1u] = 1.0 / scale;
  }
}
