import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32 } from "../gpu/tensor.ts";
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
