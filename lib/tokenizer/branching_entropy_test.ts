import assert from "node:assert/strict";
import {
  boundaryScores,
  BranchingEntropy,
  decomposeHangul,
  DEFAULTS,
  type EntropyUnit,
  preTokenize,
} from "./branching_entropy.ts";
import { UserError } from "../io/errors.ts";

/** Eight stems, each followed by six particles: the particle boundary is the only real one. */
const STEMS = ["학교", "회사", "우체국", "공원", "시장", "병원", "식당", "운동장"];
const PARTICLES = ["에서", "는", "가", "를", "만", "과"];
const CORPUS = STEMS.flatMap((s) => PARTICLES.map((p) => s + p));
const UNITS: EntropyUnit[] = ["syllable", "jamo"];

/** Llama 3.1's Split pattern, written out independently of the module. */
const LLAMA3 =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

for (const unit of UNITS) {
  Deno.test(`BranchingEntropy.train() splits a shared suffix at the stem boundary (${unit})`, () => {
    const be = BranchingEntropy.train(CORPUS, { unit, threshold: 0 });
    assert.equal(be.unit, unit);
    assert.deepEqual(be.split("우체국에서"), ["우체국", "에서"]);
    assert.deepEqual(be.split("운동장과"), ["운동장", "과"]);
    assert.deepEqual(be.split("학교는"), ["학교", "는"]);
    assert.deepEqual(be.split("우체국"), ["우체국"]);
  });

  Deno.test(`BranchingEntropy.train() gives no evidence below minCount (${unit})`, () => {
    const be = BranchingEntropy.train(CORPUS, { unit, threshold: 0, minCount: 1000 });
    assert.deepEqual(be.splitPoints("우체국에서"), []);
  });
}

Deno.test("BranchingEntropy.entropy() counts each word edge as a distinct neighbour", () => {
  const texts = ["가나", "가나 가", "가"];
  for (const unit of UNITS) {
    const be = BranchingEntropy.train(texts, { unit, minCount: 2 });
    // After 가: 나 twice, a word end twice → log 4 - (2 log 2) / 4.
    assert.ok(Math.abs(be.entropy("가", "forward")! - 1.5 * Math.log(2)) < 1e-12, unit);
    assert.ok(Math.abs(be.entropy("가", "backward")! - Math.log(4)) < 1e-12, unit);
    assert.equal(be.entropy("나", "backward"), 0, unit);
    assert.ok(Math.abs(be.entropy("가나", "forward")! - Math.log(2)) < 1e-12, unit); // 2 ends
    assert.equal(be.entropy("나가", "forward"), undefined, unit); // a space is a word break
  }
});

Deno.test("BranchingEntropy.train() resolves defaults by unit", () => {
  assert.deepEqual(BranchingEntropy.train([]).options, DEFAULTS.syllable);
  const be = BranchingEntropy.train([], { unit: "jamo", minCount: 3, threshold: undefined });
  assert.deepEqual(be.options, { ...DEFAULTS.jamo, minCount: 3 });
});

Deno.test("BranchingEntropy.train() rejects bad options with a UserError", () => {
  const bad = [
    { unit: "byte" },
    { maxContext: 0 },
    { maxContext: 2.5 },
    { minCount: 0 },
    { threshold: NaN },
    { maxcontext: 3 },
  ];
  for (const options of bad) {
    assert.throws(() => BranchingEntropy.train([], options as never), UserError);
  }
});

Deno.test("BranchingEntropy.splitPoints() gives UTF-16 offsets inside Hangul runs only", () => {
  const be = BranchingEntropy.train(CORPUS, { threshold: 0 });
  assert.deepEqual(be.splitPoints("🙂우체국에서!"), [5]);
  assert.deepEqual(be.splitPoints("x우체국에서 y학교는"), [4, 10]);
  assert.deepEqual(be.splitPoints("no hangul"), []);
  assert.deepEqual(be.splitPoints(""), []);
  assert.deepEqual(be.split(""), [""]);
});

Deno.test("decomposeHangul() gives lead, vowel and tail jamo", () => {
  assert.deepEqual([...decomposeHangul("한")], ["\u1112", "\u1161", "\u11AB"]); // ᄒ ᅡ ᆫ
  assert.deepEqual([...decomposeHangul("가")], ["\u1100", "\u1161"]);
  assert.equal(decomposeHangul("a한🙂"), "a\u1112\u1161\u11AB🙂");
  for (let cp = 0xac00; cp <= 0xd7a3; cp++) {
    const s = String.fromCharCode(cp);
    if (decomposeHangul(s) !== s.normalize("NFD")) assert.fail(`U+${cp.toString(16)} ${s}`);
  }
});

Deno.test("preTokenize() concatenates back to its input", () => {
  const be = BranchingEntropy.train(CORPUS, { threshold: 0 });
  const texts = [
    "우체국에서 편지를 보냈다. I'm sure they'LL arrive!",
    "🙂우체국에서😀 code: `const x = 12345;`\r\n\t끝\n\n  ",
    "함수 =SUM(A1:B2)는 합계를 돌려줍니다.\u00a0(예: 3+4)",
    "\uD800한\uDC00 ㅋㅋㅋ 漢字 日本語 Ünïcödé",
    "",
  ];
  for (const text of texts) {
    assert.equal(preTokenize(text, be).join(""), text);
    assert.equal(preTokenize(text).join(""), text);
    assert.ok(preTokenize(text, be).every((p) => p.length > 0));
  }
});

Deno.test("preTokenize() splits English-only text exactly like the Llama 3 regex", () => {
  const be = BranchingEntropy.train(CORPUS, { threshold: 0 });
  const text = "I'm here, AREN'T you?  12345 apples\r\n\n  def f(x):\n\treturn x**2 # ok 🙂\n";
  assert.deepEqual(preTokenize(text, be), text.match(LLAMA3));
  assert.deepEqual(preTokenize("I'm 12345 x  y"), ["I", "'m", " ", "123", "45", " x", " ", " y"]);
});

Deno.test("preTokenize() keeps a leading space or punctuation on the first sub-piece", () => {
  const be = BranchingEntropy.train(CORPUS, { threshold: 0 });
  assert.deepEqual(preTokenize("at 우체국에서 (학교는) now", be), [
    "at",
    " 우체국",
    "에서",
    " (",
    "학교",
    "는",
    ")",
    " now",
  ]);
  assert.deepEqual(preTokenize('"우체국에서', be), ['"우체국', "에서"]);
  assert.deepEqual(preTokenize("x우체국에서", be), ["x우체국", "에서"]);
});

Deno.test("boundaryScores() scores predicted splits against the removed spaces", () => {
  const be = BranchingEntropy.train(CORPUS, { threshold: 0 });
  // Spaces at stem|particle are found; "Access 는" is not between two Hangul syllables.
  assert.deepEqual(boundaryScores(be, ["우체국 에서", "학교  는", "Access 는", "hello world"]), {
    precision: 1,
    recall: 1,
    f1: 1,
    boundaries: 2,
  });
  // A split with no space behind it is a false positive; a space it misses lowers recall.
  const s = boundaryScores(be, ["우체국 에서", "운동장과", "우체 국"]);
  assert.equal(s.boundaries, 2);
  assert.equal(s.precision, 1 / 2);
  assert.equal(s.recall, 1 / 2);
  assert.equal(s.f1, 1 / 2);
  assert.deepEqual(boundaryScores(be, []), { precision: 0, recall: 0, f1: 0, boundaries: 0 });
});
