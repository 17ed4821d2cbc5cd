import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { free, fromArray, toF32 } from "../gpu/tensor.ts";
import { add, addInto, reshape, scale, zero } from "./elementwise.ts";
import { randn } from "./testing.ts";

gpuTest("add(), addInto(), scale() and zero() match plain f32 arithmetic", async () => {
  const rt = await getRuntime();
  const n = 1000;
  const a = randn(n, 1), b = randn(n, 2);
  const ta = fromArray(rt, a, [n]), tb = fromArray(rt, b, [n]);
  const f = Math.fround;
  // one or two f32 roundings per element: compared exactly against Math.fround of the same steps
  // (an fma would differ by ≤ 1 ulp, so allow that)
  const near = (x: number, y: number) => Math.abs(x - y) <= 2 ** -23 * Math.max(Math.abs(y), 1e-30);
  const sum = await toF32(rt, add(rt, ta, tb, 0.5));
  a.forEach((v, i) => assert.ok(near(sum[i], f(v + f(0.5 * b[i]))), `add ${i}`));
  addInto(rt, ta, tb, 2);
  const acc = await toF32(rt, ta);
  a.forEach((v, i) => assert.ok(near(acc[i], f(v + f(2 * b[i]))), `addInto ${i}`));
  scale(rt, tb, -3);
  const sc = await toF32(rt, tb);
  b.forEach((v, i) => assert.equal(sc[i], f(-3 * v)));
  zero(rt, tb);
  assert.ok((await toF32(rt, tb)).every((v) => v === 0));
  assert.deepEqual(reshape(ta, [10, 100]).shape, [10, 100]);
  assert.throws(() => reshape(ta, [3, 3]), /elements/);
  assert.throws(() => addInto(rt, ta, ta), /same buffer/);
});

gpuTest("add(), addInto() and scale() split over bindings match unsplit bit for bit", async () => {
  const rt = await getRuntime();
  const n = 5000; // chunks of 1024 elements and a ragged tail
  const split = { bindingLimit: 4096 };
  const a = randn(n, 3), b = randn(n, 4);
  const ta = fromArray(rt, a, [50, 100]), tb = fromArray(rt, b, [50, 100]);
  const s1 = await toF32(rt, add(rt, ta, tb, 0.5));
  const d0 = rt.dispatchCount;
  const s2 = await toF32(rt, add(rt, ta, tb, 0.5, split));
  assert.equal(rt.dispatchCount - d0, 5, "five chunks");
  assert.deepEqual(s2, s1, "add");
  const y1 = fromArray(rt, a, [n]), y2 = fromArray(rt, a, [n]), x = fromArray(rt, b, [n]);
  addInto(rt, y1, x, -2);
  addInto(rt, y2, x, -2, split);
  assert.deepEqual(await toF32(rt, y2), await toF32(rt, y1), "addInto");
  scale(rt, y1, 3);
  scale(rt, y2, 3, split);
  const got = await toF32(rt, y2);
  assert.deepEqual(got, await toF32(rt, y1), "scale");
  const f = Math.fround;
  const near = (u: number, w: number) => Math.abs(u - w) <= 2 ** -22 * Math.max(Math.abs(w), 1e-30);
  a.forEach((v, i) => assert.ok(near(got[i], f(3 * f(v + f(-2 * b[i])))), `ref ${i}`));
  free(rt, ta, tb, y1, y2, x);
});
