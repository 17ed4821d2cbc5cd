import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32 } from "../gpu/tensor.ts";
import { attentionDecode } from "./attention_decode.ts";
import { attentionDecodeRef, type DecodeDims } from "./ref/attention_decode.ts";
import { attentionRef } from "./ref/attention.ts";
import { assertClose, randn } from "./testing.ts";

const U = 2 ** -24, ULP = 2 ** -23;
/** WGSL's accuracy of exp: 3 + 2·|x| ULP. */
const expErr = (x: number) => (3 + 2 * Math.abs(x)) * ULP;

/**
 * First-order bound of the kernel's f32 error per output element: scores carry the f32 dot error
 * D·u·Σ|q·k| (moving p_j by up to twice the largest, relatively), each exp its WGSL accuracy, the
 * running rescale one exp per tile, and the sums their length in the kernel's order (a tree of 8
 * levels for l, ⌈256/G⌉ terms per tile then G = 256/(D/2) partials for P·V); doubled for slack.
 */
function decodeBound(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: number[],
  dims: DecodeDims,
) {
  const { b, s, nh, nkv, d } = dims;
  const o = attentionDecodeRef(q, k, v, lengths, dims);
  const bound = new Float64Array(o.length);
  const scale = 1 / Math.sqrt(d), groups = Math.floor(256 / (d / 2)); // key groups of the P·V split
  for (let bb = 0; bb < b; bb++) {
    const n = Math.min(lengths[bb], s), tiles = Math.ceil(n / 256);
    for (let h = 0; h < nh; h++) {
      const qi = (bb * nh + h) * d,
        at = (j: number) => ((bb * s + j) * nkv + Math.floor(h / (nh / nkv))) * d;
      const sc = new Float64Array(n), es = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let dot = 0, mag = 0;
        for (let c = 0; c < d; c++) {
          dot += q[qi + c] * k[at(j) + c];
          mag += Math.abs(q[qi + c] * k[at(j) + c]);
        }
        sc[j] = dot * scale;
        es[j] = scale * d * U * mag + 2 * U * Math.abs(sc[j]);
      }
      const m = Math.max(...sc), range = m - Math.min(...sc);
      const rel = 2 * Math.max(...es) + (tiles + 1) * (expErr(range) + U * range);
      const accRel = (tiles * (Math.ceil(256 / groups) + 2) + groups) * U,
        lRel = (tiles * 10 + 1) * U;
      let l = 0;
      for (let j = 0; j < n; j++) l += Math.exp(sc[j] - m);
      for (let c = 0; c < d; c++) {
        let pv = 0;
        for (let j = 0; j < n; j++) pv += (Math.exp(sc[j] - m) / l) * Math.abs(v[at(j) + c]);
        const oc = Math.abs(o[qi + c]);
        bound[qi + c] = 2 * ((pv + oc) * rel + pv * accRel + oc * lRel) + 1e-30;
      }
    }
  }
  return { o, bound };
}

/** Random caches whose entries past each row's length are NaN: the kernel must never read them. */
function makeCache(dims: DecodeDims, lengths: number[], seed: number) {
  const { b, s, nh, nkv, d } = dims;
  const q = randn(b * nh * d, seed, -2, 2);
  const k = randn(b * s * nkv * d, seed + 1, -2, 2), v = randn(b * s * nkv * d, seed + 2);
  // keys grow along the cache, so later tiles raise the running max and the rescale matters
  for (let i = 0; i < k.length; i++) k[i] *= 1 + (Math.floor(i / (nkv * d)) % s) / s;
  for (let bb = 0; bb < b; bb++) {
    const from = (bb * s + lengths[bb]) * nkv * d, to = (bb + 1) * s * nkv * d;
    k.fill(NaN, from, to);
    v.fill(NaN, from, to);
  }
  return { q, k, v };
}

async function runGpu(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: number[],
  dims: DecodeDims,
) {
  const rt = await getRuntime();
  const { b, s, nh, nkv, d } = dims;
  const o = attentionDecode(
    rt,
    fromArray(rt, q, [b, nh, d]),
    fromArray(rt, k, [b, s, nkv, d]),
    fromArray(rt, v, [b, s, nkv, d]),
    fromArray(rt, lengths, [b], "u32"),
  );
  assert.deepEqual(o.shape, [b, nh, d]);
  return await toF32(rt, o);
}

for (const d of [8, 64]) {
  gpuTest(`attentionDecode() matches the reference, GQA, lengths 1…S (D=${d})`, async () => {
    const s = d === 8 ? 600 : 300; // several 256-key tiles, the last one ragged
    const dims = { b: 4, s, nh: 4, nkv: 2, d };
    const lengths = [1, s, 257, 100];
    const { q, k, v } = makeCache(dims, lengths, d);
    const { o, bound } = decodeBound(q, k, v, lengths, dims);
    assertClose(`decode D=${d}`, await runGpu(q, k, v, lengths, dims), o, { bound });
  });
}

gpuTest(
  "attentionDecode() agrees with full causal attention at each row's last position",
  async () => {
    const [b, t, nh, nkv, d] = [3, 40, 4, 2, 8];
    const lengths = [1, t, 17];
    // a whole sequence per row: the decode query is row b's query at position lengths[b] − 1
    const qAll = randn(b * t * nh * d, 41, -2, 2);
    const k = randn(b * t * nkv * d, 42, -2, 2), v = randn(b * t * nkv * d, 43);
    const full = attentionRef(qAll, k, v, { b, t, nh, nkv, d }).o; // (B, T, NH, D)
    const q = new Float32Array(b * nh * d), want = new Float64Array(b * nh * d);
    for (let bb = 0; bb < b; bb++) {
      const at = ((bb * t + lengths[bb] - 1) * nh) * d;
      q.set(qAll.subarray(at, at + nh * d), bb * nh * d);
      want.set(full.subarray(at, at + nh * d), bb * nh * d);
    }
    const dims = { b, s: t, nh, nkv, d };
    // two float64 computations of the same softmax: agreement to rounding
    assertClose("ref vs attentionRef", attentionDecodeRef(q, k, v, lengths, dims), want, {
      atol: 1e-12,
      rtol: 1e-12,
    });
    const { bound } = decodeBound(q, k, v, lengths, dims);
    assertClose("gpu vs attentionRef", await runGpu(q, k, v, lengths, dims), want, { bound });
  },
);

gpuTest("attentionDecode() rejects bad shapes before dispatching", async () => {
  const rt = await getRuntime();
  const before = rt.dispatchCount;
  const q = fromArray(rt, new Float32Array(3 * 4), [1, 3, 4]);
  const kv = fromArray(rt, new Float32Array(5 * 2 * 4), [1, 5, 2, 4]);
  const len = fromArray(rt, [5], [1], "u32");
  assert.throws(() => attentionDecode(rt, q, kv, kv, len), /not a multiple of NKV/);
  const q2 = fromArray(rt, new Float32Array(2 * 4), [1, 2, 4]);
  assert.throws(() => attentionDecode(rt, q2, kv, kv, fromArray(rt, [5], [1], "i32")), /dtype u32/);
  const kv8 = fromArray(rt, new Float32Array(5 * 2 * 8), [1, 5, 2, 8]);
  assert.throws(() => attentionDecode(rt, q2, kv8, kv8, len), /expected shape \[1,\?,\?,4\]/);
  assert.equal(rt.dispatchCount, before);
});
