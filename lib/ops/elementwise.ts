/**
 * f32 elementwise glue on the GPU (kernels/elementwise.wgsl): residual adds, gradient
 * accumulation, scaling, zeroing, and free reshapes. References are one-liners, written in the test.
 * Tensors larger than one storage binding are processed in chunks, each bound as its own range.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import {
  type BindingOptions,
  elementRanges,
  elementView,
  empty,
  expectTensor,
  Tensor,
} from "../gpu/tensor.ts";

function _p(n: number, alpha: number): Uint32Array {
  const u = new Uint32Array([n, 0, 0, 0]);
  new Float32Array(u.buffer)[1] = alpha;
  return u;
}

/**
 * Dispatches `entry` of kernels/elementwise.wgsl over chunks of `n` elements that fit one binding,
 * binding each chunk of the tensors given as (a, b, y).
 */
function _run(
  rt: GpuRuntime,
  entry: "add" | "axpy" | "scale",
  ts: [Tensor | undefined, Tensor | undefined, Tensor],
  alpha: number,
  opts: BindingOptions,
): void {
  const n = ts[2].size;
  const pipe = rt.kernel("elementwise", entry);
  for (const [s, c] of elementRanges(n, 4, rt.bindingLimit(opts.bindingLimit))) {
    const binds = ts.map((t) => t && elementView(t, s, c));
    rt.dispatch(pipe, [...binds, rt.uniform(_p(c, alpha))], grid1d(c, 256));
  }
}

/** out = a + alpha·b (same shapes; a new tensor). */
export function add(
  rt: GpuRuntime,
  a: Tensor,
  b: Tensor,
  alpha = 1,
  opts: BindingOptions = {},
): Tensor {
  expectTensor("add a", a, "f32");
  expectTensor("add b", b, "f32", a.shape);
  const out = empty(rt, a.shape);
  _run(rt, "add", [a, b, out], alpha, opts);
  return out;
}

/** y += alpha·x in place (gradient accumulation, residual streams). */
export function addInto(
  rt: GpuRuntime,
  y: Tensor,
  x: Tensor,
  alpha = 1,
  opts: BindingOptions = {},
): void {
  expectTensor("addInto y", y, "f32");
  expectTensor("addInto x", x, "f32", y.shape);
  if (x.buffer === y.buffer) {
    throw new GpuUsageError("addInto: x and y are the same buffer; use scale");
  }
  _run(rt, "axpy", [x, undefined, y], alpha, opts);
}

/** y *= alpha in place. */
export function scale(rt: GpuRuntime, y: Tensor, alpha: number, opts: BindingOptions = {}): void {
  expectTensor("scale y", y, "f32");
  _run(rt, "scale", [undefined, undefined, y], alpha, opts);
}

/** Sets every element of `t` to zero on the GPU (recorded, no upload). */
export function zero(rt: GpuRuntime, t: Tensor): void {
  rt.clear(t.buffer, 0, t.bytes);
}

/** The same buffer seen with another shape of the same size (free; no copy). */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== t.size) {
    throw new GpuUsageError(`reshape: ${t} has ${t.size} elements, [${shape}] ${n}`);
  }
  return new Tensor(t.buffer, shape, t.dtype);
}
