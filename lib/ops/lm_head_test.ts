import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32, zeros } from "../gpu/tensor.ts";
import { lmHead, type LmHeadOptions, type LmHeadSpec } from "./lm_head.ts";
import {
  type LmHeadDims,
  lmHeadRef,
  type LmHeadRefResult,
  type LmHeadRefSpec,
} from "./ref/lm_head.ts";
import { matmulRef } from "./ref/gemm.ts";
import { assertClose, assertFiniteDiff, randn, rng } from "./testing.ts";

type Mode = "hard" | "full" | "topk" | "mixed";
const MODES: Mode[] = ["hard", "full", "topk", "mixed"];

function softmax(x: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  const e = Float64Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Inputs for one mode: "hard" targets with weights (two rows without a target), a "full" teacher
 * (rows only scored by their targets), a "topk" teacher (rows sum to < 1, the last row padded
 * with id −1), and "mixed": weighted hard targets plus a top-k teacher, with one row ignored by
 * both (no target, soft weight 0).
 */
function makeCase(mode: Mode, n: number, v: number, k: number, seed: number): LmHeadRefSpec {
  const r = rng(seed);
  const targets = Int32Array.from({ length: n }, (_, i) => i % 5 === 3 ? -1 : Math.floor(r(0, v)));
  const weights = Float32Array.from({ length: n }, () => r(0.5, 1.5));
  const ws = Float32Array.from({ length: n }, () => r(0.2, 1));
  const teacher = Array.from({ length: n }, () => softmax(randn(v, Math.floor(r(1, 1e6)), -2, 2)));
  if (mode === "hard") return { targets, weights };
  if (mode === "full") {
    const probs = new Float32Array(n * v);
    teacher.forEach((q, i) => probs.set(q, i * v));
    return { targets, soft: { probs, weights: ws, temperature: 2 } };
  }
  const ids = new Int32Array(n * k), probs = new Float32Array(n * k);
  teacher.forEach((q, i) => {
    const top = Array.from(q.keys()).sort((a, b) => q[b] - q[a]).slice(0, k);
    top.forEach((id, j) => [ids[i * k + j], probs[i * k + j]] = [id, q[id]]);
  });
  ids[n * k - 1] = -1; // padding
  if (mode === "topk") return { targets, soft: { probs, ids, weights: ws, temperature: 1.5 } };
  ws[0] = 0;
  targets[0] = -1; // row 0: ignored by both terms
  return { targets, weights, soft: { probs, ids, weights: ws, temperature: 2 } };
}

function upload(rt: Awaited<ReturnType<typeof getRuntime>>, s: LmHeadRefSpec, n: number) {
  const spec: LmHeadSpec = { targets: fromArray(rt, s.targets, [n], "i32") };
  if (s.weights) spec.weights = fromArray(rt, s.weights, [n]);
  if (s.soft) {
    const k = s.soft.probs.length / n;
    spec.soft = {
      probs: fromArray(rt, s.soft.probs, [n, k]),
      ids: s.soft.ids ? fromArray(rt, s.soft.ids, [n, k], "i32") : undefined,
      weights: fromArray(rt, s.soft.weights, [n]),
      temperature: s.soft.temperature,
    };
  }
  return spec;
}

const sumLoss = (r: LmHeadRefResult) => r.loss.reduce((a, b) => a + b, 0);

for (const mode of MODES) {
  Deno.test(`lmHeadRef() dh and dW match finite differences of its loss (${mode})`, () => {
    const dims = { n: 5, c: 3, v: 7 };
    const h = randn(dims.n * dims.c, 1, -2, 2), w = randn(dims.v * dims.c, 2, -2, 2);
    const spec = makeCase(mode, dims.n, dims.v, 3, 3);
    const g = lmHeadRef(h, w, spec, dims, { grad: true });
    assert.ok(g.loss.some((l) => l !== 0), "the loss is not trivially zero");
    assertFiniteDiff("dh", (x) => sumLoss(lmHeadRef(x, w, spec, dims)), h, g.dh!);
    assertFiniteDiff("dw", (x) => sumLoss(lmHeadRef(h, x, spec, dims)), w, g.dw!);
  });
}

Deno.test("lmHeadRef() distillation term and gradient vanish when the student equals the teacher", () => {
  const dims = { n: 2, c: 3, v: 5 }, tau = 1.7;
  const h = randn(6, 4), w = randn(15, 5);
  const { logits } = lmHeadRef(h, w, { targets: [-1, -1] }, dims);
  const probs = new Float64Array(10);
  for (let r = 0; r < 2; r++) {
    probs.set(softmax(logits.subarray(r * 5, r * 5 + 5).map((z) => z / tau)), r * 5);
  }
  const soft = { probs, weights: [1, 0.5], temperature: tau };
  const g = lmHeadRef(h, w, { targets: [-1, -1], soft }, dims, { grad: true });
  assertClose("loss", g.loss, [0, 0], { atol: 1e-14 });
  assertClose("dlogits", g.dlogits!, new Float64Array(10), { atol: 1e-14 });
});

const U = 2 ** -24, ULP = 2 ** -23;
/** WGSL's accuracy of exp: 3 + 2·|x| ULP. */
const expErr = (x: number) => (3 + 2 * Math.abs(x)) * ULP;
/** WGSL's accuracy of log: absolute 2^-21 on [0.5, 2], else 3 ULP. */
const logErr = (x: number) => 2 ** -21 + 3 * ULP * Math.abs(Math.log(x));
/** An f32 sum of `terms` non-negative values as the kernel orders it (per thread, then a tree). */
const gamma = (terms: number) => (Math.ceil(terms / 256) + 8) * U;
const abs = (x: ArrayLike<number>) => Float64Array.from(x, Math.abs);

/**
 * First-order error bounds of the GPU's stats, loss, dlogits, dh and dW against the float64
 * reference, from the f32 GEMM bound of each logit (2·C·u·Σ|h·w|), WGSL's exp and log accuracy and
 * the kernel's summation order; doubled for slack, like the GEMM test's bound.
 */
function bounds(
  h: Float32Array,
  w: Float32Array,
  s: LmHeadRefSpec,
  d: LmHeadDims,
  ref: LmHeadRefResult,
) {
  const { n, c, v } = d;
  const ez = matmulRef(abs(h), abs(w), { m: n, n: v, k: c, transB: true }).map((x) =>
    2 * c * U * x
  );
  const stats = new Float64Array(n * 4), loss = new Float64Array(n), eg = new Float64Array(n * v);
  const k = s.soft?.ids ? s.soft.probs.length / n : v;
  for (let r = 0; r < n; r++) {
    const z = ref.logits.subarray(r * v, (r + 1) * v), e = ez.subarray(r * v, (r + 1) * v);
    const [lse, zt, m] = ref.stats.subarray(r * 4, r * 4 + 3);
    const ezMax = Math.max(...e);
    let eExp = 0;
    for (const zi of z) eExp = Math.max(eExp, expErr(zi - m) + U * Math.abs(zi - m));
    const eLse = ezMax + gamma(v) + eExp + logErr(Math.exp(lse - m)) + U * Math.abs(lse);
    const t = s.targets[r], hasT = t >= 0 && t < v, wr = hasT ? s.weights?.[r] ?? 0 : 0;
    stats.set([eLse, hasT ? e[t] : 0, ezMax, 0], r * 4);
    loss[r] = Math.abs(wr) * (eLse + (hasT ? e[t] : 0) + 2 * U * Math.abs(lse - zt));
    for (let i = 0; i < v; i++) {
      const p = Math.exp(z[i] - lse), x = z[i] - lse;
      const ep = p * (e[i] + eLse + U * Math.abs(x) + expErr(x));
      eg[r * v + i] = Math.abs(wr) * ep + 2 * U * Math.abs(wr * (p - (i === t ? 1 : 0)));
    }
    if (!s.soft) continue;
    const tau = s.soft.temperature, ws = s.soft.weights[r];
    const xs = Float64Array.from(z, (zi) => (zi - m) / tau);
    let st = 0, eExpT = 0;
    for (const x of xs) {
      [st, eExpT] = [st + Math.exp(x), Math.max(eExpT, expErr(x) + 3 * U * Math.abs(x))];
    }
    const eLogSt = gamma(v) + eExpT + logErr(st);
    const lp = (i: number) => xs[i] - Math.log(st);
    const eLp = (i: number) =>
      (e[i] + ezMax) / tau + 3 * U * Math.abs(xs[i]) + eLogSt + U * Math.abs(lp(i));
    let q = 0, kl = 0, eKl = 0, absKl = 0;
    for (let j = 0; j < k; j++) {
      const id = s.soft.ids ? s.soft.ids[r * k + j] : j, qj = s.soft.probs[r * k + j];
      if (id < 0 || id >= v || !(qj > 0)) continue;
      const term = qj * (Math.log(qj) - lp(id));
      [q, kl, absKl] = [q + qj, kl + term, absKl + Math.abs(term)];
      eKl += qj * (logErr(qj) + eLp(id) + 2 * U * (Math.abs(Math.log(qj)) + Math.abs(lp(id))));
    }
    eKl += gamma(k) * absKl;
    loss[r] += ws * tau * tau * (eKl + 3 * U * Math.abs(kl));
    for (let i = 0; i < v; i++) {
      const pt = Math.exp(lp(i));
      eg[r * v + i] += ws * tau *
        (q * pt * (eLp(i) + expErr(lp(i)) + gamma(k) + 3 * U) + 2 * U * q);
    }
  }
  for (let i = 0; i < n; i++) loss[i] += U * Math.abs(ref.loss[i]);
  const g = abs(ref.dlogits ?? new Float64Array(n * v));
  for (let i = 0; i < n * v; i++) eg[i] = 2 * (eg[i] + 2 * U * g[i]);
  const dh = matmulRef(eg, abs(w), { m: n, n: c, k: v }),
    dhG = matmulRef(g, abs(w), { m: n, n: c, k: v });
  const dwE = matmulRef(eg, abs(h), { m: v, n: c, k: n, transA: true });
  const dwG = matmulRef(g, abs(h), { m: v, n: c, k: n, transA: true });
  return {
    stats: stats.map((x) => 2 * x + 1e-30),
    loss: loss.map((x) => 2 * x + 1e-30),
    dh: dh.map((x, i) => x + 2 * 2 * v * U * dhG[i] + 1e-30),
    dw: dwE.map((x, i) => x + 2 * 2 * (n + 4) * U * dwG[i] + 1e-30),
  };
}

/** GPU stats vs the reference: lse, target and max logits within bounds, argmax up to near-ties. */
function checkStats(
  what: string,
  gpu: Float32Array,
  ref: LmHeadRefResult,
  bound: Float64Array,
  v: number,
) {
  const cols = (x: ArrayLike<number>, j: number) =>
    Float64Array.from({ length: x.length / 4 }, (_, r) => x[r * 4 + j]);
  for (const [j, name] of ["lse", "target logit", "max logit"].entries()) {
    assertClose(`${what} ${name}`, cols(gpu, j), cols(ref.stats, j), { bound: cols(bound, j) });
  }
  for (let r = 0; r < gpu.length / 4; r++) {
    const id = gpu[r * 4 + 3], m = ref.stats[r * 4 + 2];
    assert.ok(Number.isInteger(id) && id >= 0 && id < v, `${what} argmax ${id} in row ${r}`);
    // a different id only where the reference's logits tie within the GEMM error
    assert.ok(
      id === ref.stats[r * 4 + 3] || ref.logits[r * v + id] >= m - 2 * bound[r * 4 + 2],
      `${what} argmax row ${r}: gpu ${id} ref ${ref.stats[r * 4 + 3]}`,
    );
  }
}

async function runGpu(
  s: LmHeadRefSpec,
  h: Float32Array,
  w: Float32Array,
  d: LmHeadDims,
  opts: LmHeadOptions,
) {
  const rt = await getRuntime();
  const dwAccum = zeros(rt, [d.v, d.c]);
  const out = lmHead(
    rt,
    fromArray(rt, h, [d.n, d.c]),
    fromArray(rt, w, [d.v, d.c]),
    upload(rt, s, d.n),
    {
      dwAccum,
      ...opts,
    },
  );
  return {
    stats: await toF32(rt, out.stats),
    loss: await toF32(rt, out.loss),
    dh: out.dh ? await toF32(rt, out.dh) : undefined,
    dw: await toF32(rt, dwAccum),
  };
}

for (const mode of MODES) {
  gpuTest(`lmHead() matches the reference: stats, loss, dh and dW (${mode})`, async () => {
    const d = { n: 10, c: 12, v: 1030 }; // V not a multiple of the workgroup (nor of 4)
    const h = randn(d.n * d.c, 11, -1, 1), w = randn(d.v * d.c, 12, -0.5, 0.5);
    const s = makeCase(mode, d.n, d.v, 5, 13);
    const ref = lmHeadRef(h, w, s, d, { grad: true });
    const b = bounds(h, w, s, d, ref);
    const gpu = await runGpu(s, h, w, d, {});
    checkStats(mode, gpu.stats, ref, b.stats, d.v);
    assertClose(`${mode} loss`, gpu.loss, ref.loss, { bound: b.loss });
    assertClose(`${mode} dh`, gpu.dh!, ref.dh!, { bound: b.dh });
    assertClose(`${mode} dw`, gpu.dw, ref.dw!, { bound: b.dw });
  });
}

gpuTest(
  "lmHead() in row chunks of 3 equals one chunk, is deterministic, and splits W",
  async () => {
    const d = { n: 10, c: 12, v: 1032 }; // multiples of 4: the tiled GEMMs
    const h = randn(d.n * d.c, 21, -1, 1), w = randn(d.v * d.c, 22, -0.5, 0.5);
    const s = makeCase("mixed", d.n, d.v, 6, 23);
    const one = await runGpu(s, h, w, d, {});
    const chunked = await runGpu(s, h, w, d, { chunkRows: 3 });
    const again = await runGpu(s, h, w, d, { chunkRows: 3 });
    assert.deepEqual(again, chunked, "the same call gives the same bits");
    // per-row results do not depend on the chunking; dW sums the rows in another grouping
    assert.deepEqual(chunked.stats, one.stats);
    assert.deepEqual(chunked.loss, one.loss);
    assert.deepEqual(chunked.dh, one.dh);
    const ref = lmHeadRef(h, w, s, d, { grad: true });
    const b = bounds(h, w, s, d, ref);
    assertClose("chunked dw vs one chunk", chunked.dw, one.dw, { bound: b.dw });
    // W (49.5 KB) above a 32 KiB binding limit: no transposed copy, the GEMMs split W
    const split = await runGpu(s, h, w, d, { bindingLimit: 32768 });
    checkStats("split", split.stats, ref, b.stats, d.v);
    assertClose("split loss", split.loss, ref.loss, { bound: b.loss });
    assertClose("split dh", split.dh!, ref.dh!, { bound: b.dh });
    assertClose("split dw", split.dw, ref.dw!, { bound: b.dw });
  },
);

gpuTest(
  "lmHead() gives rows without a target or soft weight zero loss and zero gradient",
  async () => {
    const rt = await getRuntime();
    const d = { n: 6, c: 8, v: 300 };
    const h = randn(d.n * d.c, 31), w = randn(d.v * d.c, 32);
    const s = makeCase("mixed", d.n, d.v, 4, 33);
    for (const r of [2, 4]) (s.targets as Int32Array)[r] = -1;
    for (const r of [0, 2, 4]) (s.soft!.weights as Float32Array)[r] = 0;
    const gpu = await runGpu(s, h, w, d, {});
    const ref = lmHeadRef(h, w, s, d, { grad: true });
    for (const r of [0, 2, 4]) {
      assert.equal(gpu.loss[r], 0);
      assert.ok(gpu.dh!.subarray(r * d.c, (r + 1) * d.c).every((x) => x === 0), `dh row ${r} is 0`);
      assert.ok(ref.dh!.subarray(r * d.c, (r + 1) * d.c).every((x) => x === 0), `ref dh row ${r}`);
      assert.equal(gpu.stats[r * 4 + 1], 0, "no target logit");
      assert.ok(Number.isFinite(gpu.stats[r * 4]), "still scored");
    }
    // only ignored rows: dW stays exactly as it was
    const dw0 = randn(d.v * d.c, 34);
    const dwAccum = fromArray(rt, dw0, [d.v, d.c]);
    const none = makeCase("hard", d.n, d.v, 4, 35);
    none.targets = new Int32Array(d.n).fill(-1);
    lmHead(rt, fromArray(rt, h, [d.n, d.c]), fromArray(rt, w, [d.v, d.c]), upload(rt, none, d.n), {
      dwAccum,
    });
    assert.deepEqual(await toF32(rt, dwAccum), dw0);
  },
);

gpuTest("lmHead() rejects bad shapes and temperatures before dispatching", async () => {
  const rt = await getRuntime();
  const before = rt.dispatchCount;
  const h = fromArray(rt, new Float32Array(8), [2, 4]),
    w = fromArray(rt, new Float32Array(12), [3, 4]);
  const targets = fromArray(rt, [0, 1], [2], "i32");
  const probs = fromArray(rt, new Float32Array(4), [2, 2]), weights = fromArray(rt, [1, 1], [2]);
  assert.throws(
    () => lmHead(rt, h, w, { targets: fromArray(rt, [0, 1], [2], "u32") }),
    /dtype i32/,
  );
  assert.throws(
    () => lmHead(rt, h, w, { targets, soft: { probs, weights, temperature: 1 } }),
    /soft.probs: expected shape \[2,3\]/,
  );
  const ids = fromArray(rt, [0, 1, 2, 0], [2, 2], "i32");
  assert.throws(
    () => lmHead(rt, h, w, { targets, soft: { probs, ids, weights, temperature: 0 } }),
    /temperature/,
  );
  assert.throws(() => lmHead(rt, h, w, { targets }, { dwAccum: h }), /dwAccum/);
  assert.equal(rt.dispatchCount, before);
});
