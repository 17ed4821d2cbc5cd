/**
 * `deno task bench gpu [--size small|full]`: Jikji on one GPU against PyTorch on the same GPU in
 * the same run. `full` is what an H200 runs (every part budgeted, the whole under 8 minutes);
 * `small` runs the same parts at small shapes on llvmpipe with a CPU PyTorch in a minute or two.
 *
 * Parts, in order: the adapter (features and limits granted, whether `subgroups` was granted);
 * the training memory plan for one 141 GB GPU (lib/train/memory_plan.ts); the PyTorch peer
 * (lib/bench/gpu_peer.py, one process, run to completion before Jikji measures); GEMM TFLOP/s
 * (f32, f16-input, FP8-emulated; FP8 and f16 also in packed halves) at 4096³ and Llama-3.1-8B's
 * linear shapes; causal GQA attention forward and forward + backward; row reductions with
 * subgroup operations against shared memory; logits parity with transformers'
 * `LlamaForCausalLM` on a random model it saved; training tokens/s and peak GPU memory at a
 * ~124M and a ~1B config in fp32, bf16 and fp8 (and fp8 with packed-f16 GEMMs); and, last (with
 * time kept for it, and nothing after it to lose should it run out of memory), a few steps of the
 * largest config the plan says fits.
 *
 * Jikji's GPU time comes from timestamp queries where the adapter has them (else wall clock
 * around submit and completion), PyTorch's from CUDA events; both exclude uploads and readback.
 * A part that fails yields one row `… failed` with the error and the others go on; parts left
 * when the time budget is spent are skipped, each with a row saying so.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { BenchContext, BenchResult, BenchSuite } from "./harness.ts";
import { UserError } from "../io/errors.ts";
import { getRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import { byteSize, type DType, empty, free, fromArray, type Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/gemm.ts";
import { quantizeFp8, toBf16 } from "../ops/cast.ts";
import { attention, attentionBackward } from "../ops/attention.ts";
import { rowStats } from "../ops/row_stats.ts";
import { type LlamaConfig, readLlamaConfig } from "../model/config.ts";
import { type Params, paramShapes, Rng } from "../model/params.ts";
import { createLlama } from "../model/backend.ts";
import { loadModel } from "../model/hf_folder.ts";
import { precisionPolicy } from "../model/precision.ts";
import { createEngine } from "../train/engine.ts";
import { gpuOps } from "../model/ops_gpu.ts";
import type { Ops } from "../model/ops.ts";
import { THUNDER_ADAMW } from "../train/optim.ts";
import {
  deepestFitting,
  HEADROOM,
  largestFitting,
  type Preset,
  PRESETS,
  trainingMemory,
} from "../train/memory_plan.ts";

/** The two sizes. */
export type GpuBenchSize = "small" | "full";

/** One GEMM shape: C (m, n) = A (m, k) · Wᵀ with W (n, k), as a linear layer computes it. */
export interface GemmShape {
  name: string;
  m: number;
  n: number;
  k: number;
}

/** One attention shape (causal GQA, BF16). */
export interface AttentionShape {
  name: string;
  B: number;
  T: number;
  NH: number;
  NKV: number;
  D: number;
}

/** One training config. */
export interface TrainCase {
  label: string;
  cfg: LlamaConfig;
  B: number;
  T: number;
  /** Steps per precision; the first is a warm-up, tokens/s is over the rest. */
  steps: number;
}

/** What one size runs. */
export interface GpuBenchPlan {
  size: GpuBenchSize;
  gemm: GemmShape[];
  gemmRepeats: number;
  attention: AttentionShape[];
  train: TrainCase[];
  /** The random model of the parity check (both sizes: it runs in float64 on the CPU). */
  parity: { cfg: Record<string, unknown>; B: number; T: number };
  /** The configs of the memory plan's rows (always stated for one 141 GB GPU). */
  presets: Preset[];
  /** GPU memory the plan may fill when choosing the largest config to start. */
  capacityBytes: number;
  /** The largest-config attempt: candidates (largest first are tried), micro-batch, steps. */
  largest: { candidates: LlamaConfig[]; B: number; T: number; steps: number };
  /** Milliseconds a GEMM row or a training run may take (fewer repeats or steps past it). */
  rowBudgetMs: number;
  /** Seconds of the budget kept for the largest config, which runs last. */
  largestReserveS: number;
  /** Seconds for the whole suite; parts not started by then are skipped. */
  budgetS: number;
  /** Seconds the PyTorch peer may take. */
  peerBudgetS: number;
}

/** Llama 3.2 1B's shape (tied embeddings, the 128,256-token vocabulary). */
export const LLAMA_1B: LlamaConfig = PRESETS[0].cfg;

const PARITY_CFG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 1024,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 32,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  // band edges put the 16 frequencies in all three of Llama 3.1's bands
  rope_scaling: {
    rope_type: "llama3",
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 256,
  },
  tie_word_embeddings: false,
};

/** One H200's memory (141 GB). */
export const H200_BYTES = 141e9;

/** The micro-batch the memory plan's rows are stated for. */
export const PLAN_BATCH = { B: 1, T: 4096 };

/** The plan of each size. */
export async function gpuBenchPlan(size: GpuBenchSize): Promise<GpuBenchPlan> {
  const tiny = await readLlamaConfig("data/configs/llama-tiny.json");
  const parity = { cfg: PARITY_CFG, B: 2, T: 64 };
  const c124m = await readLlamaConfig("data/configs/llama-124m.json");
  const presets = [{ name: "124M", cfg: c124m }, ...PRESETS];
  if (size === "small") {
    const wide = { ...tiny, hidden_size: tiny.hidden_size * 2, head_dim: tiny.head_dim * 2 };
    return {
      size,
      // Llama-3.1-8B's linear shapes divided by 16
      gemm: [
        { name: "256³", m: 256, n: 256, k: 256 },
        ..._linearShapes(512, 256, [256, 64, 896, 8016]),
      ],
      gemmRepeats: 2,
      attention: [{ name: "B=1 T=128 NH=4 NKV=1 D=128", B: 1, T: 128, NH: 4, NKV: 1, D: 128 }],
      train: [
        { label: "tiny", cfg: tiny, B: 2, T: 32, steps: 2 },
        { label: "tiny-wide", cfg: wide, B: 2, T: 32, steps: 2 },
      ],
      parity,
      presets,
      capacityBytes: 256 * 2 ** 20,
      largest: { candidates: [wide, tiny], B: 1, T: 32, steps: 2 },
      rowBudgetMs: 60_000,
      largestReserveS: 0,
      budgetS: 900,
      peerBudgetS: 300,
    };
  }
  return {
    size,
    gemm: [
      { name: "4096³", m: 4096, n: 4096, k: 4096 },
      ..._linearShapes(8192, 4096, [4096, 1024, 14336, 128256]),
    ],
    gemmRepeats: 3,
    attention: [{ name: "B=2 T=4096 NH=32 NKV=8 D=128", B: 2, T: 4096, NH: 32, NKV: 8, D: 128 }],
    train: [
      { label: "124M", cfg: c124m, B: 8, T: 1024, steps: 3 },
      { label: "1B", cfg: LLAMA_1B, B: 2, T: 1024, steps: 2 },
    ],
    parity,
    presets,
    capacityBytes: H200_BYTES,
    largest: {
      // Llama 3's shapes largest first, with 8B's width at the most layers that should fit
      // between 8B and 3B (a depth-pruned 8B)
      candidates: [
        ...PRESETS.slice(2).map((p) => p.cfg).reverse(),
        ...[deepestFitting(PRESETS[2].cfg, H200_BYTES, 1, 1024)].filter((c) => c !== null),
        ...presets.slice(0, 3).map((p) => p.cfg).reverse(),
      ],
      B: 1,
      T: 1024,
      steps: 2,
    },
    rowBudgetMs: 25_000,
    largestReserveS: 100,
    budgetS: 420,
    peerBudgetS: 150,
  };
}

function _linearShapes(m: number, k: number, ns: number[]): GemmShape[] {
  return ns.map((n) => ({ name: `${m}×${k}→${n}`, m, n, k }));
}

/** Peak FP32 (non-tensor) TFLOP/s of GPUs the goals are stated against, by adapter name. */
const FP32_PEAK: [RegExp, number][] = [[/H200/i, 66.9]];

/** Random tokens and next-token targets (B·T each) below `vocab`, from `seed`. */
export function randomBatch(vocab: number, B: number, T: number, seed = 0) {
  const rng = new Rng(seed);
  const seq = Array.from({ length: B * (T + 1) }, () => rng.nextU32() % vocab);
  const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      tokens[b * T + t] = seq[b * (T + 1) + t];
      targets[b * T + t] = seq[b * (T + 1) + t + 1];
    }
  }
  return { tokens, targets };
}

/**
 * Parameters for speed runs: matrices tiled from one block of N(0, 0.02) values, norms ones
 * (initParams draws every value, minutes at 8B; a speed run needs no fresh draw per element).
 */
export function benchParams(cfg: LlamaConfig, seed = 0): Params {
  const rng = new Rng(seed);
  const block = Float32Array.from({ length: 1 << 16 }, () => rng.normal() * 0.02);
  const params: Params = new Map();
  for (const [name, shape] of paramShapes(cfg)) {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (shape.length === 1) a.fill(1);
    else for (let i = 0; i < a.length; i += block.length) a.set(block.subarray(0, a.length - i), i);
    params.set(name, a);
  }
  return params;
}

/** A PyTorch the peer can use: `python3` or Debian's, whichever imports torch; null if none. */
export async function findTorchPython(): Promise<string | null> {
  for (const exe of ["python3", "/usr/bin/python3"]) {
    try {
      const r = await new Deno.Command(exe, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (r.success) return exe;
    } catch { /* not installed, or not allowed: try the next */ }
  }
  return null;
}

/** One result line of gpu_peer.py. */
// deno-lint-ignore no-explicit-any
export type PeerLine = Record<string, any>;

/** Runs gpu_peer.py on `spec` (written into `dir`) and returns its result lines. */
export async function runPeer(
  python: string,
  spec: Record<string, unknown>,
  dir: string,
  budgetS: number,
  log: (m: string) => void,
): Promise<PeerLine[]> {
  const specPath = join(dir, "spec.json");
  await Deno.writeTextFile(specPath, JSON.stringify(spec));
  // relative to the project root, two levels up: right from lib/bench/ and from the bundle in
  // .gpu/bundle/ alike (lib/gpu/pack.sh)
  const scriptPath = fromFileUrl(new URL("../../lib/bench/gpu_peer.py", import.meta.url));
  const child = new Deno.Command(python, {
    args: [scriptPath, specPath],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(budgetS * 1000),
  }).spawn();
  const errText = new Response(child.stderr).text();
  const lines: PeerLine[] = [];
  let buf = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      const obj = JSON.parse(line) as PeerLine;
      log(`gpu peer: ${line.length > 200 ? line.slice(0, 200) + "…" : line}`);
      lines.push(obj);
    }
  }
  const status = await child.status;
  const err = await errText;
  if (!status.success) {
    log(
      `gpu peer: exit ${status.code}${status.signal ? ` (${status.signal})` : ""}: ${
        err.trim().split("\n").slice(-3).join(" | ")
      }`,
    );
  }
  return lines;
}

/** A tensor of `shape` filled by tiling one random block on the GPU (no big upload). */
function _tiled(rt: GpuRuntime, shape: number[], dtype: "f32" | "f16", seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const blockN = Math.min(n, 1 << 20);
  const rng = new Rng(seed);
  const block = fromArray(
    rt,
    Float32Array.from({ length: blockN }, () => rng.normal()),
    [blockN],
    dtype,
  );
  const out = empty(rt, shape, dtype);
  const total = byteSize(dtype, n), step = byteSize(dtype, blockN);
  for (let off = 0; off < total; off += step) {
    rt.copy(block.buffer, out.buffer, Math.min(step, total - off), 0, off);
  }
  rt.flush();
  free(rt, block);
  return out;
}

/** GEMM operands of one variant, and what matmul needs besides. */
function _operands(rt: GpuRuntime, s: GemmShape, variant: DType) {
  if (variant !== "e4m3") {
    const dt = variant as "f32" | "f16";
    return { a: _tiled(rt, [s.m, s.k], dt, 1), w: _tiled(rt, [s.n, s.k], dt, 2), opts: {} };
  }
  const scales = rt.upload(new Float32Array([1, 1]));
  const amax = rt.upload(new Uint32Array(2));
  const sc = { buffer: scales, index: 0 };
  const q = (shape: number[], seed: number, i: number) => {
    const x = _tiled(rt, shape, "f32", seed);
    const y = quantizeFp8(rt, x, "e4m3", sc, { buffer: amax, index: i });
    free(rt, x);
    return y;
  };
  return { a: q([s.m, s.k], 1, 0), w: q([s.n, s.k], 2, 1), opts: { scaleInvA: sc, scaleInvB: sc } };
}

/**
 * Label, operand type, kernel: f32 FMAs on decoded operands from registers (v2), f32 through
 * workgroup memory (tile), or packed-f16 FMAs (h2).
 */
const GEMM_VARIANTS: [string, DType, "v2" | "h2" | "tile"][] = [
  ["f32", "f32", "v2"],
  ["f32 workgroup-tile", "f32", "tile"],
  ["f16-input", "f16", "v2"],
  ["fp8-e4m3", "e4m3", "v2"],
  ["f16-input packed-f16", "f16", "h2"],
  ["fp8-e4m3 packed-f16", "e4m3", "h2"],
];

interface Ctx {
  rt: GpuRuntime;
  plan: GpuBenchPlan;
  peer: PeerLine[];
  log: (m: string) => void;
  adapter: string;
  timing: string;
  /** How the plan rounds tensors on this device. */
  memory: { bindingLimit: number };
}

function _peer(ctx: Ctx, part: string, name: string, dtype?: string): PeerLine | undefined {
  return ctx.peer.find((l) =>
    l.part === part && l.name === name && (dtype === undefined || l.dtype === dtype) && !l.error
  );
}

async function* _gemm(ctx: Ctx, deadline: number): AsyncGenerator<BenchResult> {
  const { rt, plan } = ctx;
  for (const s of plan.gemm) {
    if (Date.now() > deadline) {
      yield _skipped(`gemm ${s.name}`);
      continue;
    }
    const flops = 2 * s.m * s.n * s.k;
    const fp32 = _peer(ctx, "gemm", s.name, "fp32"), bf16 = _peer(ctx, "gemm", s.name, "bf16");
    const got: Record<string, number> = {};
    for (const [label, dtype, kernel] of GEMM_VARIANTS) {
      if (kernel === "h2" && !rt.has("shader-f16")) continue;
      if (kernel !== "v2" && s.k % 16 !== 0) continue;
      const { a, w, opts } = _operands(rt, s, dtype);
      const c = empty(rt, [s.m, s.n]);
      const go = () => matmul(rt, a, w, { ...opts, transB: true, out: c, kernel });
      const w0 = performance.now();
      go(); // compiles the pipelines
      await rt.sync();
      // as many repeats as fit this row's share of the budget (at least one)
      const warm = performance.now() - w0;
      const reps = Math.max(1, Math.min(plan.gemmRepeats, Math.floor(plan.rowBudgetMs / warm)));
      const { ms } = await rt.time(() => {
        for (let r = 0; r < reps; r++) go();
      });
      free(rt, a, w, c);
      rt.trimPool();
      const tflops = flops / (ms / reps) / 1e9;
      got[label] = tflops;
      const base = label.split(" ")[0];
      ctx.log(`gpu: gemm ${label} ${s.name}: ${tflops.toFixed(3)} TFLOP/s`);
      yield {
        name: `gemm ${label} ${s.name}`,
        value: tflops,
        unit: "TFLOP/s",
        ...(fp32 ? { peer: "torch fp32 (TF32 off)", peer_value: fp32.tflops } : {}),
        note: `A (${s.m}, ${s.k}) · Wᵀ, W (${s.n}, ${s.k}); mean of ${reps} (${ctx.timing})${
          bf16 ? `; torch bf16 ${bf16.tflops.toPrecision(3)} TFLOP/s` : ""
        }`,
      };
      if (base === "f32") {
        const peak = FP32_PEAK.find(([re]) => re.test(ctx.adapter));
        if (peak) {
          yield {
            name: `gemm ${label} ${s.name} vs the GPU's FP32 peak`,
            value: tflops,
            unit: "TFLOP/s",
            peer: "FP32 non-tensor peak (spec sheet)",
            peer_value: peak[1],
          };
        }
      }
      if (kernel !== "v2" && got[base]) {
        yield {
          name: `gemm ${label} ${s.name} vs gemm_nt.wgsl`,
          value: tflops,
          unit: "TFLOP/s",
          peer: `Jikji ${base} on kernels/gemm_nt.wgsl (registers, f32 FMAs)`,
          peer_value: got[base],
          note: kernel === "h2"
            ? "kernels/gemm_h2.wgsl: vec2<f16> FMAs, f32 accumulation every 16 k"
            : "kernels/gemm_tile.wgsl: 128×128 tiles through workgroup memory",
        };
      }
      if (label === "f16-input" && bf16) {
        yield {
          name: `gemm f16-input ${s.name} vs tensor cores`,
          value: tflops,
          unit: "TFLOP/s",
          peer: "torch bf16 (tensor cores)",
          peer_value: bf16.tflops,
        };
      }
    }
  }
}

async function* _attention(ctx: Ctx): AsyncGenerator<BenchResult> {
  const { rt } = ctx;
  for (const s of ctx.plan.attention) {
    const { B, T, NH, NKV, D } = s;
    const flops = 2 * 2 * B * NH * D * (T * (T + 1)) / 2; // causal QKᵀ and PV
    const qShape = [B, T, NH, D], kShape = [B, T, NKV, D];
    const q = _tiled(rt, qShape, "f32", 1), k = _tiled(rt, kShape, "f32", 2);
    const v = _tiled(rt, kShape, "f32", 3), dout = _tiled(rt, qShape, "f32", 4);
    const [qb, kb, vb, db] = [q, k, v, dout].map((t) => toBf16(rt, t));
    free(rt, q, k, v, dout);
    const fwd = () => {
      const { o, lse } = attention(rt, qb, kb, vb);
      free(rt, o, lse);
    };
    const both = () => {
      const { o, lse } = attention(rt, qb, kb, vb);
      const g = attentionBackward(rt, qb, kb, vb, o, lse, db);
      free(rt, o, lse, g.dq, g.dk, g.dv);
    };
    fwd();
    both();
    await rt.sync();
    const reps = 3;
    const f = await rt.time(() => {
      for (let r = 0; r < reps; r++) fwd();
    });
    const fb = await rt.time(() => {
      for (let r = 0; r < reps; r++) both();
    });
    free(rt, qb, kb, vb, db);
    rt.trimPool();
    const peer = _peer(ctx, "attention", s.name);
    const note = `${s.name}; bf16; FLOPs of the causal half`;
    yield {
      name: `attention fwd ${s.name}`,
      value: flops / (f.ms / reps) / 1e9,
      unit: "TFLOP/s",
      ...(peer ? { peer: `torch ${peer.impl}`, peer_value: flops / peer.fwd_ms / 1e9 } : {}),
      note,
    };
    // the backward counted as 2.5× the forward's FLOPs (dQ, dK, dV, and P recomputed once)
    yield {
      name: `attention fwd+bwd ${s.name}`,
      value: 3.5 * flops / (fb.ms / reps) / 1e9,
      unit: "TFLOP/s",
      ...(peer
        ? { peer: `torch ${peer.impl}`, peer_value: 3.5 * flops / peer.fwdbwd_ms / 1e9 }
        : {}),
      note: `${note}; counted as 3.5× the forward`,
    };
  }
}

/** Row sums and maxima: the subgroup reduction against the shared-memory one (GB/s read). */
async function* _reduction(ctx: Ctx): AsyncGenerator<BenchResult> {
  const { rt } = ctx;
  const [rows, n] = ctx.plan.size === "full" ? [65536, 4096] : [1024, 4096];
  const x = _tiled(rt, [rows, n], "f32", 5);
  const gbs: Record<string, number> = {};
  const variants = rt.has("subgroups") ? ["v1", "subgroups"] as const : ["v1"] as const;
  for (const v of variants) {
    free(rt, rowStats(rt, x, v));
    await rt.sync();
    const { ms } = await rt.time(() => {
      for (let r = 0; r < 5; r++) free(rt, rowStats(rt, x, v));
    });
    gbs[v] = (5 * x.bytes) / (ms / 1000) / 1e9;
  }
  free(rt, x);
  const note = `(${rows}, ${n}) f32, one workgroup of 256 per row; ${ctx.timing}`;
  yield { name: "row sum+max, shared-memory reduction", value: gbs.v1, unit: "GB/s", note };
  if (gbs.subgroups) {
    yield {
      name: "row sum+max, subgroup reduction",
      value: gbs.subgroups,
      unit: "GB/s",
      peer: "shared-memory reduction (reduce.wgsl)",
      peer_value: gbs.v1,
      note,
    };
  }
}

/** Runs `steps` steps of `cfg` in `precision`; tokens/s over steps 2…, peak GPU bytes, losses. */
async function _trainRun(
  rt: GpuRuntime,
  cfg: LlamaConfig,
  precision: string,
  B: number,
  T: number,
  steps: number,
  params: Params,
  budgetMs: number,
  ops?: Ops<unknown>,
) {
  rt.trimPool();
  rt.resetPeak();
  const engine = await createEngine("gpu", {
    ops,
    cfg,
    params,
    adam: THUNDER_ADAMW,
    B,
    T,
    precision,
    clip: 1,
  });
  const batch = randomBatch(cfg.vocab_size, B, T);
  const times: number[] = [], losses: number[] = [];
  try {
    const start = performance.now();
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      losses.push((await engine.step([batch], 1e-4)).loss);
      await rt.sync();
      times.push(performance.now() - t0);
      // another step must fit the budget (the first includes compiling the pipelines)
      if (performance.now() - start + times.at(-1)! > budgetMs) break;
    }
  } finally {
    engine.close();
  }
  const timed = times.length > 1 ? times.slice(1) : times;
  const ms = timed.reduce((a, b) => a + b, 0) / timed.length;
  const peak = rt.peakBytes;
  rt.trimPool();
  return { tokensPerS: (B * T) / (ms / 1000), peak, losses, steps: times.length };
}

async function* _train(ctx: Ctx, deadline: number): AsyncGenerator<BenchResult> {
  for (const c of ctx.plan.train) {
    const params = benchParams(c.cfg);
    const tps: Record<string, number> = {};
    const runs = ["fp32", "bf16", "fp8"];
    if (ctx.rt.has("shader-f16")) runs.push("fp8 packed-f16");
    for (const run of runs) {
      if (Date.now() > deadline) {
        yield _skipped(`train ${c.label} ${run}`);
        continue;
      }
      const precision = run.split(" ")[0];
      const name = `train ${c.label} ${run}`;
      try {
        const r = await _trainRun(
          ctx.rt,
          c.cfg,
          precision,
          c.B,
          c.T,
          c.steps,
          params,
          ctx.plan.rowBudgetMs,
          run === precision ? undefined : gpuOps(ctx.rt, { gemm: "h2" }) as Ops<unknown>,
        );
        tps[run] = r.tokensPerS;
        const peer = _peer(ctx, "train", c.label, precision === "bf16" ? "bf16" : "fp32");
        ctx.log(`gpu: ${name}: ${r.tokensPerS.toFixed(0)} tokens/s, losses ${r.losses}`);
        const shape =
          `B=${c.B} T=${c.T}, ${c.cfg.num_hidden_layers} layers, C=${c.cfg.hidden_size}`;
        yield {
          name: `${name} tokens/s`,
          value: r.tokensPerS,
          unit: "tokens/s",
          ...(peer
            ? { peer: `torch ${peer.dtype} eager AdamW`, peer_value: peer.tokens_per_s }
            : {}),
          note: `${shape}; ${_stepsNote(r.steps)}; loss ${
            r.losses.map((l) => l.toFixed(3)).join("→")
          }${peer ? `; torch ${peer.loss_first.toFixed(3)}→${peer.loss_last.toFixed(3)}` : ""}`,
        };
        yield {
          name: `${name} peak memory`,
          value: r.peak / 2 ** 30,
          unit: "GiB",
          ...(peer?.peak_bytes
            ? {
              peer: `torch ${peer.dtype} max_memory_allocated`,
              peer_value: peer.peak_bytes / 2 ** 30,
            }
            : {}),
          note: `planned ${_bytes(trainingMemory(c.cfg, precision, c.B, c.T, ctx.memory).total)}`,
        };
      } catch (err) {
        yield _failed(name, err);
      }
    }
    for (const run of ["fp8", "fp8 packed-f16"]) {
      if (!tps[run] || !tps.fp32) continue;
      yield {
        name: `train ${c.label} ${run} / fp32 speed-up`,
        value: tps[run] / tps.fp32,
        unit: "×",
        note: "goal ≥ 1.3×",
      };
    }
  }
}

async function* _parity(ctx: Ctx, dir: string): AsyncGenerator<BenchResult> {
  const name = "logits parity vs transformers LlamaForCausalLM";
  const line = ctx.peer.find((l) => l.part === "parity");
  if (!line || line.skipped || line.error) {
    const why = line?.skipped ?? line?.error ?? "the PyTorch peer did not run";
    console.error(`\n!!! gpu bench: logits parity SKIPPED: ${why}\n`);
    yield { name, value: NaN, unit: "skipped", note: why };
    return;
  }
  const { B, T } = ctx.plan.parity;
  const r = await parityCheck(dir, B, T);
  yield {
    name: `${name} (max |Δ| / max |logit|)`,
    value: r.relMax,
    unit: "",
    peer: line.impl,
    note: `max |Δ| ${r.absMax.toExponential(2)}, max |logit| ${
      r.scale.toFixed(2)
    }, argmax agrees on ${(100 * r.argmaxAgree).toFixed(1)}% of ${
      B * T
    } positions; Jikji fp32 on the GPU`,
  };
}

/**
 * Loads the Hugging Face folder `dir` (config.json + model.safetensors) with Jikji, runs its fp32
 * forward on the GPU over the parity tokens (B×T) and compares the logits with the reference
 * `dir/ref_logits.f32` ((B·T, V) little-endian f32).
 */
export async function parityCheck(dir: string, B: number, T: number) {
  const { cfg, params } = await loadModel(dir);
  const tokens = parityTokens(cfg.vocab_size, B, T);
  const model = await createLlama(cfg, params, {
    device: "gpu",
    precision: precisionPolicy("fp32"),
  });
  try {
    const got = await model.logits(await model.forward({ B, T, tokens }));
    const ref = new Float32Array((await Deno.readFile(join(dir, "ref_logits.f32"))).buffer);
    return compareLogits(got, ref, cfg.vocab_size);
  } finally {
    model.destroy();
  }
}

/** Largest |a − b|, that over the largest |b|, and the share of rows (of `V`) whose argmax agrees. */
export function compareLogits(got: Float32Array, ref: Float32Array, V: number) {
  if (got.length !== ref.length) {
    throw new UserError(`logits: ${got.length} values against ${ref.length} in the reference`);
  }
  let absMax = 0, scale = 0, agree = 0;
  for (let i = 0; i < got.length; i++) {
    absMax = Math.max(absMax, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  const rows = got.length / V;
  for (let r = 0; r < rows; r++) {
    let ga = 0, ra = 0;
    for (let j = 1; j < V; j++) {
      if (got[r * V + j] > got[r * V + ga]) ga = j;
      if (ref[r * V + j] > ref[r * V + ra]) ra = j;
    }
    if (ga === ra) agree++;
  }
  return { absMax, scale, relMax: absMax / scale, argmaxAgree: agree / rows };
}

/** The parity check's tokens (B·T), the same on both sides. */
export function parityTokens(vocab: number, B: number, T: number): Int32Array {
  return randomBatch(vocab, B, T, 7).tokens;
}

async function* _largest(ctx: Ctx): AsyncGenerator<BenchResult> {
  const { B, T, steps, candidates } = ctx.plan.largest;
  const pick = largestFitting(candidates, ctx.plan.capacityBytes, B, T, ctx.memory);
  if (!pick) {
    yield { name: "largest fitting config", value: NaN, unit: "skipped", note: "none fits" };
    return;
  }
  const { cfg, precision, plan } = pick;
  const label = `${
    _count(plan.params)
  } params: ${cfg.num_hidden_layers} layers of C=${cfg.hidden_size}`;
  ctx.log(
    `gpu: largest config that should fit: ${label} ${precision}, planned ${
      (plan.total / 2 ** 30).toFixed(1)
    } GiB`,
  );
  const r = await _trainRun(
    ctx.rt,
    cfg,
    precision,
    B,
    T,
    steps,
    benchParams(cfg),
    ctx.plan.rowBudgetMs,
  );
  yield {
    name: `largest fitting config (${label}, ${precision}) tokens/s`,
    value: r.tokensPerS,
    unit: "tokens/s",
    note: `B=${B} T=${T}, ${_stepsNote(r.steps)}, loss ${
      r.losses.map((l) => l.toFixed(3)).join("→")
    }`,
  };
  yield {
    name: `largest fitting config (${label}, ${precision}) peak memory`,
    value: r.peak / 2 ** 30,
    unit: "GiB",
    peer: "planned (lib/train/memory_plan.ts)",
    peer_value: plan.total / 2 ** 30,
    note: `capacity ${_bytes(ctx.plan.capacityBytes)} × ${HEADROOM} headroom`,
  };
}

function _stepsNote(n: number): string {
  return n > 1 ? `mean of steps 2…${n}` : "1 step only (the budget), compiling included";
}

/** Bytes as GiB, or MiB below 1 GiB. */
function _bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(2)} MiB`;
}

/** A parameter count as e.g. "124M" or "3.21B". */
function _count(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M`;
}

function _failed(name: string, err: unknown): BenchResult {
  const msg = (err as Error)?.message ?? String(err);
  console.error(`!!! gpu bench: ${name} failed: ${msg}`);
  return { name: `${name} failed`, value: NaN, unit: "error", note: msg.slice(0, 300) };
}

function _skipped(name: string): BenchResult {
  console.error(`!!! gpu bench: ${name} skipped: the time budget is spent`);
  return { name, value: NaN, unit: "skipped", note: "the suite's time budget was spent" };
}

/** The adapter's rows: features, the limits granted, whether `subgroups` was granted. */
function* _adapterRows(rt: GpuRuntime): Generator<BenchResult> {
  const info = rt.gpu.adapter.info;
  const limits: Record<string, number> = {};
  for (const k in rt.device.limits) {
    const v = (rt.device.limits as unknown as Record<string, number>)[k];
    if (typeof v === "number") limits[k] = v;
  }
  const note = `${rt.gpu.description}; vendor ${info.vendor || "?"}, architecture ${
    info.architecture || "?"
  }; adapter features [${[...rt.gpu.adapter.features].sort().join(", ")}]; enabled [${
    [...rt.gpu.features].sort().join(", ")
  }]`;
  yield {
    name: "adapter subgroups granted",
    value: rt.has("subgroups") ? 1 : 0,
    unit: "bool",
    note,
  };
  yield {
    name: "adapter maxStorageBufferBindingSize",
    value: limits.maxStorageBufferBindingSize / 2 ** 30,
    unit: "GiB",
    note: `limits granted: ${JSON.stringify(limits)}`,
  };
  yield { name: "adapter maxBufferSize", value: limits.maxBufferSize / 2 ** 30, unit: "GiB" };
}

/** The memory plan's rows: per preset and precision, GiB for full training at B×T. */
function* _planRows(plan: GpuBenchPlan, bindingLimit: number): Generator<BenchResult> {
  const { B, T } = PLAN_BATCH;
  const cap = H200_BYTES;
  for (const p of plan.presets) {
    for (const precision of ["fp32", "bf16", "fp8"]) {
      const m = trainingMemory(p.cfg, precision, B, T, { bindingLimit });
      const r = trainingMemory(p.cfg, precision, B, T, { recompute: true, bindingLimit });
      const gib = (x: number) => (x / 2 ** 30).toFixed(1);
      yield {
        name: `memory plan ${p.name} ${precision} B=${B} T=${T}`,
        value: m.total / 2 ** 30,
        unit: "GiB",
        note: `${(m.params / 1e9).toFixed(2)}B params: weights ${gib(m.weights)}, grads ${
          gib(m.grads)
        }, AdamW ${gib(m.adam)}, rounded weight copies ${gib(m.weightCopies)}, activations ${
          gib(m.activations)
        }, workspace ${gib(m.workspace)}; ${
          m.total <= cap ? "fits" : "does not fit"
        } one 141 GB GPU; with recomputation ${gib(r.total)} GiB (${
          r.total <= cap ? "fits" : "does not fit"
        })`,
      };
    }
  }
}

async function* run(ctx: BenchContext): AsyncGenerator<BenchResult> {
  const size = (ctx.size ?? "small") as GpuBenchSize;
  if (size !== "small" && size !== "full") {
    throw new UserError(`--size: expected small or full, got ${size}`);
  }
  yield* runGpuBench(await gpuBenchPlan(size), ctx.log);
}

/** Runs every part of `plan` (see the module doc). */
export async function* runGpuBench(
  plan: GpuBenchPlan,
  log: (m: string) => void,
): AsyncGenerator<BenchResult> {
  const t0 = Date.now();
  const deadline = t0 + plan.budgetS * 1000;
  const rt = await getRuntime();
  const timing = rt.has("timestamp-query") ? "GPU timestamps" : "wall clock, no timestamp-query";
  yield* _adapterRows(rt);
  const bindingLimit = Math.min(rt.maxBinding, rt.device.limits.maxBufferSize);
  yield* _planRows(plan, bindingLimit);

  // the PyTorch peer first, to completion, so the two never share the GPU
  const dir = await Deno.makeTempDir({ dir: "runs", prefix: ".gpu-peer-" });
  let peer: PeerLine[] = [];
  const python = await findTorchPython();
  if (!python) {
    console.error("\n!!! gpu bench: no python3 with torch: PyTorch peers SKIPPED\n");
  } else {
    const spec = _peerSpec(plan, dir);
    peer = await runPeer(python, spec, dir, plan.peerBudgetS, log);
  }
  const env = peer.find((l) => l.part === "env");
  const c: Ctx = {
    rt,
    plan,
    peer,
    log,
    adapter: rt.gpu.description,
    timing,
    memory: { bindingLimit },
  };
  if (env) {
    yield {
      name: "peer",
      value: peer.filter((l) => l.part === "time").reduce((a, l) => a + l.s, 0),
      unit: "s",
      note: `torch ${env.torch} on ${env.device_name}; transformers ${
        env.transformers ?? `not importable (${env.transformers_error})`
      }`,
    };
  }
  for (
    const [part, fn] of [
      // the GEMMs may take 40% of the budget; the largest config runs last (should it run out
      // of memory, nothing else is lost) with time kept for it
      ["gemm", () => _gemm(c, t0 + 0.4 * plan.budgetS * 1000)],
      ["attention", () => _attention(c)],
      ["reduction", () => _reduction(c)],
      ["parity", () => _parity(c, dir)],
      ["train", () => _train(c, deadline - plan.largestReserveS * 1000)],
      ["largest", () => _largest(c)],
    ] as [string, () => AsyncGenerator<BenchResult>][]
  ) {
    if (Date.now() > deadline) {
      yield _skipped(part);
      continue;
    }
    const p0 = Date.now();
    try {
      yield* fn();
    } catch (err) {
      yield _failed(part, err);
    }
    log(`gpu: ${part} took ${((Date.now() - p0) / 1000).toFixed(1)} s`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

function _peerSpec(plan: GpuBenchPlan, dir: string): Record<string, unknown> {
  const { B, T, cfg } = plan.parity;
  return {
    gemm: plan.gemm,
    gemm_repeats: plan.gemmRepeats,
    attention: plan.attention,
    attention_repeats: 3,
    train: plan.train.map((c) => {
      const batch = randomBatch(c.cfg.vocab_size, c.B, c.T);
      return {
        name: c.label,
        config: _hfFields(c.cfg),
        B: c.B,
        T: c.T,
        steps: c.steps,
        lr: 1e-4,
        tokens: [...batch.tokens],
        targets: [...batch.targets],
      };
    }),
    parity: { dir, config: cfg, B, T, tokens: [...parityTokens(cfg.vocab_size as number, B, T)] },
  };
}

/** The config.json fields a transformers LlamaConfig takes. */
function _hfFields(cfg: LlamaConfig): Record<string, unknown> {
  const { architectures: _a, model_type: _m, torch_dtype: _t, ...rest } = cfg;
  return rest;
}

/** The `gpu` benchmark suite. */
export const gpuBench: BenchSuite = {
  name: "gpu",
  summary:
    "Jikji vs PyTorch on one GPU: adapter, GEMM, attention, training, parity, memory plan (--size)",
  run,
};
