// cast.wgsl — elementwise format conversion: f32 <-> packed FP8 (E4M3/E5M2) and f32 <-> packed BF16.
// Layout: x is a flat f32 array read as u32 bit patterns (length n); FP8 output four codes per u32,
// BF16 output two per u32 (numeric.wgsl). Precision: bit-exact with lib/ops/ref/cast.ts.
// quantize_fp8 computes code = fp8(x * scale[p.scale_idx]) and, in the same pass, the tensor's
// amax (max |x| over finite values, as f32 bits via atomicMax) into amax[p.amax_idx] — the
// statistic delayed scaling records for later steps.
// Tensors above one binding come in chunks (lib/ops/cast.ts), each bound as its own byte range
// from a multiple of 1024 elements: n is the chunk's element count and indices start at 0.
// @include numeric

override FMT: u32 = 0u; // 0 = E4M3, 1 = E5M2

struct Params {
  n: u32,
  scale_idx: u32,
  amax_idx: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> amax: array<atomic<u32>>;

var<workgroup> wg_amax: atomic<u32>;

// One invocation per output word (four elements); grid x*y covers ceil(n/4) words.
@compute @workgroup_size(256)
fn quantize_fp8(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  if (li == 0u) {
    atomicStore(&wg_amax, 0u);
  }
  workgroupBarrier();
  let w = gid.x + gid.y * nwg.x * 256u;
  let s = scale[p.scale_idx];
  var word = 0u;
  var local_max = 0u;
  if (w * 4u < p.n) {
    for (var j = 0u; j < 4u; j++) {
      let i = w * 4u + j;
      if (i < p.n) {
        var bits = x[i];
        let a = bits & 0x7fffffffu;
        if (a < 0x7f800000u) {
          local_max = max(local_max, a);
        }
        if (s != 1.0) {
          bits = bitcast<u32>(bitcast<f32>(bits) * s);
        }
        word |= fp8_from_f32_bits(bits, FMT) << (j * 8u);
      }
    }
    out[w] = word;
  }
  atomicMax(&wg_amax, local_max);
  workgroupBarrier();
  if (li == 0u) {
    atomicMax(&amax[p.amax_idx], atomicLoad(&wg_amax));
  }
}

// out[i] = bits of fp8(x[i]) * scale[p.scale_idx] (scale is the inverse of the quantizing scale).
@compute @workgroup_size(256)
fn dequantize_fp8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  var bits = fp8_to_f32_bits((x[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu, FMT);
  let s = scale[p.scale_idx];
  if (s != 1.0) {
    bits = bitcast<u32>(bitcast<f32>(bits) * s);
  }
  out[i] = bits;
}

// One invocation per output word (two elements).
@compute @workgroup_size(256)
fn encode_bf16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * 256u;
  if (w * 2u >= p.n) {
    return;
  }
  var word = bf16_from_f32_bits(x[w * 2u]);
  if (w * 2u + 1u < p.n) {
    word |= bf16_from_f32_bits(x[w * 2u + 1u]) << 16u;
  }
  out[w] = word;
}

@compute @workgroup_size(256)
fn decode_bf16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  out[i] = select(x[i >> 1u] << 16u, x[i >> 1u] & 0xffff0000u, (i & 1u) == 1u);
}
