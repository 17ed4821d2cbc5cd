// embedding.wgsl — token embedding gather and its gradient, f32.
// gather:      out[n, :] = table[ids[n], :]      out (N, C), table (V, C), ids (N) u32
// scatter_add: dtable[v, :] += sum of dout[n, :] over the tokens n with ids[n] == v, without atomics:
//   the caller sorts tokens by id on the CPU into CSR form (uniq (U) ids, start (U+1) offsets into
//   order (N) token indices); one workgroup per unique id sums its rows in a fixed order, so the
//   result is deterministic.

struct Params {
  n: u32, // tokens (gather) or unique ids (scatter_add)
  c: u32,
  v: u32,
  _p: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>; // table (gather) or dout (scatter_add)
@group(0) @binding(1) var<storage, read_write> dst: array<f32>; // out (gather) or dtable
@group(0) @binding(2) var<storage, read> ids: array<u32>; // ids (gather) or uniq
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> start: array<u32>;
@group(0) @binding(5) var<storage, read> order: array<u32>;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n * p.c) {
    return;
  }
  let n = i / p.c;
  let c = i % p.c;
  let id = min(ids[n], p.v - 1u);
  dst[i] = src[id * p.c + c];
}

@compute @workgroup_size(256)
fn scatter_add(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let u = wid.x + wid.y * nwg.x;
  if (u >= p.n) {
    return;
  }
  let v = ids[u];
  for (var c = li; c < p.c; c += 256u) {
    var s = dst[v * p.c + c];
    for (var j = start[u]; j < start[u + 1u]; j++) {
      s += src[order[j] * p.c + c];
    }
    dst[v * p.c + c] = s;
  }
}
