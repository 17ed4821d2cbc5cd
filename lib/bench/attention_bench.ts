/**
 * `deno task bench attention`: causal GQA attention forward (and forward + backward) in BF16 with
 * Jikji's flash-style kernels, beside tfjs-webgpu's composed attention (matMul, mask, softmax,
 * matMul in f32, materialising T×T) for the forward in the same run. Both timed the same way: best
 * of several runs of dispatch + wait + readback of the output (wall clock).
 *
 * @module
 */

import type { BenchContext, BenchResult, BenchSuite } from "./harness.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { free, fromArray } from "../gpu/tensor.ts";
import { attention, attentionBackward } from "../ops/attention.ts";
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

async function tfjsAttentionMs(bh: number, t: number, d: number, repeats: number): Promise<number> {
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.getBackend() !== "webgpu") {
    await tf.setBackend("webgpu");
    await tf.ready();
  }
  const q = tf.randomUniform([bh, t, d]), k = tf.randomUniform([bh, t, d]);
  const v = tf.randomUniform([bh, t, d]);
  const lower = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
  const mask = tf.mul(tf.sub(1, lower), -1e9);
  const ms = await bestOf(repeats, async () => {
    const o = tf.tidy(() => {
      const s = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), mask);
      return tf.matMul(tf.softmax(s), v);
    });
    await o.data();
    o.dispose();
  });
  tf.dispose([q, k, v, lower, mask]);
  return ms;
}

async function* run(ctx: BenchContext): AsyncGenerator<BenchResult> {
  const rt = await getRuntime();
  const repeats = ctx.quick ? 2 : 3;
  const [b, nh, nkv, d] = [1, 8, 2, 64];
  for (const t of ctx.quick ? [128] : [128, 256, 512]) {
    // causal: half the T×T scores; forward = QKᵀ and PV, 2 FLOPs per multiply-add
    const flops = 2 * 2 * b * nh * d * (t * (t + 1)) / 2;
    ctx.log(`attention T=${t}: tfjs-webgpu …`);
    const peerMs = await tfjsAttentionMs(b * nh, t, d, repeats);
    const shapeQ = [b, t, nh, d], shapeK = [b, t, nkv, d];
    const q = fromArray(rt, randn(b * t * nh * d, 1), shapeQ, "bf16");
    const k = fromArray(rt, randn(b * t * nkv * d, 2), shapeK, "bf16");
    const v = fromArray(rt, randn(b * t * nkv * d, 3), shapeK, "bf16");
    const dout = fromArray(rt, randn(b * t * nh * d, 4), shapeQ, "bf16");
    ctx.log(`attention T=${t}: jikji …`);
    const fwdMs = await bestOf(repeats, async () => {
      const { o, lse } = attention(rt, q, k, v);
      await rt.read(o.buffer, o.bytes);
      free(rt, o, lse);
    });
    const note = `B=${b} NH=${nh} NKV=${nkv} D=${d}; ${rt.gpu.description}`;
    yield {
      name: `attention fwd bf16 T=${t}`,
      value: flops / fwdMs / 1e6,
      unit: "GFLOP/s",
      peer: "tfjs-webgpu matMul+softmax f32",
      peer_value: flops / peerMs / 1e6,
      note,
    };
    const bwdMs = await bestOf(repeats, async () => {
      const { o, lse } = attention(rt, q, k, v);
      const g = attentionBackward(rt, q, k, v, o, lse, dout);
      await rt.read(g.dq.buffer, 4);
      free(rt, o, lse, g.dq, g.dk, g.dv);
    });
    // backward recomputes scores twice and does 3 more products: ~3.5× the forward's FLOPs
    yield {
      name: `attention fwd+bwd bf16 T=${t}`,
      value: (4.5 * flops) / bwdMs / 1e6,
      unit: "GFLOP/s",
      note: `${note}; FLOPs counted as 4.5× forward`,
    };
    free(rt, q, k, v, dout);
  }
}

/** The `attention` benchmark suite. */
export const attentionBench: BenchSuite = {
  name: "attention",
  summary: "causal GQA attention (BF16, flash-style) vs tfjs-webgpu composed attention",
  run,
};
