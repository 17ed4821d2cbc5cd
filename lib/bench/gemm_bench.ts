/**
 * `deno task bench gemm`: GFLOP/s of Jikji's GEMM with f32, f16 and FP8-emulated (E4M3, packed,
 * decoded in the shader) operands at several sizes, each beside tfjs-webgpu's f32 `matMul` of the
 * same shape measured in the same run on the same machine. Both sides are timed the same way: the
 * best of several runs of dispatch + wait + readback of C (wall clock), so the shared machine's
 * noise hurts both alike.
 *
 * @module
 */

import type { BenchContext, BenchResult, BenchSuite } from "./harness.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { type DType, empty, free, fromArray, type Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/gemm.ts";
import { quantizeFp8 } from "../ops/cast.ts";
import { randn } from "../ops/testing.ts";

async function bestOf(repeats: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Times tfjs-webgpu's f32 matMul of (n×n)·(n×n) in ms (best of `repeats`). */
async function tfjsMatmulMs(n: number, repeats: number): Promise<{ ms: number; adapter: string }> {
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.getBackend() !== "webgpu") {
    await tf.setBackend("webgpu");
    await tf.ready();
  }
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  const ms = await bestOf(repeats, async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  });
  a.dispose();
  b.dispose();
  return { ms, adapter: "tfjs-webgpu" };
}

async function* run(ctx: BenchContext): AsyncGenerator<BenchResult> {
  const rt = await getRuntime();
  const sizes = ctx.quick ? [256, 512] : [256, 512, 1024];
  const repeats = ctx.quick ? 2 : 4;
  const adapter = rt.gpu.description;
  for (const n of sizes) {
    const flops = 2 * n ** 3;
    ctx.log(`gemm ${n}³: tfjs-webgpu f32 …`);
    const peer = await tfjsMatmulMs(n, repeats);
    const peerGflops = flops / peer.ms / 1e6;
    const data = randn(n * n, n);
    const variants: [string, DType][] = [["f32", "f32"], ["f16-input", "f16"], [
      "fp8-e4m3",
      "e4m3",
    ]];
    for (const [label, dtype] of variants) {
      ctx.log(`gemm ${n}³: jikji ${label} …`);
      let a: Tensor, b: Tensor;
      let opts = {};
      const scales = rt.upload(new Float32Array([1, 1]));
      const amax = rt.upload(new Uint32Array(2));
      if (dtype === "e4m3") {
        const x = fromArray(rt, data, [n, n]);
        const s = { buffer: scales, index: 0 };
        a = quantizeFp8(rt, x, "e4m3", s, { buffer: amax, index: 0 });
        b = quantizeFp8(rt, x, "e4m3", s, { buffer: amax, index: 1 });
        free(rt, x);
        opts = { scaleInvA: s, scaleInvB: s };
      } else {
        a = fromArray(rt, data, [n, n], dtype);
        b = fromArray(rt, data, [n, n], dtype);
      }
      const c = empty(rt, [n, n]);
      const ms = await bestOf(repeats, async () => {
        matmul(rt, a, b, { ...opts, out: c });
        await rt.readF32(c.buffer, n * n);
      });
      free(rt, a, b, c);
      yield {
        name: `gemm ${label} ${n}³`,
        value: flops / ms / 1e6,
        unit: "GFLOP/s",
        peer: "tfjs-webgpu f32 matMul",
        peer_value: peerGflops,
        note: `${adapter}; best of ${repeats}, incl. readback`,
      };
    }
  }
}

/** The `gemm` benchmark suite. */
export const gemmBench: BenchSuite = {
  name: "gemm",
  summary: "GEMM GFLOP/s (f32, f16-input, FP8-emulated) vs tfjs-webgpu matMul in the same run",
  run,
};
