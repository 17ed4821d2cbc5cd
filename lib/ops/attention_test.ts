import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, toF32 } from "../gpu/tensor.ts";
import { attention, attentionBackward } from "./attention.ts";
import { attentionBackwardRef, attentionRef, type AttnDims } from "./ref/attention.ts";
import { roundBf16 } from "./ref/cast.ts";
import { assertClose, assertFiniteDiff, dot, randn } from "./testing.ts";

const DIMS: AttnDims = { b: 2, t: 19, nh: 4, nkv: 2, d: 8 }; // T not a multiple of the tiles
const n = (x: AttnDims, heads: number) => x.b * x.t * heads * x.d;

Deno.test("attentionBackwardRef() matches finite differences of attentionRef(), with documents", () => {
  const dims = { b: 1, t: 5, nh: 2, nkv: 1, d: 4 };
  const q = randn(n(dims, 2), 1), k = randn(n(dims, 1), 2), v = randn(n(dims, 1), 3);
  const r = randn(n(dims, 2), 4), doc = [0, 0, 1, 1, 1];
  const g = attentionBackwardRef(q, k, v, r, dims, doc);
  assertFiniteDiff("dq", (x) => dot(r, attentionRef(x, k, v, dims, doc).o), q, g.dq);
  assertFiniteDiff("dk", (x) => dot(r, attentionRef(q, x, v, dims, doc).o), k, g.dk);
  assertFiniteDiff("dv", (x) => dot(r, attentionRef(q, k, x, dims, doc).o), v, g.dv);
});

for (const withDoc of [false, true]) {
  gpuTest(
    `attention() forward and backward match the reference in BF16 (documents: ${withDoc})`,
    async () => {
      const rt = await getRuntime();
      const d = DIMS;
      // the reference sees the same BF16-rounded inputs the GPU reads
      const q = roundBf16(randn(n(d, d.nh), 5, -2, 2)), k = roundBf16(randn(n(d, d.nkv), 6, -2, 2));
      const v = roundBf16(randn(n(d, d.nkv), 7)), dout = roundBf16(randn(n(d, d.nh), 8));
      const docIds = Array.from({ length: d.b * d.t }, (_, i) => Math.floor((i % d.t) / 7));
      const doc = withDoc ? docIds : undefined;
      const tq = fromArray(rt, q, [d.b, d.t, d.nh, d.d], "bf16");
      const tk = fromArray(rt, k, [d.b, d.t, d.nkv, d.d], "bf16");
      const tv = fromArray(rt, v, [d.b, d.t, d.nkv, d.d], "bf16");
      const opts = withDoc ? { doc: fromArray(rt, docIds, [d.b, d.t], "u32") } : {};
      const { o, lse } = attention(rt, tq, tk, tv, opts);
      const ref = attentionRef(q, k, v, d, doc);
      // output is stored in BF16: half an ulp of 2^-8 relative, plus f32 accumulation slack
      assertClose("o", await toF32(rt, o), ref.o, { atol: 1e-5, rtol: 2 ** -8 });
      assertClose("lse", await toF32(rt, lse), ref.lse, { atol: 1e-5, rtol: 1e-5 });
      // backward from the BF16 o the GPU stored; gradients are f32
      // the reference uses the GPU's BF16 o in its row term Σ_j P·dP = dout·o, as the kernel does,
      // so only f32 rounding differs
      const g = attentionBackwardRef(q, k, v, dout, d, doc, await toF32(rt, o));
      const back = attentionBackward(
        rt,
        tq,
        tk,
        tv,
        o,
        lse,
        fromArray(rt, dout, [d.b, d.t, d.nh, d.d], "bf16"),
        opts,
      );
      assertClose("dq", await toF32(rt, back.dq), g.dq, { atol: 1e-5, rtol: 1e-4 });
      assertClose("dk", await toF32(rt, back.dk), g.dk, { atol: 1e-5, rtol: 1e-4 });
      assertClose("dv", await toF32(rt, back.dv), g.dv, { atol: 1e-5, rtol: 1e-4 });
    },
  );
}

gpuTest("attention() FP8 ablation switch changes the result by FP8-sized errors only", async () => {
  const rt = await getRuntime();
  const d = { b: 1, t: 16, nh: 2, nkv: 2, d: 8 };
  const q = randn(n(d, 2), 9), k = randn(n(d, 2), 10), v = randn(n(d, 2), 11);
  const shape = [d.b, d.t, d.nh, d.d];
  const [tq, tk, tv] = [q, k, v].map((x) => fromArray(rt, x, shape, "f32"));
  const exact = await toF32(rt, attention(rt, tq, tk, tv).o);
  const scales = rt.upload(new Float32Array([448, 448, 448]));
  const fp8 = await toF32(rt, attention(rt, tq, tk, tv, { fp8Scales: scales }).o);
  let maxDiff = 0;
  for (let i = 0; i < exact.length; i++) maxDiff = Math.max(maxDiff, Math.abs(exact[i] - fp8[i]));
  assert.ok(maxDiff > 1e-4, "FP8 rounding is applied");
  assert.ok(maxDiff < 0.25, `E4M3 error stays bounded (${maxDiff})`);
  assertClose("f32 attention", exact, attentionRef(q, k, v, d).o, { atol: 1e-5, rtol: 1e-5 });
});

gpuTest("attention() rejects bad head layouts before dispatching", async () => {
  const rt = await getRuntime();
  const q = fromArray(rt, new Float32Array(3 * 4), [1, 1, 3, 4]);
  const k = fromArray(rt, new Float32Array(2 * 4), [1, 1, 2, 4]);
  assert.throws(() => attention(rt, q, k, k), /not a multiple of NKV/);
  const qb = fromArray(rt, new Float32Array(2 * 4), [1, 1, 2, 4], "bf16");
  assert.throws(() => attention(rt, qb, k, k), /expected dtype bf16/);
});
