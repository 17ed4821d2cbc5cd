/**
 * Row sums and maxima of an f32 (rows, n) tensor (kernels/row_stats.wgsl), with the workgroup
 * reduction of reduce.wgsl (`v1`: shared memory and barriers) or of reduce_subgroup.wgsl
 * (`subgroups`: needs the device's `subgroups` feature). It checks and times the two reductions
 * against each other; reference: {@linkcode rowStatsRef} in lib/ops/ref/row_stats.ts.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { empty, expectTensor, type Tensor } from "../gpu/tensor.ts";

/** (rows, 2) f32: each row's sum, then its max. */
export function rowStats(rt: GpuRuntime, x: Tensor, variant: "v1" | "subgroups" = "v1"): Tensor {
  expectTensor("rowStats x", x, "f32", [undefined, undefined]);
  if (variant === "subgroups" && !rt.has("subgroups")) {
    throw new GpuUsageError("rowStats: this device was not granted the subgroups feature");
  }
  const [rows, n] = x.shape;
  const out = empty(rt, [rows, 2]);
  const entry = variant === "v1" ? "main_v1" : "main_sg";
  rt.dispatch(
    rt.kernel("row_stats", entry),
    [x.buffer, out.buffer, rt.uniform(new Uint32Array([n, 0, 0, 0]))],
    [rows],
  );
  return out;
}
