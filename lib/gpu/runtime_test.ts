import assert from "node:assert/strict";
import { getRuntime, GpuUsageError } from "./runtime.ts";
import { gpuTest } from "./testing.ts";
import { zeros } from "./tensor.ts";

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

gpuTest(
  "GpuRuntime.uniform() buffers are destroyed after the flush that submits their work",
  async () => {
    const rt = await getRuntime();
    const before = rt.liveUniforms;
    const n = 256;
    const bx = rt.upload(new Float32Array(n).fill(1));
    const by = rt.upload(new Float32Array(n));
    const pipe = rt.pipeline("saxpy", SAXPY);
    for (let i = 0; i < 50; i++) {
      rt.dispatch(pipe, [bx, by, rt.uniform(new Float32Array([1, n, 0, 0]))], [n / 64]);
    }
    assert.equal(rt.liveUniforms, before + 50);
    const y = await rt.readF32(by, n);
    assert.equal(y[0], 50);
    assert.equal(rt.liveUniforms, before);
    const u = rt.uniform(new Float32Array([1, n, 0, 0]));
    rt.dispatch(pipe, [bx, by, u], [n / 64]);
    await rt.sync();
    assert.throws(() => rt.dispatch(pipe, [bx, by, u], [n / 64]), /keep: true/);
    const kept = rt.uniform(new Float32Array([1, n, 0, 0]), { keep: true });
    rt.dispatch(pipe, [bx, by, kept], [n / 64]);
    await rt.sync();
    rt.dispatch(pipe, [bx, by, kept], [n / 64]);
    assert.equal((await rt.readF32(by, 1))[0], 53);
    kept.destroy();
    rt.release(bx);
    rt.release(by);
  },
);

gpuTest(
  "GpuRuntime.allocatedBytes counts live and pooled buffers until trimPool(); peakBytes its high-water mark",
  async () => {
    const rt = await getRuntime();
    rt.trimPool();
    const base = rt.allocatedBytes;
    rt.resetPeak();
    assert.equal(rt.peakBytes, base);
    const a = rt.buffer(1000); // bucket 1024
    const b = rt.upload(new Float32Array(3000)); // 12000 bytes: bucket 16384
    assert.equal(rt.allocatedBytes, base + 1024 + 16384);
    rt.release(a);
    assert.equal(rt.allocatedBytes, base + 1024 + 16384, "a pooled buffer stays counted");
    assert.equal(rt.buffer(900), a, "reused, not counted again");
    assert.equal(rt.allocatedBytes, base + 1024 + 16384);
    rt.release(a);
    rt.release(b);
    rt.trimPool();
    assert.equal(rt.allocatedBytes, base);
    assert.equal(rt.peakBytes, base + 1024 + 16384);
    rt.resetPeak();
    assert.equal(rt.peakBytes, base);
    rt.uniform(new Float32Array(4), { keep: true }).destroy(); // uniforms are not storage: uncounted
    assert.equal(rt.allocatedBytes, base);
  },
);

gpuTest(
  "GpuRuntime.buffer() sizes buffers above one binding exactly and refuses them above maxBufferSize",
  async () => {
    const rt = await getRuntime();
    const max = rt.device.limits.maxBufferSize;
    const oneLine = (re: RegExp) => (e: unknown) =>
      e instanceof GpuUsageError && re.test(e.message) && !e.message.includes("\n");
    assert.throws(() => rt.buffer(max + 1), oneLine(/exceeds the device's maxBufferSize/));
    const rows = Math.floor(max / (4 * 768)) + 1;
    assert.throws(() => zeros(rt, [rows, 768]), oneLine(new RegExp(`f32\\[${rows},768\\] needs`)));
    // above one binding a buffer has its own size (4-byte words), not a power-of-two bucket
    const bytes = rt.maxBinding + 6;
    if (max >= bytes + 2) {
      const big = rt.buffer(bytes);
      assert.equal(big.size, bytes + 2);
      rt.release(big);
      assert.equal(rt.buffer(bytes), big, "reused for the same size");
      rt.release(big);
      rt.trimPool();
    }
    const pow2 = 2 ** Math.floor(Math.log2(rt.maxBinding));
    const below = rt.buffer(pow2 - 4);
    assert.equal(below.size, pow2, "one binding or less: the bucket");
    rt.release(below);
  },
);
