// row_stats.wgsl — the sum and the max of each row of x (rows, n), f32: one workgroup of 256 per
// row, each invocation folding a strided slice, then a workgroup reduction: `main_v1` with
// reduce.wgsl (shared memory and barriers), `main_sg` with reduce_subgroup.wgsl (subgroup
// operations; the module needs the `subgroups` feature). out[2r] = sum of row r, out[2r+1] = max.
// It exists to check and time the two reductions against each other (lib/ops/reduce_subgroup_test.ts,
// `deno task bench gpu`); reference: rowStatsRef in lib/ops/ref/row_stats.ts.

// @include reduce
// @include reduce_subgroup

@group(0) @binding(0) var<storage, read> x: array<f32>; // (rows, n)
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (rows, 2)
@group(0) @binding(2) var<uniform> n: vec4<u32>; // n.x = n

fn fold(row: u32, li: u32) -> vec2<f32> {
  var s = 0.0;
  var m = -3.0e38;
  for (var i = li; i < n.x; i += 256u) {
    let v = x[row * n.x + i];
    s += v;
    m = max(m, v);
  }
  return vec2<f32>(s, m);
}

@compute @workgroup_size(256)
fn main_v1(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let f = fold(wg.x, li);
  let s = wg_sum(f.x, li);
  let m = wg_max(f.y, li);
  if (li == 0u) {
    out[2u * wg.x] = s;
    out[2u * wg.x + 1u] = m;
  }
}

@compute @workgroup_size(256)
fn main_sg(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_size) sgs: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let f = fold(wg.x, li);
  let s = wg_sum_sg(f.x, li, sgs, lane);
  let m = wg_max_sg(f.y, li, sgs, lane);
  if (li == 0u) {
    out[2u * wg.x] = s;
    out[2u * wg.x + 1u] = m;
  }
}
