import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { initParams, Rng } from "../model/params.ts";
import { createEngine, type EngineOptions } from "./engine.ts";
import { THUNDER_ADAMW } from "./optim.ts";

const cfg = parseLlamaConfig({
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 40,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  max_position_embeddings: 32,
});

function options(): EngineOptions {
  return {
    cfg,
    params: initParams(cfg, 3),
    adam: THUNDER_ADAMW,
    B: 2,
    T: 8,
    precision: "fp32",
    fp8Attention: false,
    clip: 1,
  };
}

function batches(step: number) {
  const rng = new Rng(100 + step);
  return [0, 1].map(() => {
    const tokens = new Int32Array(16).map(() => rng.nextU32() % 20);
    const targets = tokens.map((t) => (t + 1) % 20); // learnable: next id
    return { tokens, targets: Int32Array.from(targets) };
  });
}

gpuTest("GPU engine steps (AdamW, clipping on the GPU) track the CPU engine in fp32", async () => {
  const cpu = await createEngine("cpu", options());
  const gpu = await createEngine("gpu", options());
  for (let s = 0; s < 6; s++) {
    const a = await cpu.step(batches(s), 3e-3);
    const b = await gpu.step(batches(s), 3e-3);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4 * a.loss, `step ${s}: cpu ${a.loss} gpu ${b.loss}`);
    assert.ok(
      Math.abs(a.gradNorm - b.gradNorm) < 1e-3 * a.gradNorm,
      `norm ${a.gradNorm} ${b.gradNorm}`,
    );
  }
  const sc = await cpu.snapshot(), sg = await gpu.snapshot();
  assert.equal(sg.t, 6);
  for (const [k, p] of sc.params) {
    const q = sg.params.get(k)!;
    let d = 0;
    for (let i = 0; i < p.length; i++) d = Math.max(d, Math.abs(p[i] - q[i]));
    assert.ok(d < 1e-4, `${k}: max |cpu - gpu| ${d}`);
  }
  const ev = await gpu.evalBatch(batches(9)[0]);
  const ec = await cpu.evalBatch(batches(9)[0]);
  assert.equal(ev.count, ec.count);
  assert.ok(Math.abs(ev.sum - ec.sum) < 1e-3);
  gpu.close();
});

Deno.test("createEngine() refuses the fp8-attention ablation outside fp8", async () => {
  await assert.rejects(
    () => createEngine("gpu", { ...options(), precision: "bf16", fp8Attention: true }),
    /--fp8-attention needs --precision fp8/,
  );
});

gpuTest("GPU engine runs the fp8-attention ablation with its own q/k/v scales", async () => {
  const plain = await createEngine("gpu", { ...options(), precision: "fp8" });
  const abl = await createEngine("gpu", { ...options(), precision: "fp8", fp8Attention: true });
  let a = await plain.step(batches(0), 3e-3), b = await abl.step(batches(0), 3e-3);
  for (let s = 1; s < 4; s++) {
    [a, b] = [await plain.step(batches(s), 3e-3), await abl.step(batches(s), 3e-3)];
  }
  assert.ok(b.fp8!.has("l0.att.q") && b.fp8!.get("l0.att.q")!.scale !== 1);
  assert.ok(!a.fp8!.has("l0.att.q"));
  assert.notEqual(a.loss, b.loss); // the ablation changes the numerics…
  assert.ok(Math.abs(a.loss - b.loss) < 0.05 * a.loss, `${a.loss} vs ${b.loss}`); // …a little
  plain.close();
  abl.close();
});

gpuTest("GPU engine trains in fp8 and reports amax and scales per tensor", async () => {
  const gpu = await createEngine("gpu", { ...options(), precision: "fp8" });
  const first = await gpu.step(batches(0), 3e-3);
  let last = first;
  for (let s = 1; s < 12; s++) last = await gpu.step(batches(s % 3), 3e-3);
  assert.ok(last.loss < first.loss, `fp8 loss ${first.loss} → ${last.loss}`);
  assert.ok(last.fp8 && last.fp8.has("l0.q.w") && last.fp8.has("dl1.down"));
  assert.ok([...last.fp8.values()].every((s) => s.scale > 0 && Number.isFinite(s.amax)));
  gpu.close();
});

gpuTest(
  "fp8 training with packed-f16 GEMMs (gpuOps gemm h2) keeps the f32-FMA losses",
  async () => {
    const { getRuntime } = await import("../gpu/runtime.ts");
    const { gpuOps } = await import("../model/ops_gpu.ts");
    const rt = await getRuntime();
    if (!rt.has("shader-f16")) {
      console.warn("\n!!! SKIPPED: this device has no shader-f16\n");
      return;
    }
    const cfg = parseLlamaConfig({
      hidden_size: 64,
      intermediate_size: 176,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      vocab_size: 96,
    });
    const [B, T] = [2, 16]; // 32 tokens: every product's K is a multiple of 16
    const rng = new Rng(5);
    const tokens = new Int32Array(B * T).map(() => rng.nextU32() % 96);
    const targets = new Int32Array(B * T).map(() => rng.nextU32() % 96);
    const losses: number[][] = [];
    for (const gemm of ["v2", "h2"] as const) {
      const engine = await createEngine("gpu", {
        ops: gpuOps(rt, { gemm }) as never,
        cfg,
        params: initParams(cfg, 3),
        adam: THUNDER_ADAMW,
        B,
        T,
        precision: "fp8",
        clip: 1,
      });
      const l: number[] = [];
      for (let s = 0; s < 4; s++) l.push((await engine.step([{ tokens, targets }], 3e-3)).loss);
      engine.close();
      losses.push(l);
    }
    assert.ok(losses[1][3] < losses[1][0] - 0.01, `h2 run did not learn: ${losses[1]}`);
    // FP8 products are exact in f16; only the 16-k f16 partial sums differ: well under 0.5%
    for (let s = 0; s < 4; s++) {
      console.log(losses);
      const rel = Math.abs(losses[1][s] - losses[0][s]) / losses[0][s];
      assert.ok(rel < 5e-3, `step ${s + 1}: ${losses[1][s]} vs ${losses[0][s]}`);
    }
  },
);
