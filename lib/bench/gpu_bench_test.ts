import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest } from "../gpu/testing.ts";
import { parseLlamaConfig, readLlamaConfig } from "../model/config.ts";
import { saveModel } from "../model/hf_folder.ts";
import { initParams } from "../model/params.ts";
import { pytorchFolderScores } from "../model/golden.ts";
import {
  benchParams,
  compareLogits,
  findTorchPython,
  type GpuBenchPlan,
  parityCheck,
  parityTokens,
  randomBatch,
  runGpuBench,
  runPeer,
} from "./gpu_bench.ts";
import type { BenchResult } from "./harness.ts";

const python = await findTorchPython();

/** Null where PyTorch is missing (said loudly), except under CI, where that fails the test. */
function torchOrSkip(): string | null {
  if (python) return python;
  if (Deno.env.get("CI") === "true") throw new Error("no python3 with torch (CI needs it)");
  console.warn("\n!!! SKIPPED: no python3 with torch (apt-get install -y python3-torch)\n");
  return null;
}

Deno.test("randomBatch() gives next-token targets below the vocabulary", () => {
  const { tokens, targets } = randomBatch(50, 2, 6, 3);
  assert.equal(tokens.length, 12);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 5; t++) assert.equal(targets[b * 6 + t], tokens[b * 6 + t + 1]);
  }
  assert.ok([...tokens, ...targets].every((x) => x >= 0 && x < 50));
  assert.deepEqual(randomBatch(50, 2, 6, 3), { tokens, targets });
});

Deno.test("benchParams() fills every parameter: matrices N(0, 0.02)-tiled, norms ones", async () => {
  const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
  const p = benchParams(cfg);
  const ref = initParams(cfg, 0);
  assert.deepEqual([...p.keys()], [...ref.keys()]);
  for (const [name, a] of p) {
    assert.equal(a.length, ref.get(name)!.length);
    if (name.endsWith("norm.weight")) assert.ok(a.every((x) => x === 1));
    else {
      const sd = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
      assert.ok(Math.abs(sd - 0.02) < 0.002, `${name}: sd ${sd}`);
    }
  }
});

Deno.test("compareLogits() reports the largest difference, its scale and argmax agreement", () => {
  const ref = new Float32Array([1, 2, 3, 4, -8, 0]);
  const got = new Float32Array([1, 2.5, 3, 4, -8, 5]);
  const r = compareLogits(got, ref, 3);
  assert.equal(r.absMax, 5);
  assert.equal(r.scale, 8);
  assert.equal(r.relMax, 5 / 8);
  assert.equal(r.argmaxAgree, 0.5); // row 0: argmax 2 both; row 1: 0 vs 2
  assert.throws(() => compareLogits(got, ref.subarray(1), 3), /5 in the reference/);
});

Deno.test("gpu_peer.py gives every part's figures at tiny size on the CPU", async () => {
  const py = torchOrSkip();
  if (!py) return;
  const dir = await Deno.makeTempDir();
  const cfg = {
    hidden_size: 32,
    intermediate_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 1,
    vocab_size: 40,
  };
  const { tokens, targets } = randomBatch(40, 1, 8);
  const lines = await runPeer(
    py,
    {
      threads: 1,
      gemm: [{ name: "g", m: 16, n: 8, k: 4 }],
      attention: [{ name: "a", B: 1, T: 8, NH: 2, NKV: 1, D: 8 }],
      train: [{
        name: "t",
        config: cfg,
        B: 1,
        T: 8,
        steps: 2,
        tokens: [...tokens],
        targets: [...targets],
      }],
      parity: { dir: join(dir, "parity"), config: cfg, B: 1, T: 4, tokens: [1, 2, 3, 4] },
    },
    dir,
    120,
    () => {},
  );
  const get = (part: string, dtype?: string) =>
    lines.find((l) => l.part === part && (dtype === undefined || l.dtype === dtype));
  assert.match(get("env")!.torch, /^\d/);
  for (const dt of ["fp32", "bf16"]) {
    assert.ok(get("gemm", dt)!.tflops > 0, dt);
    const t = get("train", dt)!;
    assert.ok(t.tokens_per_s > 0 && Number.isFinite(t.loss_last), dt);
    assert.ok(Math.abs(t.loss_first - Math.log(40)) < 0.5, `${dt}: first loss ${t.loss_first}`);
  }
  const a = get("attention")!;
  assert.ok(a.fwd_ms > 0 && a.fwdbwd_ms > 0);
  const p = get("parity")!;
  if (p.skipped) assert.match(p.skipped, /transformers/);
  else assert.deepEqual(p.shape, [1, 4, 40]);
  assert.equal(lines.filter((l) => l.error).length, 0, JSON.stringify(lines));
  await Deno.remove(dir, { recursive: true });
});

gpuTest("parityCheck() matches float64 PyTorch on a folder Jikji saved", async () => {
  const cfg = parseLlamaConfig({
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    vocab_size: 80,
    rope_theta: 500000.0,
    rope_scaling: {
      rope_type: "llama3",
      factor: 8.0,
      low_freq_factor: 1.0,
      high_freq_factor: 4.0,
      original_max_position_embeddings: 64,
    },
  });
  const dir = await Deno.makeTempDir();
  await saveModel(dir, cfg, initParams(cfg, 1, 0.1));
  const [B, T] = [2, 12];
  const tokens = parityTokens(80, B, T);
  const rows = Array.from({ length: B }, (_, b) => [...tokens.subarray(b * T, (b + 1) * T)]);
  const ref = await pytorchFolderScores(dir, rows);
  if (!ref) return;
  await Deno.writeFile(
    join(dir, "ref_logits.f32"),
    new Uint8Array(new Float32Array(ref.logits!.flat(2)).buffer),
  );
  const r = await parityCheck(dir, B, T);
  assert.equal(r.argmaxAgree, 1);
  assert.ok(r.relMax < 1e-5, `relative difference ${r.relMax}`);
  await Deno.remove(dir, { recursive: true });
});

gpuTest("runGpuBench() yields every part's rows at a micro plan", async () => {
  const tiny = await readLlamaConfig("data/configs/llama-tiny.json");
  const plan: GpuBenchPlan = {
    size: "small",
    gemm: [{ name: "64³", m: 64, n: 64, k: 64 }],
    gemmRepeats: 1,
    attention: [{ name: "a", B: 1, T: 16, NH: 2, NKV: 1, D: 64 }],
    train: [{ label: "tiny", cfg: tiny, B: 1, T: 8, steps: 2 }],
    parity: {
      cfg: {
        hidden_size: 32,
        intermediate_size: 64,
        num_attention_heads: 2,
        num_hidden_layers: 1,
        vocab_size: 40,
      },
      B: 1,
      T: 4,
    },
    presets: [{ name: "tiny", cfg: tiny }],
    capacityBytes: 64 * 2 ** 20,
    largest: { candidates: [tiny], B: 1, T: 8, steps: 1 },
    rowBudgetMs: 60_000,
    largestReserveS: 0,
    budgetS: 300,
    peerBudgetS: 120,
  };
  const rows: BenchResult[] = [];
  for await (const r of runGpuBench(plan, () => {})) rows.push(r);
  const names = rows.map((r) => r.name);
  const want = [
    "adapter subgroups granted",
    "adapter maxStorageBufferBindingSize",
    "memory plan tiny fp32 B=1 T=4096",
    "gemm f32 64³",
    "gemm f16-input 64³",
    "gemm fp8-e4m3 64³",
    "attention fwd a",
    "attention fwd+bwd a",
    "row sum+max, shared-memory reduction",
    ...["fp32", "bf16", "fp8"].flatMap((
      p,
    ) => [`train tiny ${p} tokens/s`, `train tiny ${p} peak memory`]),
    "train tiny fp8 / fp32 speed-up",
  ];
  for (const n of want) assert.ok(names.includes(n), `missing row "${n}" in ${names.join(" | ")}`);
  assert.ok(names.some((n) => n.startsWith("logits parity vs transformers")));
  assert.ok(names.some((n) => /^largest fitting config .* peak memory$/.test(n)));
  assert.deepEqual(rows.filter((r) => r.unit === "error"), []);
  for (
    const r of rows.filter((r) =>
      /^(gemm|attention|train)/.test(r.name) && /FLOP|tokens/.test(r.unit)
    )
  ) {
    assert.ok(r.value > 0, r.name);
    if (python) assert.ok(r.peer_value! > 0, `${r.name} has no PyTorch peer`);
  }
});
