import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { free, fromArray, type Tensor, toF32, zeros } from "../gpu/tensor.ts";
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
  assert.throws(() => embedding(rt, t, [1, 11]), /token id 11 at 1 outside 0…10/);
  assert.deepEqual(await toF32(rt, embedding(rt, t, ids)), await toF32(rt, out)); // host ids
  // a table larger than one binding is handled in 64-row blocks
  const [bv, bc] = [200, 4]; // 3200 bytes; limit 1024 → blocks of 64 rows
  const big = randn(bv * bc, 15), bigIds = [199, 0, 64, 130, 64, 5];
  const tb = fromArray(rt, big, [bv, bc]);
  const bout = embedding(rt, tb, fromArray(rt, bigIds, [bigIds.length], "u32"), {
    bindingLimit: 1024,
  });
  assert.deepEqual(await toF32(rt, bout), Float32Array.from(embeddingRef(big, bigIds, bc)));
  const bdt = zeros(rt, [bv, bc]);
  const bdo = randn(bigIds.length * bc, 16);
  embeddingBackward(rt, fromArray(rt, bdo, [bigIds.length, bc]), bigIds, bdt, {
    bindingLimit: 1024,
  });
  const bwant = embeddingBackwardRef(bdo, bigIds, bv, bc);
  assertClose("blocked dtable", await toF32(rt, bdt), bwant, { atol: 1e-6, rtol: 1e-6 });
  free(rt, t, out, dt);
});

gpuTest(
  "rmsnorm(), rope() and swiglu() split over bindings match unsplit and the reference",
  async () => {
    const rt = await getRuntime();
    const same = async (what: string, a: Tensor, b: Tensor) =>
      assert.deepEqual(await toF32(rt, b), await toF32(rt, a), `${what} split vs unsplit`);
    // RMSNorm: 200 rows of 20 in blocks of 64 rows (5120 bytes)
    const [n, c, eps] = [200, 20, 1e-5];
    const rows = { bindingLimit: 64 * c * 4 };
    const x = randn(n * c, 30, -2, 2), w = randn(c, 31), dy = randn(n * c, 32);
    const tx = fromArray(rt, x, [n, c]),
      tw = fromArray(rt, w, [c]),
      tdy = fromArray(rt, dy, [n, c]);
    const f1 = rmsnorm(rt, tx, tw, eps), f2 = rmsnorm(rt, tx, tw, eps, rows);
    await same("rmsnorm y", f1.y, f2.y);
    await same("rmsnorm rstd", f1.rstd, f2.rstd);
    assertClose("rmsnorm y", await toF32(rt, f2.y), rmsnormRef(x, w, n, c, eps).y, {
      atol: 1e-6,
      rtol: 1e-5,
    });
    const b1 = rmsnormBackward(rt, tdy, tx, tw, f1.rstd);
    const d0 = rt.dispatchCount;
    const b2 = rmsnormBackward(rt, tdy, tx, tw, f2.rstd, undefined, rows);
    assert.equal(rt.dispatchCount - d0, 2 * 4, "four row blocks");
    await same("rmsnorm dx", b1.dx, b2.dx);
    const g = rmsnormBackwardRef(dy, x, w, n, c, eps);
    assertClose("rmsnorm dx", await toF32(rt, b2.dx), g.dx, { atol: 1e-5, rtol: 1e-4 });
    // dw sums 200 rows in blocks: the same terms, other rounding
    assertClose("rmsnorm dw split", await toF32(rt, b2.dw), await toF32(rt, b1.dw), { rtol: 1e-5 });
    assertClose("rmsnorm dw", await toF32(rt, b2.dw), g.dw, { atol: 1e-5, rtol: 1e-4 });
    // RoPE: 150 tokens of (2, 8) in blocks of 64 tokens
    const [nt, h, d, maxPos] = [150, 2, 8, 160];
    const xr = randn(nt * h * d, 33), pos = Array.from({ length: nt }, (_, i) => (i * 7) % maxPos);
    const tbl = makeRopeTable(rt, maxPos, d, 500000);
    const table = ropeTable(maxPos, ropeInvFreq(d, 500000));
    const txr = fromArray(rt, xr, [nt, h, d]), tp = fromArray(rt, pos, [nt], "u32");
    const tok = { bindingLimit: 64 * h * d * 4 };
    for (const inverse of [false, true]) {
      const r1 = rope(rt, txr, tp, tbl, inverse), r2 = rope(rt, txr, tp, tbl, inverse, tok);
      await same(`rope ${inverse}`, r1, r2);
      const want = ropeRef(xr, pos, h, d, table, inverse ? -1 : 1);
      assertClose(`rope ${inverse}`, await toF32(rt, r2), want, { atol: 1e-6 });
    }
    // SwiGLU (N, F): 5000 elements in chunks of 1024
    const m = 5000;
    const el = { bindingLimit: 4096 };
    const gg = randn(m, 34, -6, 6), uu = randn(m, 35), dh = randn(m, 36);
    const tg = fromArray(rt, gg, [50, 100]), tu = fromArray(rt, uu, [50, 100]);
    const tdh = fromArray(rt, dh, [50, 100]);
    const s1 = swiglu(rt, tg, tu), s2 = swiglu(rt, tg, tu, el);
    await same("swiglu", s1, s2);
    assertClose("swiglu", await toF32(rt, s2), swigluRef(gg, uu), { atol: 1e-6, rtol: 1e-5 });
    const sb1 = swigluBackward(rt, tdh, tg, tu), sb2 = swigluBackward(rt, tdh, tg, tu, el);
    await same("swiglu dg", sb1.dg, sb2.dg);
    await same("swiglu du", sb1.du, sb2.du);
    const ref = swigluBackwardRef(dh, gg, uu);
    assertClose("swiglu dg", await toF32(rt, sb2.dg), ref.dg, { atol: 1e-6, rtol: 1e-5 });
    assertClose("swiglu du", await toF32(rt, sb2.du), ref.du, { atol: 1e-6, rtol: 1e-5 });
    free(rt, tx, tw, tdy, txr, tp, tg, tu, tdh, s1, s2, f1.y, f2.y, b1.dx, b2.dx);
  },
);

gpuTest("embedding() and embeddingBackward() split tokens and table rows bit for bit", async () => {
  const rt = await getRuntime();
  const [v, c, n] = [200, 4, 150]; // blocks of 64 rows (1024 bytes): 3 token blocks, 4 table blocks
  const table = randn(v * c, 37), dout = randn(n * c, 38);
  const ids = Array.from({ length: n }, (_, i) => (i * 37 + (i % 3) * 64) % v);
  const t = fromArray(rt, table, [v, c]);
  const split = { bindingLimit: 1024 };
  const out = embedding(rt, t, fromArray(rt, ids, [n], "u32"), split);
  assert.deepEqual(await toF32(rt, out), Float32Array.from(embeddingRef(table, ids, c)));
  const td = fromArray(rt, dout, [n, c]);
  const [d1, d2] = [zeros(rt, [v, c]), zeros(rt, [v, c])];
  embeddingBackward(rt, td, ids, d1);
  embeddingBackward(rt, td, ids, d2, split);
  const got = await toF32(rt, d2);
  assert.deepEqual(got, await toF32(rt, d1), "the same additions in the same order");
  assertClose("dtable", got, embeddingBackwardRef(dout, ids, v, c), { atol: 1e-6, rtol: 1e-6 });
  free(rt, t, out, td, d1, d2);
});
