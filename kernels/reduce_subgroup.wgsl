// reduce_subgroup.wgsl — v2 of reduce.wgsl: workgroup-wide f32 sum and max over 256 invocations
// with subgroup operations (subgroupAdd / subgroupMax within a subgroup, then one value per
// subgroup through workgroup memory: one barrier instead of reduce.wgsl's nine). Included, no
// entry points; needs the device's `subgroups` feature (Deno's WebGPU grants it unlisted and
// takes the builtins without `enable subgroups;`, which Naga rejects). Pass the entry point's
// @builtin(subgroup_size) and @builtin(subgroup_invocation_id); assumes subgroups hold
// consecutive local indices (as 1-D workgroups are laid out on llvmpipe and NVIDIA) and a
// subgroup size ≥ 4. Checked against reduce.wgsl and a TypeScript reference through
// row_stats.wgsl (lib/ops/row_stats_test.ts; llvmpipe's subgroups have 8 lanes); the other ops
// still include reduce.wgsl until `deno task bench gpu` shows on a GPU that this pays.

var<workgroup> red_sg: array<f32, 64>;

fn wg_sum_sg(v: f32, li: u32, sg_size: u32, sg_lane: u32) -> f32 {
  let s = subgroupAdd(v);
  if (sg_lane == 0u) {
    red_sg[li / sg_size] = s;
  }
  workgroupBarrier();
  var t = 0.0;
  for (var i = 0u; i < 256u / sg_size; i++) {
    t += red_sg[i];
  }
  workgroupBarrier();
  return t;
}

fn wg_max_sg(v: f32, li: u32, sg_size: u32, sg_lane: u32) -> f32 {
  let s = subgroupMax(v);
  if (sg_lane == 0u) {
    red_sg[li / sg_size] = s;
  }
  workgroupBarrier();
  var t = red_sg[0];
  for (var i = 1u; i < 256u / sg_size; i++) {
    t = max(t, red_sg[i]);
  }
  workgroupBarrier();
  return t;
}
