import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { assertClose } from "../ops/testing.ts";
import { parseLlamaConfig } from "./config.ts";
import { createLlama } from "./backend.ts";
import { generate } from "./generate.ts";
import type { ActivationName, Llama } from "./llama.ts";
import { initParams, type Params, Rng } from "./params.ts";
import { precisionPolicy } from "./precision.ts";

const cfg = parseLlamaConfig({
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 50,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  max_position_embeddings: 64,
});

function tokens(n: number, seed: number): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => r.nextU32() % cfg.vocab_size);
}

const nextTargets = (t: Int32Array, T: number) =>
  Int32Array.from(t, (_, i) => ((i + 1) % T === 0 ? -1 : t[i + 1]));

async function lossOf(m: Llama<unknown>, t: Int32Array, B: number, T: number): Promise<number> {
  const grads = m.zeroGrads();
  const r = await m.backward(await m.forward({ B, T, tokens: t }, { grad: true }), {
    targets: nextTargets(t, T),
  }, grads);
  m.ops.free(...grads.values());
  return r.loss;
}

async function readGrads(m: Llama<unknown>, g: Map<string, unknown>): Promise<Params> {
  const out: Params = new Map();
  for (const [k, t] of g) out.set(k, await m.ops.read(t) as Float32Array);
  return out;
}

for (const mode of ["bf16", "fp8"] as const) {
  gpuTest(
    `${mode}: the GPU and CPU backends give the same loss and gradients on the same batch`,
    async () => {
      const params = initParams(cfg, 1, 0.2);
      const p = precisionPolicy(mode, { amaxHistory: 4 });
      const cpu = await createLlama(cfg, params, { device: "cpu", precision: p });
      const gpu = await createLlama(cfg, params, { device: "gpu", precision: p });
      const B = 2, T = 16;
      for (let step = 0; step < 3; step++) {
        const t = tokens(B * T, 10 + step);
        const gc = cpu.zeroGrads(), gg = gpu.zeroGrads();
        const a = await cpu.backward(
          await cpu.forward({ B, T, tokens: t }, { grad: true }),
          { targets: nextTargets(t, T) },
          gc,
        );
        const b = await gpu.backward(
          await gpu.forward({ B, T, tokens: t }, { grad: true }),
          { targets: nextTargets(t, T) },
          gg,
        );
        // same rounding points and scales: only f32 summation order differs (rarely, a value on a
        // rounding boundary rounds the other way, hence the small relative slack)
        assert.ok(
          Math.abs(a.loss - b.loss) < 2e-4 * a.loss,
          `step ${step}: cpu ${a.loss} gpu ${b.loss}`,
        );
        const [rc, rg] = [await readGrads(cpu, gc), await readGrads(gpu, gg)];
        for (const [k, want] of rc) {
          let scale = 0;
          for (const x of want) scale = Math.max(scale, Math.abs(x));
          assertClose(`${mode} step ${step} grad ${k}`, rg.get(k)!, want, { atol: 0.03 * scale });
        }
        cpu.ops.free(...gc.values());
        gpu.ops.free(...gg.values());
        if (mode === "fp8") {
          await cpu.fp8!.update();
          await gpu.fp8!.update();
          const [sc, sg] = [await cpu.fp8!.save(), await gpu.fp8!.save()];
          assertClose(`fp8 scales after step ${step}`, sg.state, sc.state, { rtol: 1e-5 });
        }
      }
      cpu.destroy();
      gpu.destroy();
    },
  );
}

gpuTest(
  "fp8-attention ablation: the GPU kernel and the CPU emulation give the same loss",
  async () => {
    const params = initParams(cfg, 2, 0.2);
    const p = precisionPolicy("fp8", { fp8Attention: true });
    const cpu = await createLlama(cfg, params, { device: "cpu", precision: p });
    const gpu = await createLlama(cfg, params, { device: "gpu", precision: p });
    const t = tokens(2 * 24, 3);
    for (let step = 0; step < 2; step++) {
      const a = await lossOf(cpu, t, 2, 24), b = await lossOf(gpu, t, 2, 24);
      assert.ok(Math.abs(a - b) < 5e-4 * a, `step ${step}: cpu ${a} gpu ${b}`);
      await cpu.fp8!.update();
      await gpu.fp8!.update();
    }
    cpu.destroy();
    gpu.destroy();
  },
);

Deno.test("backward() per-token weights: the loss is Σ w·(−log p) of score(), and the gradient scales", async () => {
  const m = await createLlama(cfg, initParams(cfg, 4, 0.2), { device: "cpu" });
  const B = 2, T = 8, t = tokens(B * T, 5), tg = nextTargets(t, T);
  const s = await m.score(await m.forward({ B, T, tokens: t }), tg);
  const w = Float32Array.from({ length: B * T }, (_, i) => (i % 3) * 0.5);
  let want = 0;
  for (let i = 0; i < B * T; i++) if (tg[i] >= 0) want -= w[i] * s.logprob[i];
  const g1 = m.zeroGrads(), g2 = m.zeroGrads();
  const r = await m.backward(await m.forward({ B, T, tokens: t }, { grad: true }), {
    targets: tg,
    weights: w,
  }, g1);
  assert.ok(Math.abs(r.loss - want) < 1e-5 * Math.abs(want), `${r.loss} vs ${want}`);
  const w2 = Float32Array.from(w, (x) => 2 * x);
  await m.backward(await m.forward({ B, T, tokens: t }, { grad: true }), {
    targets: tg,
    weights: w2,
  }, g2);
  const [a, b] = [await readGrads(m, g1), await readGrads(m, g2)];
  for (const [k, x] of a) assertClose(k, b.get(k)!, x.map((v) => 2 * v), { atol: 1e-6 });
});

/** Finite differences of `loss(params)` along a random direction vs the backward's gradient. */
async function checkDirectional(
  name: string,
  params: Params,
  loss: (m: Llama<unknown>, grads?: Map<string, unknown>) => Promise<number>,
) {
  const m0 = await createLlama(cfg, params, { device: "cpu" });
  const grads = m0.zeroGrads();
  await loss(m0, grads);
  const g = await readGrads(m0, grads);
  const r = new Rng(9);
  const dir: Params = new Map();
  let analytic = 0;
  for (const [k, p] of params) {
    const d = Float32Array.from(p, () => r.normal());
    dir.set(k, d);
    const gk = g.get(k)!;
    for (let i = 0; i < d.length; i++) analytic += d[i] * gk[i];
  }
  const eps = 1e-3;
  const shifted = (s: number) => {
    const out: Params = new Map();
    for (const [k, p] of params) out.set(k, p.map((x, i) => x + s * eps * dir.get(k)![i]));
    return out;
  };
  const lp = await loss(await createLlama(cfg, shifted(1), { device: "cpu" }));
  const lm = await loss(await createLlama(cfg, shifted(-1), { device: "cpu" }));
  const numeric = (lp - lm) / (2 * eps);
  assert.ok(
    Math.abs(numeric - analytic) < 2e-3 * Math.max(1, Math.abs(analytic)),
    `${name}: finite difference ${numeric} vs backward ${analytic}`,
  );
}

Deno.test("backward() soft targets (top-k, temperature) agree with finite differences through the model", async () => {
  const B = 1, T = 6, K = 3, t = tokens(B * T, 6);
  const r = new Rng(2);
  const ids = Int32Array.from({ length: B * T * K }, (_, i) => (i * 7 + 3) % cfg.vocab_size);
  const probs = Float32Array.from({ length: B * T * K }, () => 0.1 + 0.2 * r.next());
  const spec = {
    targets: new Int32Array(B * T).fill(-1),
    soft: { probs, ids, k: K, weights: new Float32Array(B * T).fill(0.5), temperature: 2 },
  };
  await checkDirectional("soft", initParams(cfg, 7, 0.3), async (m, grads) => {
    const g = grads ?? m.zeroGrads();
    const res = await m.backward(await m.forward({ B, T, tokens: t }, { grad: true }), spec, g);
    return res.loss;
  });
});

Deno.test("backward() value head (score.weight) agrees with finite differences through the model", async () => {
  const params = initParams(cfg, 8, 0.3);
  params.set("score.weight", Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)));
  const B = 2, T = 5, t = tokens(B * T, 7), positions = [3, 9];
  const coef = [0.7, -1.3]; // L = Σ coef_b · v_b, so ∂L/∂v_b = coef_b
  await checkDirectional("value", params, async (m, grads) => {
    const pass = await m.forward({ B, T, tokens: t }, { grad: !!grads });
    const v = await m.values(pass, positions);
    if (grads) {
      await m.backward(pass, {
        targets: new Int32Array(B * T).fill(-1),
        value: { positions, grad: coef },
      }, grads);
    } else m.release(pass);
    return coef[0] * v[0] + coef[1] * v[1];
  });
});

Deno.test("forward() on a packed row equals the documents run apart (document mask, restarted positions)", async () => {
  const m = await createLlama(cfg, initParams(cfg, 9, 0.2), { device: "cpu" });
  const a = tokens(5, 1), b = tokens(7, 2);
  const packed = Int32Array.from([...a, ...b]);
  const doc = Int32Array.from([...a].map(() => 0).concat([...b].map(() => 1)));
  const lp = await m.logits(await m.forward({ B: 1, T: 12, tokens: packed, docIds: doc }));
  const la = await m.logits(await m.forward({ B: 1, T: 5, tokens: a }));
  const lb = await m.logits(await m.forward({ B: 1, T: 7, tokens: b }));
  assertClose("packed", lp, Float32Array.from([...la, ...lb]), { atol: 1e-5 });
});

Deno.test("forward() hooks receive the named activations of every layer, with their shapes", async () => {
  const m = await createLlama(cfg, initParams(cfg, 10), { device: "cpu" });
  const seen: string[] = [];
  const names: ActivationName[] = ["attn_heads", "mlp_act"];
  m.release(
    await m.forward({ B: 1, T: 4, tokens: [1, 2, 3, 4] }, {
      hooks: { names, fn: (l, n, d, shape) => void seen.push(`${l}.${n}:${shape}:${d.length}`) },
    }),
  );
  assert.deepEqual(seen, [
    "0.attn_heads:4,32:128",
    "0.mlp_act:4,48:192",
    "1.attn_heads:4,32:128",
    "1.mlp_act:4,48:192",
  ]);
});

async function checkGenerate(device: "cpu" | "gpu") {
  const m = await createLlama(cfg, initParams(cfg, 11, 0.5), { device });
  const prompts = [[3, 4, 5], [7, 8, 9, 10, 11], [1]];
  const together = await generate(m, prompts, { maxNewTokens: 6 });
  for (let b = 0; b < prompts.length; b++) {
    // greedy by repeated full forwards, one prompt at a time
    const seq = [...prompts[b]];
    for (let i = 0; i < 6; i++) {
      const lg = await m.logits(await m.forward({ B: 1, T: seq.length, tokens: seq }), [
        seq.length - 1,
      ]);
      let best = 0;
      for (let j = 1; j < lg.length; j++) if (lg[j] > lg[best]) best = j;
      seq.push(best);
    }
    assert.deepEqual(together[b].ids, seq.slice(prompts[b].length), `${device} row ${b}`);
    assert.equal(together[b].stop, "length");
  }
  const stopped = await generate(m, prompts, {
    maxNewTokens: 6,
    stopIds: [together[0].ids[2]],
  });
  assert.equal(stopped[0].stop, "eos");
  assert.deepEqual(stopped[0].ids, together[0].ids.slice(0, 2));
  const a = await generate(m, prompts, { maxNewTokens: 6, temperature: 1, seed: 3 });
  const b = await generate(m, prompts, { maxNewTokens: 6, temperature: 1, seed: 3 });
  assert.deepEqual(a.map((g) => g.ids), b.map((g) => g.ids), "same seed, same samples");
  m.destroy();
}

Deno.test("generate() (CPU) through the KV cache equals greedy full forwards, per row of a batch", () =>
  checkGenerate("cpu"));

gpuTest(
  "generate() (GPU) through the KV cache equals greedy full forwards, per row of a batch",
  () => checkGenerate("gpu"),
);
