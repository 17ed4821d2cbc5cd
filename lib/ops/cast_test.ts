import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, Tensor, toF32 } from "../gpu/tensor.ts";
import { dequantizeFp8, fromBf16, quantizeFp8, scalars, tensorFromBits, toBf16 } from "./cast.ts";
import {
  bitsF32,
  f32Bits,
  f32BitsToBf16,
  f32BitsToFp8,
  fromFp8,
  packBf16,
  packFp8,
} from "./ref/cast.ts";

/** Inputs that exercise every code, every tie, subnormals, specials and random bit patterns. */
function castInputs(): Uint32Array {
  const bits: number[] = [
    0,
    0x80000000,
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0xffc00001,
    1,
    0x807fffff,
  ];
  for (const format of ["e4m3", "e5m2"] as const) {
    for (let c = 0; c < 256; c++) {
      const v = fromFp8(c, format);
      const next = fromFp8(c + 1, format);
      bits.push(f32Bits(v));
      if (Number.isFinite(v) && Number.isFinite(next)) {
        const mid = f32Bits((v + next) / 2);
        bits.push(mid, mid + 1, mid - 1);
      }
    }
  }
  let seed = 99;
  for (let i = 0; i < 4000; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    bits.push(seed);
  }
  return Uint32Array.from(bits, (b) => b >>> 0);
}

function firstMismatch(got: ArrayLike<number>, want: ArrayLike<number>): string {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) return `index ${i}: gpu ${got[i]} ref ${want[i]}`;
  }
  return "";
}

for (const format of ["e4m3", "e5m2"] as const) {
  gpuTest(
    `quantizeFp8() is bit-exact with the reference for ${format} and fuses amax`,
    async () => {
      const rt = await getRuntime();
      const bits = castInputs();
      const x = tensorFromBits(rt, bits);
      const one = scalars(rt, [1]);
      const amax = rt.upload(new Uint32Array([0, 0]));
      const q = quantizeFp8(rt, x, format, { buffer: one, index: 0 }, { buffer: amax, index: 1 });
      const got = await rt.readU32(q.buffer, Math.ceil(bits.length / 4));
      const want = packFp8(Array.from(bits, (b) => f32BitsToFp8(b, format)));
      assert.equal(firstMismatch(got, want), "");
      let refMax = 0;
      for (const b of bits) {
        if ((b & 0x7fffffff) < 0x7f800000) refMax = Math.max(refMax, b & 0x7fffffff);
      }
      assert.deepEqual([...await rt.readU32(amax, 2)], [0, refMax]);
      rt.release(x.buffer);
      rt.release(q.buffer);
    },
  );

  gpuTest(`dequantizeFp8() decodes all 256 ${format} codes exactly`, async () => {
    const rt = await getRuntime();
    const codes = Array.from({ length: 256 }, (_, i) => i);
    const q = new Tensor(rt.upload(packFp8(codes)), [256], format);
    const one = scalars(rt, [1]);
    const y = dequantizeFp8(rt, q, { buffer: one, index: 0 });
    const got = await rt.readU32(y.buffer, 256);
    const want = codes.map((c) => f32Bits(fromFp8(c, format)));
    for (let c = 0; c < 256; c++) {
      const v = fromFp8(c, format);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(bitsF32(got[c])), `code ${c}`);
      else assert.equal(got[c], want[c], `code ${c}`);
    }
  });
}

gpuTest("quantizeFp8() applies the scale in f32 like the reference", async () => {
  const rt = await getRuntime();
  const xs = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 3);
  const x = fromArray(rt, xs, [1001]);
  const sc = scalars(rt, [0, 37.5]);
  const amax = rt.upload(new Uint32Array([0]));
  const q = quantizeFp8(rt, x, "e4m3", { buffer: sc, index: 1 }, { buffer: amax, index: 0 });
  const got = await rt.readU32(q.buffer, Math.ceil(1001 / 4));
  const s = Math.fround(37.5);
  const want = packFp8(Array.from(xs, (v) => f32BitsToFp8(f32Bits(Math.fround(v * s)), "e4m3")));
  assert.equal(firstMismatch(got, want), "");
});

gpuTest("toBf16() and fromBf16() are bit-exact with the reference", async () => {
  const rt = await getRuntime();
  const bits = castInputs();
  const x = tensorFromBits(rt, bits);
  const h = toBf16(rt, x);
  const got = await rt.readU32(h.buffer, Math.ceil(bits.length / 2));
  const want = packBf16(Array.from(bits, (b) => f32BitsToBf16(b)));
  assert.equal(firstMismatch(got, want), "");
  const back = fromBf16(rt, h);
  const wide = await rt.readU32(back.buffer, bits.length);
  for (let i = 0; i < bits.length; i++) {
    const ref = (f32BitsToBf16(bits[i]) << 16) >>> 0;
    assert.equal(wide[i], ref, `index ${i}`);
  }
  const f = await toF32(rt, h);
  assert.equal(f[0], 0);
});

gpuTest(
  "quantizeFp8(), dequantizeFp8(), toBf16() and fromBf16() split over bindings match unsplit bit for bit",
  async () => {
    const rt = await getRuntime();
    const bits = castInputs(); // ragged: not a multiple of 1024 or of 4
    const x = tensorFromBits(rt, bits);
    const sc = scalars(rt, [37.5, 1 / 37.5]);
    const amax = rt.upload(new Uint32Array([0, 0]));
    const split = { bindingLimit: 4096 }; // f32 chunks of 1024 elements
    assert.ok(bits.length * 4 > 4 * split.bindingLimit, "several chunks");
    const read = (t: Tensor) => rt.readU32(t.buffer, t.bytes / 4);
    for (const format of ["e4m3", "e5m2"] as const) {
      const q1 = quantizeFp8(rt, x, format, { buffer: sc, index: 0 }, { buffer: amax, index: 0 });
      const q2 = quantizeFp8(
        rt,
        x,
        format,
        { buffer: sc, index: 0 },
        { buffer: amax, index: 1 },
        undefined,
        split,
      );
      const s = Math.fround(37.5);
      const want = packFp8(
        Array.from(bits, (b) => f32BitsToFp8(f32Bits(Math.fround(bitsF32(b) * s)), format)),
      );
      assert.equal(firstMismatch(await read(q2), want), "", `quantizeFp8 ${format}`);
      assert.equal(firstMismatch(await read(q2), await read(q1)), "");
      const [a1, a2] = await rt.readU32(amax, 2);
      assert.equal(a2, a1, "one amax across chunks");
      const d1 = dequantizeFp8(rt, q1, { buffer: sc, index: 1 });
      const d2 = dequantizeFp8(rt, q1, { buffer: sc, index: 1 }, split);
      assert.equal(firstMismatch(await read(d2), await read(d1)), "", `dequantizeFp8 ${format}`);
    }
    const h1 = toBf16(rt, x), d0 = rt.dispatchCount, h2 = toBf16(rt, x, undefined, split);
    assert.equal(rt.dispatchCount - d0, Math.ceil(bits.length / 1024), "one dispatch per chunk");
    const want = packBf16(Array.from(bits, (b) => f32BitsToBf16(b)));
    assert.equal(firstMismatch(await read(h2), want), "", "toBf16");
    assert.equal(firstMismatch(await read(h2), await read(h1)), "");
    const w1 = fromBf16(rt, h1), w2 = fromBf16(rt, h1, undefined, split);
    assert.equal(firstMismatch(await read(w2), await read(w1)), "", "fromBf16");
    assert.throws(() => toBf16(rt, x, undefined, { bindingLimit: 1000 }), /does not fit a binding/);
  },
);

gpuTest(
  "toBf16() and quantizeFp8() convert an f32 tensor above the device's binding limit",
  async () => {
    const rt = await getRuntime();
    // a (rows, 768) embedding just above 128 MiB: two chunks on llvmpipe (bindingLimit is the
    // device's there; it forces 128 MiB on GPUs that bind more)
    const limit = 128 << 20, c = 768;
    const rows = Math.floor(limit / (4 * c)) + 64;
    const n = rows * c;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = ((i * 2654435761) >>> 0) / 2 ** 32 - 0.5;
    const x = fromArray(rt, xs, [rows, c]);
    assert.ok(x.bytes > limit);
    const h = toBf16(rt, x, undefined, { bindingLimit: limit });
    const one = scalars(rt, [1]);
    const amax = rt.upload(new Uint32Array([0]));
    const q = quantizeFp8(
      rt,
      x,
      "e4m3",
      { buffer: one, index: 0 },
      { buffer: amax, index: 0 },
      undefined,
      {
        bindingLimit: limit,
      },
    );
    const hw = await rt.readU32(h.buffer, n / 2), qw = await rt.readU32(q.buffer, n / 4);
    // every 97th element, and all around the chunk boundary and at the end
    const boundary = limit / 4;
    const check = (i: number) => {
      const b = f32Bits(xs[i]);
      const gotH = (hw[i >> 1] >>> ((i & 1) * 16)) & 0xffff;
      if (gotH !== f32BitsToBf16(b)) {
        throw new Error(
          `bf16 at ${i}: gpu ${gotH} ref ${f32BitsToBf16(b)}`,
        );
      }
      const gotQ = (qw[i >> 2] >>> ((i & 3) * 8)) & 0xff;
      if (gotQ !== f32BitsToFp8(b, "e4m3")) {
        throw new Error(`e4m3 at ${i}: gpu ${gotQ} ref ${f32BitsToFp8(b, "e4m3")}`);
      }
    };
    for (let i = 0; i < n; i += 97) check(i);
    for (let i = boundary - 4096; i < boundary + 4096; i++) check(i);
    for (let i = n - 4096; i < n; i++) check(i);
    let refMax = 0;
    for (let i = 0; i < n; i++) refMax = Math.max(refMax, Math.abs(xs[i]));
    assert.equal(bitsF32((await rt.readU32(amax, 1))[0]), refMax);
    rt.release(x.buffer);
    rt.release(h.buffer);
    rt.release(q.buffer);
    rt.trimPool(); // give the ~300 MB back
  },
);
