import assert from "node:assert/strict";
import {
  fnv1a,
  makePermutations,
  permute,
  shingleHashes,
  shingleWords,
  signatureCpu,
  wordUnitHashes,
} from "./minhash.ts";
import { WasmMinhasher } from "./minhash_wasm.ts";
import { lshCurve } from "./dedup_eval.ts";
import { mulberry32 } from "./pii_eval.ts";

const P = (1n << 61n) - 1n;

Deno.test("permute() equals ((a·x + b) mod 2^61−1) mod 2^32 computed with BigInt", () => {
  const perms = makePermutations(64, 9);
  const rnd = mulberry32(1);
  const xs = [
    0,
    1,
    0xffffffff,
    0x80000000,
    ...Array.from({ length: 3000 }, () => (rnd() * 2 ** 32) >>> 0),
  ];
  // the largest a and b allowed, too
  const extra = new Uint32Array([0x1fffffff, 0xfffffffe, 0x1fffffff, 0xfffffffe]);
  for (const [k, x] of xs.entries()) {
    const q = k % 65;
    const [ah, al, bh, bl] = q === 64 ? extra : perms.subarray(4 * q, 4 * q + 4);
    const a = (BigInt(ah) << 32n) | BigInt(al);
    const b = (BigInt(bh) << 32n) | BigInt(bl);
    const want = Number(((a * BigInt(x) + b) % P) & 0xffffffffn);
    assert.equal(permute(x, ah, al, bh, bl), want, `x=${x} perm ${q}`);
  }
});

Deno.test("makePermutations() draws a ∈ [1, p), b ∈ [0, p) reproducibly from the seed", () => {
  const a = makePermutations(112, 1);
  assert.deepEqual(a, makePermutations(112, 1));
  assert.notDeepEqual(a, makePermutations(112, 2));
  for (let k = 0; k < 112; k++) {
    assert.ok(a[4 * k] <= 0x1fffffff && a[4 * k + 2] <= 0x1fffffff);
    assert.ok(a[4 * k] !== 0 || a[4 * k + 1] !== 0);
  }
});

Deno.test("WasmMinhasher.signature() is bit-identical to signatureCpu()", () => {
  const perms = makePermutations(112, 5);
  const w = new WasmMinhasher(perms);
  const rnd = mulberry32(2);
  for (let d = 0; d < 50; d++) {
    const sh = Uint32Array.from({ length: Math.floor(rnd() * 300) }, () => (rnd() * 2 ** 32) >>> 0);
    assert.deepEqual(w.signature(sh), signatureCpu(sh, perms));
  }
  // large enough to grow the module's memory
  const big = Uint32Array.from({ length: 40000 }, (_, i) => fmixish(i));
  assert.deepEqual(w.signature(big), signatureCpu(big, perms));
});

function fmixish(i: number): number {
  return (Math.imul(i ^ (i >>> 7), 0x9e3779b1) >>> 0);
}

Deno.test("shingleHashes() makes word 5-grams, char n-grams, one shingle for short texts", () => {
  assert.equal(shingleHashes("가 나 다 라 마 바", 5, "word").length, 2);
  assert.equal(shingleHashes("가, 나!", 5, "word").length, 1);
  assert.equal(shingleHashes("  ", 5, "word").length, 0);
  assert.equal(shingleHashes("가나다라마바", 3, "char").length, 4);
  // punctuation and case do not change word shingles
  assert.deepEqual(
    shingleHashes("Hello, World 가 나 다", 5, "word"),
    shingleHashes("hello world 가 나 다.", 5, "word"),
  );
});

Deno.test("wordUnitHashes() splits like shingleWords() on Korean, Latin and full-width text", () => {
  const text =
    "LibreOffice 7.3에서 [파일] → 저장(S)을 누르세요! ＡＢＣ，１２３。 “따옴표” 끝… naïve ÉTÉ ■ 표─선";
  const expected = shingleWords(text).map((w) => fnv1a(w));
  assert.deepEqual(wordUnitHashes(text), expected);
});

Deno.test("LSH candidate rate follows 1 − (1 − s^r)^b within sampling error", () => {
  const buckets = lshCurve(2400, 11, 14, 8);
  const lines = buckets.map((b) =>
    `J ${b.from.toFixed(1)}–${b.to.toFixed(1)}: n=${b.pairs} measured ${b.measured.toFixed(3)} ` +
    `expected ${b.expected.toFixed(3)} ± ${b.sd.toFixed(3)}`
  );
  console.log(lines.join("\n"));
  let checked = 0;
  for (const b of buckets) {
    if (b.pairs < 30) continue;
    checked++;
    // 4 standard deviations, plus 1/n for the discreteness of a count
    assert.ok(Math.abs(b.measured - b.expected) <= 4 * b.sd + 1 / b.pairs, lines.join("\n"));
  }
  assert.ok(checked >= 5, `only ${checked} buckets had enough pairs:\n${lines.join("\n")}`);
});
