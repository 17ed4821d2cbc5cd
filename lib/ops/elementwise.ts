/**
 * f32 elementwise glue on the GPU (kernels/elementwise.wgsl): residual adds, gradient
 * accumulation, scaling, zeroing, and free reshapes. References are one-liners, written in the test.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import { empty, expectTensor, Tensor } from "../gpu/tensor.ts";

function _p(n: number, alpha: number): Uint32Array {
  const u = new Uint32Array([n, 0, 0, 0]);
  new Float32Array(u.buffer)[1] = alpha;
  return u;
}

/** out = a + alpha·b (same shapes; a new tensor). */
export function add(rt: GpuRuntime, a: Tensor, b: Tensor, alpha = 1): Tensor {
  expectTensor("add a", a, "f32");
  expectTensor("add b", b, "f32", a.shape);
  const out = empty(rt, a.shape);
  rt.dispatch(
    rt.kernel("elementwise", "add"),
    [a.buffer, b.buffer, out.buffer, rt.uniform(_p(a.size, alpha))],
    grid1d(a.size, 256),
  );
  return out;
}

/** y += alpha·x in place (gradient accumulation, residual streams). */
export function addInto(rt: GpuRuntime, y: Tensor, x: Tensor, alpha = 1): void {
  expectTensor("addInto y", y, "f32");
  expectTensor("addInto x", x, "f32", y.shape);
  if (x.buffer === y.buffer) {
    throw new GpuUsageError("addInto: x and y are the same buffer; use scale");
  }
  rt.dispatch(
    rt.kernel("elementwise", "axpy"),
    [x.buffer, undefined, y.buffer, rt.uniform(_p(y.size, alpha))],
    grid1d(y.size, 256),
  );
}

/** y *= alpha in place. */
export function scale(rt: GpuRuntime, y: Tensor, alpha: number): void {
  expectTensor("scale y", y, "f32");
  rt.dispatch(
    rt.kernel("elementwise", "scale"),
    [undefined, undefined, y.buffer, rt.uniform(_p(y.size, alpha))],
    grid1d(y.size, 256),
  );
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
