import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { free, fromArray, toF32, zeros } from "../gpu/tensor.ts";
import {
  embedding,
  embeddingBackward,
  makeRopeTable,
  rmsnorm,
  rmsnormBackward,
  rope,
  swiglu,
  swigluBackward,
} from "./nn.ts";
import {
  embeddingBackwardRef,
  embeddingRef,
  LLAMA31_ROPE_SCALING,
  rmsnormBackwardRef,
  rmsnormRef,
  ropeInvFreq,
  ropeRef,
  ropeTable,
  swigluBackwardRef,
  swigluRef,
} from "./ref/nn.ts";
import { assertClose, assertFiniteDiff, dot, randn } from "./testing.ts";

// Tolerances: forward ops are a few f32 operations per element, so 1e-5 relative (~100 ulp) plus
// a small absolute term; reductions over C (≤ 300) get 1e-4.

Deno.test("rmsnormBackwardRef() matches finite differences of rmsnormRef()", () => {
  const [n, c, eps] = [3, 5, 1e-5];
  const x = randn(n * c, 1), w = randn(c, 2), r = randn(n * c, 3);
  const { dx, dw } = rmsnormBackwardRef(r, x, w, n, c, eps);
  assertFiniteDiff("dx", (xx) => dot(r, rmsnormRef(xx, w, n, c, eps).y), x, dx);
  assertFiniteDiff("dw", (ww) => dot(r, rmsnormRef(x, ww, n, c, eps).y), w, dw);
});

gpuTest(
  "rmsnorm() and rmsnormBackward() match the reference (C not a multiple of 256)",
  async () => {
    const rt = await getRuntime();
    const [n, c, eps] = [7, 300, 1e-5];
    const x = randn(n * c, 4, -2, 2), w = randn(c, 5), dy = randn(n * c, 6);
    const tx = fromArray(rt, x, [n, c]), tw = fromArray(rt, w, [c]);
    const { y, rstd } = rmsnorm(rt, tx, tw, eps);
    const ref = rmsnormRef(x, w, n, c, eps);
    assertClose("y", await toF32(rt, y), ref.y, { atol: 1e-6, rtol: 1e-5 });
    const acc = fromArray(rt, new Float32Array(c).fill(1), [c]);
    const { dx, dw } = rmsnormBackward(rt, fromArray(rt, dy, [n, c]), tx, tw, rstd, acc);
    const g = rmsnormBackwardRef(dy, x, w, n, c, eps);
    assertClose("dx", await toF32(rt, dx), g.dx, { atol: 1e-5, rtol: 1e-4 });
    assertClose("dw", await toF32(rt, dw), g.dw.map((v) => v + 1), { atol: 1e-5, rtol: 1e-4 });
    assert.throws(() => rmsnorm(rt, tx, fromArray(rt, w.slice(1), [c - 1])), /expected shape/);
  },
);

Deno.test("ropeInvFreq() applies Llama 3.1 scaling by wavelength", () => {
  const plain = ropeInvFreq(128, 500000);
  const scaled = ropeInvFreq(128, 500000, LLAMA31_ROPE_SCALING);
  assert.equal(scaled[0], plain[0]); // short wavelength kept
  assert.equal(scaled[63], plain[63] / 8); // long wavelength divided by factor
  const mid = plain.findIndex((f) => 2 * Math.PI / f > 2048 && 2 * Math.PI / f < 8192);
  assert.ok(scaled[mid] < plain[mid] && scaled[mid] > plain[mid] / 8, "blended band");
});

gpuTest("rope() matches the reference and its inverse is the backward", async () => {
  const rt = await getRuntime();
  const [n, h, d, maxPos] = [6, 3, 16, 64];
  const x = randn(n * h * d, 7), r = randn(n * h * d, 8);
  const pos = [0, 1, 2, 0, 1, 63]; // two packed documents
  const tbl = makeRopeTable(rt, maxPos, d, 500000, LLAMA31_ROPE_SCALING);
  const table = ropeTable(maxPos, ropeInvFreq(d, 500000, LLAMA31_ROPE_SCALING));
  const tp = fromArray(rt, pos, [n], "u32");
  const y = rope(rt, fromArray(rt, x, [n, h, d]), tp, tbl);
  assertClose("rope", await toF32(rt, y), ropeRef(x, pos, h, d, table), { atol: 1e-6 });
  // backward = inverse rotation; check the reference against finite differences first
  const dxRef = ropeRef(r, pos, h, d, table, -1);
  assertFiniteDiff("rope dx", (xx) => dot(r, ropeRef(xx, pos, h, d, table)), x, dxRef);
  const dx = rope(rt, fromArray(rt, r, [n, h, d]), tp, tbl, true);
  assertClose("rope dx", await toF32(rt, dx), dxRef, { atol: 1e-6 });
});

gpuTest("swiglu() and swigluBackward() match the reference and finite differences", async () => {
  const rt = await getRuntime();
  const n = 1000;
  const g = randn(n, 9, -6, 6), u = randn(n, 10), dh = randn(n, 11);
  const ref = swigluBackwardRef(dh, g, u);
  assertFiniteDiff("dg", (gg) => dot(dh, swigluRef(gg, u)), g.slice(0, 50), ref.dg.slice(0, 50));
  const tg = fromArray(rt, g, [n]), tu = fromArray(rt, u, [n]);
  // exp() in WGSL is allowed 3 + 2|x| ulp: 1e-5 relative covers |g| ≤ 6
  assertClose("h", await toF32(rt, swiglu(rt, tg, tu)), swigluRef(g, u), {
    atol: 1e-6,
    rtol: 1e-5,
  });
  const { dg, du } = swigluBackward(rt, fromArray(rt, dh, [n]), tg, tu);
  assertClose("dg", await toF32(rt, dg), ref.dg, { atol: 1e-6, rtol: 1e-5 });
  assertClose("du", await toF32(rt, du), ref.du, { atol: 1e-6, rtol: 1e-5 });
});

gpuTest("embedding() gathers rows and embeddingBackward() scatter-adds them by id", async () => {
  const rt = await getRuntime();
  const [v, c] = [11, 260];
  const table = randn(v * c, 12), ids = [3, 0, 3, 10, 3, 7], dout = randn(ids.length * c, 13);
  const t = fromArray(rt, table, [v, c]);
  const out = embedding(rt, t, fromArray(rt, ids, [ids.length], "u32"));
  assert.deepEqual(await toF32(rt, out), Float32Array.from(embeddingRef(table, ids, c)));
  const r = randn(ids.length * c, 14);
  assertFiniteDiff(
    "dtable",
    (tt) => dot(r, embeddingRef(tt, ids, c)),
    table,
    embeddingBackwardRef(r, ids, v, c),
  );
  const dt = zeros(rt, [v, c]);
  embeddingBackward(rt, fromArray(rt, dout, [ids.length, c]), ids, dt);
  embeddingBackward(rt, fromArray(rt, dout, [ids.length, c]), ids, dt); // accumulates
  const want = embeddingBackwardRef(dout, ids, v, c).map((x) => 2 * x);
  assertClose("dtable", await toF32(rt, dt), want, { atol: 1e-6, rtol: 1e-6 });
  assert.throws(() => embeddingBackward(rt, out, [99, 0, 0, 0, 0, 0], dt), /outside/);
  free(rt, t, out, dt);
});
