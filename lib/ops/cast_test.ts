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
