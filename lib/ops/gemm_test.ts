import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime, GpuUsageError } from "../gpu/runtime.ts";
import { _f16ToF32, _f32ToF16, fromArray, toArray, toF32 } from "../gpu/tensor.ts";
import { matmul, transpose } from "./gemm.ts";
import { dequantizeFp8, quantizeFp8 } from "./cast.ts";
import { matmulRef } from "./ref/gemm.ts";
import { roundBf16 } from "./ref/cast.ts";
import { assertClose, randn } from "./testing.ts";
import { gemmWgsl } from "./gemm_gen.ts";

/**
 * f32 accumulation error bound for one dot product of length K: |err| ≤ K·u·Σ|a·b| (u = 2^-24
 * rounding per add, doubled for slack) — the standard γ_K bound, so the tolerance scales with the
 * problem instead of being a magic number.
 */
function gemmBound(a: Float32Array, b: Float32Array, dims: Parameters<typeof matmulRef>[2]) {
  const abs = (x: Float32Array) => x.map(Math.abs);
  const s = matmulRef(abs(a), abs(b), dims);
  return s.map((v) => 2 * dims.k * 2 ** -24 * v + 1e-30);
}

const CASES = [
  { batch: 1, m: 37, n: 20, k: 44 }, // fast path, ragged M and N tiles
  { batch: 3, m: 9, n: 68, k: 12 },
  { batch: 2, m: 21, n: 13, k: 7 }, // odd K and N: naive fallback
];

for (const { batch, m, n, k } of CASES) {
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
    gpuTest(
      `matmul() matches the reference for ${batch}x${m}x${n}x${k} transA=${transA} transB=${transB}`,
      async () => {
        const rt = await getRuntime();
        const a = randn(batch * m * k, m * 7 + k);
        const b = randn(batch * k * n, n * 13 + k);
        const dims = { batch, m, n, k, transA, transB };
        const ta = fromArray(rt, a, transA ? [batch, k, m] : [batch, m, k]);
        const tb = fromArray(rt, b, transB ? [batch, n, k] : [batch, k, n]);
        const want = matmulRef(a, b, dims);
        const bound = gemmBound(a, b, dims);
        for (const kernel of ["v1", "v2"] as const) {
          const c = matmul(rt, ta, tb, { transA, transB, kernel });
          assert.deepEqual(c.shape, [batch, m, n]);
          assertClose(`gemm ${kernel}`, await toF32(rt, c), want, { bound });
          rt.release(c.buffer);
        }
      },
    );
  }
}

gpuTest("matmul() broadcasts a rank-2 operand and accumulates with beta", async () => {
  const rt = await getRuntime();
  const [batch, m, n, k] = [2, 10, 8, 16];
  const a = randn(batch * m * k, 1);
  const w = randn(n * k, 2);
  const c0 = randn(batch * m * n, 3);
  const out = fromArray(rt, c0, [batch, m, n]);
  matmul(rt, fromArray(rt, a, [batch, m, k]), fromArray(rt, w, [n, k]), {
    transB: true,
    alpha: 0.5,
    beta: 1,
    out,
  });
  const want = matmulRef(a, w, { batch, m, n, k, transB: true }, 0.5, 1, c0);
  assertClose("gemm beta", await toF32(rt, out), want, { atol: 1e-5 });
});

gpuTest("matmul() takes f16 and bf16 operands and accumulates in f32", async () => {
  const rt = await getRuntime();
  const [m, n, k] = [33, 24, 40];
  const a = randn(m * k, 5), b = randn(k * n, 6);
  const a16 = a.map((v) => _f16ToF32(_f32ToF16(v)));
  const b16 = roundBf16(b);
  const dims = { m, n, k };
  const c = matmul(rt, fromArray(rt, a, [m, k], "f16"), fromArray(rt, b, [k, n], "bf16"));
  assertClose("gemm f16·bf16", await toF32(rt, c), matmulRef(a16, b16, dims), {
    bound: gemmBound(a16, b16, dims),
  });
  const ct = matmul(rt, fromArray(rt, a, [k, m], "f16"), fromArray(rt, b, [n, k], "bf16"), {
    transA: true,
    transB: true,
  });
  const want = matmulRef(a16, b16, { ...dims, transA: true, transB: true });
  assertClose("gemm f16ᵀ·bf16ᵀ", await toF32(rt, ct), want, { atol: 1e-4 });
});

gpuTest("transpose() moves packed elements bit for bit", async () => {
  const rt = await getRuntime();
  const x = randn(2 * 6 * 4, 9);
  const t = transpose(rt, fromArray(rt, x, [2, 6, 4], "bf16"));
  const got = await toArray(rt, t);
  const xb = roundBf16(x);
  for (let b = 0; b < 2; b++) {
    for (let r = 0; r < 6; r++) {
      for (let c = 0; c < 4; c++) assert.equal(got[b * 24 + c * 6 + r], xb[b * 24 + r * 4 + c]);
    }
  }
});

gpuTest("matmul() rejects mismatched shapes and dtypes before dispatching", async () => {
  const rt = await getRuntime();
  const before = rt.dispatchCount;
  const a = fromArray(rt, new Float32Array(6), [2, 3]);
  const b = fromArray(rt, new Float32Array(8), [4, 2]);
  assert.throws(() => matmul(rt, a, b), /inner dimensions differ/);
  assert.throws(() => matmul(rt, a, fromArray(rt, [1, 2, 3], [3], "u32")), GpuUsageError);
  const b2 = fromArray(rt, new Float32Array(6), [3, 2]);
  assert.throws(() => matmul(rt, a, b2, { beta: 1 }), /needs `out`/);
  assert.equal(rt.dispatchCount, before);
});

Deno.test("kernels/gemm.wgsl and gemm_nt.wgsl are what lib/ops/gemm_gen.ts generates", async () => {
  const read = (f: string) => Deno.readTextFile(new URL(`../../kernels/${f}`, import.meta.url));
  assert.equal(await read("gemm.wgsl"), gemmWgsl());
  assert.equal(
    await read("gemm_nt.wgsl"),
    gemmWgsl(undefined, undefined, undefined, undefined, true),
  );
});

gpuTest("matmul() splits operands larger than one binding into blocks", async () => {
  const rt = await getRuntime();
  const [m, n, k] = [150, 72, 40];
  for (const [transA, transB] of [[false, false], [false, true], [true, false]]) {
    const a = randn(m * k, 21), b = randn(k * n, 22), c0 = randn(m * n, 23);
    const dims = { m, n, k, transA, transB };
    const out = fromArray(rt, c0, [m, n]);
    const before = rt.dispatchCount;
    matmul(
      rt,
      fromArray(rt, a, transA ? [k, m] : [m, k]),
      fromArray(rt, b, transB ? [n, k] : [k, n]),
      {
        transA,
        transB,
        out,
        beta: 0.5,
        bindingLimit: 8192, // A is 24000 bytes, C 43200: several blocks each way
      },
    );
    assert.ok(rt.dispatchCount - before > 4, "split into several dispatches");
    const want = matmulRef(a, b, dims, 1, 0.5, c0);
    assertClose(`split ${transA} ${transB}`, await toF32(rt, out), want, {
      atol: 1e-5,
      rtol: 1e-5,
    });
  }
  const a = fromArray(rt, randn(m * k, 1), [k, m]), b = fromArray(rt, randn(k * n, 2), [n, k]);
  assert.throws(
    () => matmul(rt, a, b, { transA: true, transB: true, bindingLimit: 8192 }),
    /cannot split/,
  );
});

/**
 * gemm_h2.wgsl's bound: each 16-k chunk sums 8 products per f16 half (γ_9 with u = 2^-11, the
 * product's own rounding included), then f32 adds over K (2·K·2^-24), all of Σ|a·b|.
 */
function h2Bound(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: Parameters<typeof matmulRef>[2],
) {
  const s = matmulRef(Array.from(a, Math.abs), Array.from(b, Math.abs), dims);
  const g9 = (9 * 2 ** -11) / (1 - 9 * 2 ** -11);
  return s.map((v) => (g9 + 2 * dims.k * 2 ** -24) * v + 1e-30);
}

gpuTest("matmul() kernel h2 multiplies f16 and FP8 in packed halves within its bound", async () => {
  const rt = await getRuntime();
  if (!rt.has("shader-f16")) {
    console.warn("\n!!! SKIPPED: this device has no shader-f16\n");
    return;
  }
  const [batch, m, n, k] = [2, 70, 36, 48]; // ragged M and N tiles, three 16-k chunks
  const dims = { batch, m, n, k, transB: true };
  // f16 × f16
  const a = randn(batch * m * k, 21), b = randn(batch * n * k, 22);
  const a16 = a.map((v) => _f16ToF32(_f32ToF16(v))), b16 = b.map((v) => _f16ToF32(_f32ToF16(v)));
  const c16 = matmul(
    rt,
    fromArray(rt, a, [batch, m, k], "f16"),
    fromArray(rt, b, [batch, n, k], "f16"),
    { transB: true, kernel: "h2" },
  );
  assertClose("h2 f16", await toF32(rt, c16), matmulRef(a16, b16, dims), {
    bound: h2Bound(a16, b16, dims),
  });
  // E4M3 × E4M3 and E5M2 × E4M3 at scales that put codes near their largest (448, 57344)
  const scales = rt.upload(new Float32Array([400, 1 / 400, 50000, 1 / 50000]));
  const amax = rt.upload(new Uint32Array(4));
  const q = (x: Float32Array, shape: number[], fmt: "e4m3" | "e5m2", i: number) =>
    quantizeFp8(rt, fromArray(rt, x, shape), fmt, { buffer: scales, index: i }, {
      buffer: amax,
      index: i / 2,
    });
  const inv = (i: number) => ({ buffer: scales, index: i });
  for (const fa of ["e4m3", "e5m2"] as const) {
    const qa = q(a, [batch, m, k], fa, fa === "e4m3" ? 0 : 2);
    const qb = q(b, [batch, n, k], "e4m3", 0);
    const ia = inv(fa === "e4m3" ? 1 : 3), ib = inv(1);
    // the reference multiplies exactly the values the codes stand for
    const da = await toF32(rt, dequantizeFp8(rt, qa, ia));
    const db = await toF32(rt, dequantizeFp8(rt, qb, ib));
    const want = matmulRef(da, db, dims), bound = h2Bound(da, db, dims);
    for (const withAmax of [false, true]) {
      const am = withAmax
        ? {
          amaxA: { buffer: amax, index: fa === "e4m3" ? 0 : 1 },
          amaxB: { buffer: amax, index: 0 },
        }
        : {};
      const got = matmul(rt, qa, qb, {
        transB: true,
        kernel: "h2",
        scaleInvA: ia,
        scaleInvB: ib,
        ...am,
      });
      assertClose(`h2 ${fa}·e4m3 (amax ${withAmax})`, await toF32(rt, got), want, { bound });
    }
    const v2 = matmul(rt, qa, qb, { transB: true, scaleInvA: ia, scaleInvB: ib });
    assertClose(`v2 ${fa}·e4m3`, await toF32(rt, v2), want, { bound: gemmBound(da, db, dims) });
  }
  // the backward's layouts, transposed before the kernel: dX = dY · W, dW = dYᵀ · X with dY
  // (T, O) E5M2, W (O, I) and X (T, I) E4M3
  {
    const [T, O, I] = [64, 48, 36];
    const dy = q(a.subarray(0, T * O), [T, O], "e5m2", 2);
    const w = q(b.subarray(0, O * I), [O, I], "e4m3", 0);
    const x = q(a.subarray(T * O, T * O + T * I), [T, I], "e4m3", 0);
    const [fdy, fw, fx] = await Promise.all(
      [[dy, 3], [w, 1], [x, 1]].map(([t, i]) =>
        toF32(rt, dequantizeFp8(rt, t as typeof dy, inv(i as number)))
      ),
    );
    for (const transA of [false, true]) {
      const d = transA ? { m: O, n: I, k: T, transA } : { m: T, n: I, k: O };
      const got = matmul(rt, dy, transA ? x : w, {
        transA,
        kernel: "h2",
        scaleInvA: inv(3),
        scaleInvB: inv(1),
      });
      const ref = matmulRef(fdy, transA ? fx : fw, d);
      assertClose(`h2 e5m2${transA ? "ᵀ" : ""}·e4m3`, await toF32(rt, got), ref, {
        bound: h2Bound(fdy, transA ? fx : fw, d),
      });
    }
  }
  const e5 = q(a, [batch, m, k], "e5m2", 2);
  for (
    const [x, y, o, re] of [
      [e5, e5, { transB: true }, /E5M2 × E5M2/],
      [fromArray(rt, a, [batch, m, k]), e5, { transB: true }, /must be f16, e4m3 or e5m2/],
    ] as const
  ) {
    assert.throws(
      () => matmul(rt, x, y, { ...o, kernel: "h2", scaleInvA: inv(3), scaleInvB: inv(3) }),
      (e: unknown) => e instanceof GpuUsageError && re.test(e.message),
    );
  }
  const a8 = fromArray(rt, randn(m * 40, 1), [m, 40], "f16");
  assert.throws(
    () => matmul(rt, a8, a8, { transB: true, kernel: "h2" }),
    /K 40 is not a multiple of 16/,
  );
});

gpuTest(
  "matmul() kernel tile (workgroup memory) matches the reference in every layout",
  async () => {
    const rt = await getRuntime();
    const [batch, m, n, k] = [2, 130, 70, 48]; // ragged 128-tiles, three 16-k slices
    for (const [transA, transB] of [[false, true], [false, false], [true, true], [true, false]]) {
      const a = randn(batch * m * k, 31), b = randn(batch * n * k, 32);
      const dims = { batch, m, n, k, transA, transB };
      const c0 = randn(batch * m * n, 33);
      const out = fromArray(rt, c0, [batch, m, n]);
      matmul(
        rt,
        fromArray(rt, a, transA ? [batch, k, m] : [batch, m, k]),
        fromArray(rt, b, transB ? [batch, n, k] : [batch, k, n]),
        { transA, transB, kernel: "tile", alpha: 0.5, beta: 1, out },
      );
      const want = matmulRef(a, b, dims, 0.5, 1, c0);
      const bound = gemmBound(a, b, dims).map((x, i) => x + 2 ** -22 * Math.abs(want[i]));
      assertClose(`tile ${transA} ${transB}`, await toF32(rt, out), want, { bound });
    }
    const x = fromArray(rt, randn(8 * 40, 1), [8, 40]);
    assert.throws(
      () => matmul(rt, x, x, { transB: true, kernel: "tile" }),
      /K 40 is not a multiple of 16/,
    );
  },
);
