/**
 * `deno task bench gemm`: GFLOP/s of Jikji's GEMM with f32, f16 and FP8-emulated (E4M3, packed,
 * decoded in the shader) operands at several sizes, each beside tfjs-webgpu's f32 `matMul` of the
 * same shape measured in the same run on the same machine. Both sides are timed the same way
 * (dispatch + wait + readback of C, wall clock), interleaved round by round, best of the rounds, so
 * load from other processes hurts both alike.
 *
 * @module
 */

import type { BenchContext, BenchResult, BenchSuite } from "./harness.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { type DType, empty, free, fromArray, type Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/gemm.ts";
import { quantizeFp8 } from "../ops/cast.ts";
import { randn } from "../ops/testing.ts";

/** Loads tfjs-webgpu (once) and returns a timer of its f32 matMul for (n×n)·(n×n). */
async function tfjsMatmul(n: number): Promise<{ run: () => Promise<void>; dispose: () => void }> {
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.getBackend() !== "webgpu") {
    await tf.setBackend("webgpu");
    await tf.ready();
  }
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  return {
    run: async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    },
    dispose: () => tf.dispose([a, b]),
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function* run(ctx: BenchContext): AsyncGenerator<BenchResult> {
  const rt = await getRuntime();
  const sizes = ctx.quick ? [256, 512] : [256, 512, 1024];
  const rounds = ctx.quick ? 2 : 5;
  const adapter = rt.gpu.description;
  const variants: [string, DType][] = [["f32", "f32"], ["f16-input", "f16"], ["fp8-e4m3", "e4m3"]];
  for (const n of sizes) {
    const flops = 2 * n ** 3;
    const data = randn(n * n, n);
    const peer = await tfjsMatmul(n);
    const jobs = variants.map(([label, dtype]) => {
      let a: Tensor, b: Tensor;
      let opts = {};
      if (dtype === "e4m3") {
        const scales = rt.upload(new Float32Array([1, 1]));
        const amax = rt.upload(new Uint32Array(2));
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
      const go = async () => {
        matmul(rt, a, b, { ...opts, out: c });
        await rt.readF32(c.buffer, n * n);
      };
      return { label, go, free: () => free(rt, a, b, c) };
    });
    // warm up, then interleave peer and variants each round so load from other processes hits
    // both alike; keep the best time of each
    ctx.log(`gemm ${n}³: warm-up …`);
    await peer.run();
    for (const j of jobs) await j.go();
    let peerBest = Infinity;
    const best = jobs.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      ctx.log(`gemm ${n}³: round ${r + 1}/${rounds} …`);
      peerBest = Math.min(peerBest, await timed(peer.run));
      for (const [i, j] of jobs.entries()) best[i] = Math.min(best[i], await timed(j.go));
    }
    peer.dispose();
    for (const [i, j] of jobs.entries()) {
      j.free();
      yield {
        name: `gemm ${j.label} ${n}³`,
        value: flops / best[i] / 1e6,
        unit: "GFLOP/s",
        peer: "tfjs-webgpu f32 matMul",
        peer_value: flops / peerBest / 1e6,
        note: `${adapter}; best of ${rounds} interleaved rounds, incl. readback`,
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
