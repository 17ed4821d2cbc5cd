// reduce.wgsl — workgroup-wide f32 sum and max over 256 invocations (included, no entry points).
// Call from uniform control flow with the invocation's local index; every invocation gets the result.

var<workgroup> red_buf: array<f32, 256>;

fn wg_sum(v: f32, li: u32) -> f32 {
  red_buf[li] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) {
      red_buf[li] += red_buf[li + s];
    }
    workgroupBarrier();
  }
  let r = red_buf[0];
  workgroupBarrier();
  return r;
}

fn wg_max(v: f32, li: u32) -> f32 {
  red_buf[li] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) {
      red_buf[li] = max(red_buf[li], red_buf[li + s]);
    }
    workgroupBarrier();
  }
  let r = red_buf[0];
  workgroupBarrier();
  return r;
}
