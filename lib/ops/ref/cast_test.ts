import assert from "node:assert/strict";
import {
  bitsF32,
  f32Bits,
  f32BitsToBf16,
  FP8,
  type Fp8Format,
  fromBf16,
  fromFp8,
  packBf16,
  packFp8,
  toBf16,
  toFp8,
  unpackBf16,
  unpackFp8,
} from "./cast.ts";

/** An independent, slow reference: nearest finite code by value, ties to the even code. */
function nearestFp8(x: number, format: Fp8Format): number {
  if (Number.isNaN(x)) return 0x7f | (x < 0 ? 0x80 : 0);
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(x), FP8[format].max);
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c <= FP8[format].maxCode; c++) {
    const d = Math.abs(fromFp8(c, format) - a);
    if (d < bestD || (d === bestD && (c & 1) === 0)) [best, bestD] = [c, d];
  }
  return sign | best;
}

for (const format of ["e4m3", "e5m2"] as const) {
  Deno.test(`toFp8() round-trips all 256 ${format} codes and decodes NaN/Inf`, () => {
    for (let c = 0; c < 256; c++) {
      const v = fromFp8(c, format);
      const isNan = format === "e4m3" ? (c & 0x7f) === 0x7f : (c & 0x7c) === 0x7c && (c & 3) !== 0;
      if (isNan) {
        assert.ok(Number.isNaN(v), `code ${c}`);
        assert.equal(toFp8(v, format) & 0x7f, 0x7f);
        continue;
      }
      if (!Number.isFinite(v)) {
        assert.equal(format, "e5m2");
        assert.equal(toFp8(v, format), (c & 0x80) | 0x7b, "Inf saturates");
        continue;
      }
      assert.equal(toFp8(v, format), c, `code ${c} value ${v}`);
    }
  });

  Deno.test(`toFp8() matches a brute-force nearest-even reference on ${format} ties and randoms`, () => {
    const xs: number[] = [0, -0, 1e-30, -1e-30, 1e30, -Infinity, Infinity, FP8[format].max * 1.1];
    for (let c = 0; c < FP8[format].maxCode; c++) {
      const lo = fromFp8(c, format);
      const hi = fromFp8(c + 1, format);
      const mid = (lo + hi) / 2; // exact tie
      xs.push(mid, -mid, bitsF32(f32Bits(mid) + 1), bitsF32(f32Bits(mid) - 1), lo, hi);
    }
    let seed = 12345;
    for (let i = 0; i < 20000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      xs.push(bitsF32(((seed & 0x3fffffff) + 0x30000000) ^ (i & 1 ? 0x80000000 : 0)));
    }
    for (const x of xs) {
      const want = nearestFp8(Math.fround(x), format);
      assert.equal(toFp8(x, format), want, `${format}(${x})`);
    }
    assert.ok(Object.is(fromFp8(toFp8(-0, format), format), -0), "signed zero kept");
  });
}

Deno.test("toFp8() has the documented extremes", () => {
  assert.equal(toFp8(448, "e4m3"), 0x7e);
  assert.equal(toFp8(464, "e4m3"), 0x7e); // saturates instead of rounding to the NaN code
  assert.equal(toFp8(2 ** -9, "e4m3"), 0x01); // smallest subnormal
  assert.equal(toFp8(2 ** -10, "e4m3"), 0x00); // tie with zero: even
  assert.equal(toFp8(1.5 * 2 ** -10, "e4m3"), 0x01);
  assert.equal(toFp8(3 * 2 ** -10, "e4m3"), 0x02); // tie between 1 and 2: even
  assert.equal(toFp8(57344, "e5m2"), 0x7b);
  assert.equal(toFp8(-Infinity, "e5m2"), 0xfb);
  assert.equal(toFp8(2 ** -16, "e5m2"), 0x01);
  assert.equal(fromFp8(0x7c, "e5m2"), Infinity);
});

Deno.test("toBf16() rounds to nearest even and keeps NaN, Inf and signed zero", () => {
  assert.equal(toBf16(1), 0x3f80);
  assert.equal(f32BitsToBf16(0x3f808000), 0x3f80); // tie, even stays
  assert.equal(f32BitsToBf16(0x3f818000), 0x3f82); // tie, odd rounds up
  assert.equal(f32BitsToBf16(0x3f808001), 0x3f81);
  assert.equal(toBf16(-0), 0x8000);
  assert.equal(toBf16(Infinity), 0x7f80);
  assert.equal(f32BitsToBf16(0x7f7fffff), 0x7f80); // overflow to Inf
  assert.ok(Number.isNaN(fromBf16(toBf16(NaN))));
  assert.equal(f32BitsToBf16(0x7f800001) & 0x7fc0, 0x7fc0, "signalling NaN becomes quiet");
  for (let c = 0; c < 65536; c++) {
    const v = fromBf16(c);
    if (!Number.isNaN(v)) assert.equal(toBf16(v), c);
  }
});

Deno.test("packFp8() and packBf16() round-trip with the documented byte order", () => {
  const codes = [1, 2, 3, 4, 5];
  const w = packFp8(codes);
  assert.deepEqual([...w], [0x04030201, 0x05]);
  assert.deepEqual([...unpackFp8(w, 5)], codes);
  const h = packBf16([0x1234, 0xabcd, 0x0001]);
  assert.deepEqual([...h], [0xabcd1234, 0x0001]);
  assert.deepEqual([...unpackBf16(h, 3)], [0x1234, 0xabcd, 0x0001]);
});
