import assert from "node:assert/strict";
import { getRuntime, GpuUsageError } from "./runtime.ts";
import { gpuTest } from "./testing.ts";

const SAXPY = `
override WG: u32 = 64u;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: vec4<f32>; // a, n
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < u32(p.y)) { y[id.x] = p.x * x[id.x] + y[id.x]; }
}`;

/** The plain reference. */
function saxpyRef(a: number, x: Float32Array, y: Float32Array): Float32Array {
  return y.map((v, i) => Math.fround(Math.fround(a * x[i]) + v));
}

gpuTest("GpuRuntime.dispatch() runs a kernel that matches its reference", async () => {
  const rt = await getRuntime();
  const n = 1000; // not a multiple of the workgroup size
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
  const bx = rt.upload(x);
  const by = rt.upload(y);
  const p = rt.uniform(new Float32Array([2.5, n, 0, 0]));
  const pipe = rt.pipeline("saxpy", SAXPY, "main", { WG: 64 });
  rt.dispatch(pipe, [bx, by, p], [Math.ceil(n / 64)]);
  const got = await rt.readF32(by, n);
  assert.deepEqual(got, saxpyRef(2.5, x, y));
  rt.release(bx);
  rt.release(by);
});

gpuTest("GpuRuntime.buffer() reuses released buffers of the same bucket", async () => {
  const rt = await getRuntime();
  const a = rt.buffer(1000);
  rt.release(a);
  const b = rt.buffer(900);
  assert.equal(a, b);
  rt.release(b);
});

gpuTest(
  "GpuRuntime.dispatch() refuses bindings beyond the device limit before running",
  async () => {
    const rt = await getRuntime();
    const pipe = rt.pipeline("saxpy", SAXPY);
    const small = rt.buffer(16);
    const fake = { buffer: small, offset: 0, size: rt.maxBinding + 4 };
    assert.throws(() => rt.dispatch(pipe, [fake, small, small], [1]), GpuUsageError);
    assert.throws(() => rt.dispatch(pipe, [small, small, small], [1e9]), GpuUsageError);
    rt.release(small);
  },
);

gpuTest("GpuRuntime.time() measures GPU work", async () => {
  const rt = await getRuntime();
  const n = 1 << 16;
  const bx = rt.upload(new Float32Array(n));
  const by = rt.upload(new Float32Array(n));
  const p = rt.uniform(new Float32Array([1, n, 0, 0]));
  const pipe = rt.pipeline("saxpy", SAXPY);
  const t = await rt.time(() => rt.dispatch(pipe, [bx, by, p], [n / 64]));
  assert.ok(t.ms >= 0 && Number.isFinite(t.ms), `time ${t.ms}`);
  assert.equal(t.source, rt.has("timestamp-query") ? "timestamp" : "wall");
});
