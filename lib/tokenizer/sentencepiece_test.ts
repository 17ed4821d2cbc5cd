import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { codePoints, PieceType } from "./unigram.ts";
import {
  parseSentencePieceModel,
  parseSentencePieceVocab,
  SentencePieceProcessor,
} from "./sentencepiece.ts";
import { koreanCorpus, prng } from "./testing.ts";

// --- A tiny protobuf writer, for models built by hand. ---

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
}
function field(no: number, value: number | string | Uint8Array | number[]): number[] {
  if (typeof value === "number") return [...varint(no * 8), ...varint(value)];
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  return [...varint(no * 8 + 2), ...varint(bytes.length), ...bytes];
}
function float32(no: number, x: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...varint(no * 8 + 5), ...b];
}

/**
 * A ModelProto with `pieces` ([piece, score, type]), an identity normalizer with `flags`
 * (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces; absent: proto defaults) and
 * `extra` bytes appended.
 */
function handModel(pieces: [string, number, number][], flags?: boolean[], extra: number[] = []) {
  const out: number[] = [];
  for (const [piece, score, type] of pieces) {
    out.push(...field(1, [...field(1, piece), ...float32(2, score), ...field(3, type)]));
  }
  out.push(...field(2, [...field(3, 1), ...field(4, pieces.length), ...float32(10, 1)]));
  const spec = flags?.flatMap((on, k) => field(3 + k, on ? 1 : 0)) ?? [];
  out.push(...field(3, [...field(1, "identity"), ...spec]));
  return new Uint8Array([...out, ...extra]);
}

const { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED } = PieceType;
const HAND: [string, number, number][] = [
  ["<unk>", 0, UNKNOWN],
  ["<s>", 0, CONTROL],
  ["▁", -15.87016487121582, NORMAL],
  ["▁학교", -3, NORMAL],
  ["에서", -3, NORMAL],
  ["에", -4, NORMAL],
  ["서", -4, NORMAL],
  ["▁a", -2.5, NORMAL],
  ["b", -3.5, NORMAL],
  // float32 scores for which "▁B BB B" and "▁B B BB" tie in float64 but not in spm's arithmetic.
  ["B", -3.0286247730255127, NORMAL],
  ["BB", -1.1521469354629517, NORMAL],
  ["▁B", -4.1657490730285645, NORMAL],
  [" ", -2, NORMAL],
  [" a", -2.5, NORMAL],
  ["<br>", 0, USER_DEFINED],
  ["학", -0.5, UNUSED],
];

Deno.test("parseSentencePieceModel() reads pieces and specs, skipping unknown fields", () => {
  // Unknown fields of every wire type: varint, fixed64, length-delimited, fixed32.
  const unknown = [...field(9, 300), ...varint(10 * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8];
  const m = parseSentencePieceModel(
    handModel(HAND, undefined, [...unknown, ...field(11, "x"), ...float32(12, 1)]),
    "hand.model",
  );
  assert.deepEqual(m.pieces.map((p) => [p.piece, p.score, p.type]), HAND);
  assert.equal(m.trainer.modelType, 1);
  assert.equal(m.trainer.vocabSize, HAND.length);
  assert.equal(m.trainer.characterCoverage, 1);
  assert.equal(m.trainer.byteFallback, false);
  assert.equal(m.normalizer.name, "identity");
  assert.equal(m.normalizer.precompiledCharsmap.length, 0);
  assert.equal(m.normalizer.addDummyPrefix, true); // proto defaults
  assert.equal(m.normalizer.removeExtraWhitespaces, true);
  assert.equal(m.normalizer.escapeWhitespaces, true);
});

Deno.test("parseSentencePieceModel() refuses corrupt and truncated bytes with a UserError", () => {
  const good = handModel(HAND);
  const refused = (bytes: Uint8Array) => {
    try {
      SentencePieceProcessor.fromModel(bytes, "bad.model").encodeIds("학교에서 a b");
      return false;
    } catch (e) {
      assert.ok(e instanceof UserError, `not a UserError: ${e}`);
      assert.match(e.message, /^bad\.model: /);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    }
  };
  assert.throws(
    () => parseSentencePieceModel(good.subarray(0, good.length - 3), "x.model"),
    (e) => e instanceof UserError && /^x\.model: truncated at byte \d+/.test(e.message),
  );
  assert.ok(refused(new TextEncoder().encode("<unk>\t0\n<s>\t0\n")));
  assert.ok(refused(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1])));
  // Every cut and every one-byte corruption is either read or refused with a UserError.
  let cuts = 0;
  for (let n = 1; n < good.length; n++) cuts += refused(good.subarray(0, n)) ? 1 : 0;
  assert.ok(cuts > good.length / 2, `${cuts} of ${good.length} cuts refused`);
  const rand = prng(3);
  for (let trial = 0; trial < 300; trial++) {
    const bad = good.slice();
    bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
    refused(bad);
  }
});

Deno.test("SentencePieceProcessor.encodePieces() segments a hand-built model", () => {
  const sp = SentencePieceProcessor.fromModel(handModel(HAND), "hand.model");
  assert.equal(sp.normalize("  학교에서   a  b "), "▁학교에서▁a▁b");
  assert.deepEqual(sp.encodePieces("  학교에서   a  b "), ["▁학교", "에서", "▁a", "▁", "b"]);
  // Unknown characters: one <unk> per run, spelled as the characters themselves.
  assert.deepEqual(sp.encodePieces("학교xy에z"), ["▁학교", "xy", "에", "z"]);
  assert.deepEqual(sp.encodeIds("학교xy에z"), [3, 0, 5, 0]);
  assert.equal(sp.decode(sp.encodeIds("학교에서 a")), "학교에서 a");
  assert.equal(sp.decode([1, 3, 0, 4]), "학교 ⁇ 에서");
  assert.deepEqual(sp.encodePieces("   "), []);
  // User-defined pieces are always taken whole; unused ones never.
  assert.deepEqual(sp.encodePieces("a<br>b학"), ["▁a", "<br>", "b", "학"]);
  assert.deepEqual(sp.encodeIds("a<br>b학"), [7, 14, 8, 0]);
});

/** Scores for which "▁ BB B" wins only if candidates are summed in float64 and kept in float32. */
const TIE: [string, number, number][] = [
  ["<unk>", 0, UNKNOWN],
  ["▁", -9.600849151611328, NORMAL],
  ["B", -5.8618927001953125, NORMAL],
  ["BB", -4.602599143981934, NORMAL],
];

Deno.test("SentencePieceProcessor.encodePieces() breaks float32 ties as spm_encode does", () => {
  // What spm_encode 0.1.97 gives for both (checked against the tool in the flags test below).
  const sp = SentencePieceProcessor.fromModel(handModel(HAND), "hand.model");
  assert.deepEqual(sp.encodePieces("BBBB"), ["▁B", "BB", "B"]);
  assert.deepEqual(
    SentencePieceProcessor.fromModel(handModel(TIE), "tie.model").encodePieces("BBB"),
    ["▁", "BB", "B"],
  );
  // Summed in float64 throughout (UnigramModel.viterbi), the two paths tie; the first found stays.
  const { ids } = sp.model.viterbi(codePoints(sp.normalize("BBBB")));
  assert.deepEqual(ids.map((id) => sp.model.pieces[id].piece), ["▁B", "B", "BB"]);
});

Deno.test("parseSentencePieceVocab() infers types and names the bad line", () => {
  const pieces = parseSentencePieceVocab("<unk>\t0\n<s>\t0\n</s>\t0\n<0x0A>\t0\n▁a\t-1.5\n", "v");
  assert.deepEqual(pieces.map((p) => p.type), [2, 3, 3, 6, 1]);
  assert.equal(pieces[4].score, -1.5);
  for (const bad of ["▁a\n", "▁a\t\n", "▁a\tx\n"]) {
    assert.throws(
      () => parseSentencePieceVocab("<unk>\t0\n<s>\t0\n" + bad, "ko.vocab"),
      (e) => e instanceof UserError && e.message.startsWith("ko.vocab:3: "),
    );
  }
});

// --- Against the real spm_train / spm_encode / spm_decode. ---

const ENGLISH = (
  "the of and to in is for on with as by at from this that file menu click open save cell table " +
  "sheet format insert select text page chart data value number column row window tools options " +
  "print preview document style paragraph font size color border image frame field macro filter " +
  "sort range formula function sum average print export import template header footer"
).split(" ");
const KOREAN = (
  "오늘 내일 어제 날씨 사람 친구 가족 음식 여행 사진 음악 영화 책상 의자 창문 바다 하늘 " +
  "산책 운동 공부 시험 숙제 선생님 학생 대학교 도시 마을 자동차 버스 지하철 비행기 " +
  "아름답다 빠르게 천천히 함께 정말 아주 조금 많이 다시 먼저 나중에 그리고 하지만 그래서"
).split(" ");

/** A deterministic Korean + English corpus of `n` lines. */
function corpus(n: number, seed: number): string[] {
  const rand = prng(seed);
  const korean = koreanCorpus(n, seed);
  const words = (list: string[], k: number) =>
    Array.from({ length: k }, () => list[Math.floor(rand() * list.length)]).join(" ");
  const english = (k: number) => words(ENGLISH, k);
  return korean.map((ko, i) => {
    const r = rand();
    if (r < 0.3) return `${words(KOREAN, 2 + (i % 3))} ${ko}`;
    if (r < 0.5) return english(3 + (i % 6)) + ".";
    if (r < 0.8) return `${ko} (${english(1 + (i % 3))}) ${i % 97}`;
    return `${english(2)}: ${ko} — ${english(1)}, ${1900 + (i % 120)}년`;
  });
}

const HELD_OUT = [
  ...corpus(60, 99),
  "",
  "   ",
  "  학교에서   합니다  ",
  "\t탭\t문자\tand tabs\t",
  "漢字와 ひらがな, Ελληνικά, ไทย — unseen scripts",
  "emoji 😀👍🏽 and 🇰🇷 flags, 👩‍👩‍👧 family",
  "ＡＢＣ １２３ ｶﾞｷﾞ ㈜ ① ﬁle ～ ㎏ Å",
  "zero\u200bwidth\u200cjoin\u200d and\u00a0nbsp, soft\u00adhyphen, bom\ufeff",
  "control\u0001\u0007chars\u007f and cr\r in the middle",
  "e\u0301 combining, 가\u11a8 jamo, ᄀ ᅡ ㄱㅏ compatibility jamo",
  "▁ already escaped ▁▁ spaces",
  "user<br>defined<br><br>ＡＢＣ ＡＢ Ａ",
  "a".repeat(40) + " " + "학교".repeat(30),
];

/** Runs `cmd` with `args`, feeding `stdin`; returns stdout, or fails with stderr. */
async function run(cmd: string, args: string[], stdin = ""): Promise<string> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const output = child.output(); // read while writing, so that neither pipe fills up
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await output;
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${cmd} ${args.join(" ")} failed:\n${err.slice(-2000)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Whether spm_train is installed; says so loudly when not, and fails under CI=true. */
async function haveSpm(): Promise<boolean> {
  try {
    await new Deno.Command("spm_train", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    if (Deno.env.get("CI") === "true") throw new Error("spm_train is not on PATH (CI=true)");
    console.warn(
      "\n*** SKIPPED: spm_train is not on PATH; install sentencepiece to run this ***\n",
    );
    return false;
  }
}

/** spm_encode's pieces and ids and spm_decode's text for `lines`, with `model` ("--model=…"). */
async function spm(model: string, lines: string[]) {
  const input = lines.join("\n") + "\n";
  const pieces = (await run("spm_encode", [model, "--output_format=piece"], input)).split("\n");
  const ids = (await run("spm_encode", [model, "--output_format=id"], input)).split("\n");
  const texts = (await run("spm_decode", [model, "--input_format=id"], ids.join("\n"))).split("\n");
  return { pieces, ids, texts };
}

/** Asserts that `sp` encodes and decodes every line as spm did. */
function assertSame(sp: SentencePieceProcessor, lines: string[], want: SpmOutput) {
  lines.forEach((line, i) => {
    const ours = sp.encode(line);
    const at = `line ${i}: ${JSON.stringify(line)}`;
    assert.equal(ours.map((p) => p.piece).join(" "), want.pieces[i], at);
    assert.equal(ours.map((p) => p.id).join(" "), want.ids[i], at);
    assert.equal(sp.decode(ours.map((p) => p.id)), want.texts[i], at);
  });
}
type SpmOutput = Awaited<ReturnType<typeof spm>>;

Deno.test("SentencePieceProcessor follows each normalizer flag as spm_encode does", async () => {
  if (!(await haveSpm())) return;
  const dir = await Deno.makeTempDir({ prefix: "spm_test_" });
  const lines = [
    "  학교에서   a  b ",
    "BBBB",
    "BBB",
    " a b",
    "a  ",
    "",
    "   ",
    "학교xy에z",
    "a<br>b<br><br>학",
  ];
  const variants: [[string, number, number][], boolean[] | undefined][] = [
    [TIE, undefined],
    [HAND, undefined],
    [HAND, [false, true, true]],
    [HAND, [true, false, true]],
    [HAND, [true, true, false]],
    [HAND, [false, false, false]],
  ];
  try {
    for (const [pieces, flags] of variants) {
      const bytes = handModel(pieces, flags);
      await Deno.writeFile(`${dir}/h.model`, bytes);
      const sp = SentencePieceProcessor.fromModel(bytes, "h.model");
      assertSame(sp, lines, await spm(`--model=${dir}/h.model`, lines));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const byteFallback of [false, true]) {
  const variant = byteFallback ? " (byte fallback)" : "";
  const vocabSize = byteFallback ? 600 : 400; // 256 byte pieces, then as many as without
  Deno.test(`SentencePieceProcessor encodes and decodes as spm_encode${variant}`, async () => {
    if (!(await haveSpm())) return;
    const dir = await Deno.makeTempDir({ prefix: "spm_test_" });
    try {
      await Deno.writeTextFile(`${dir}/corpus.txt`, corpus(400, 1).join("\n") + "\n");
      await run("spm_train", [
        `--input=${dir}/corpus.txt`,
        `--model_prefix=${dir}/m`,
        "--model_type=unigram",
        `--vocab_size=${vocabSize}`,
        "--character_coverage=0.9995",
        `--byte_fallback=${byteFallback}`,
        "--num_threads=1",
        "--user_defined_symbols=<br>,ＡＢ", // kept as written, before NFKC
        "--minloglevel=2",
      ]);
      const bytes = await Deno.readFile(`${dir}/m.model`);
      const sp = SentencePieceProcessor.fromModel(bytes, "m.model");
      assert.equal(sp.file.trainer.byteFallback, byteFallback);
      assert.equal(sp.file.trainer.vocabSize, vocabSize);
      assert.equal(sp.file.normalizer.name, "nmt_nfkc");

      // The .vocab lists the same pieces, with scores printed to 6 significant digits (and
      // user-defined pieces indistinguishable from normal ones).
      const vocab = parseSentencePieceVocab(await Deno.readTextFile(`${dir}/m.vocab`), "m.vocab");
      assert.deepEqual(
        vocab.map((p) => [p.piece, p.type, p.score]),
        sp.file.pieces.map((p) => [
          p.piece,
          p.type === USER_DEFINED ? NORMAL : p.type,
          Number(p.score.toPrecision(6)),
        ]),
      );
      assert.ok(sp.file.pieces.some((p) => p.piece === "ＡＢ" && p.type === USER_DEFINED));

      const want = await spm(`--model=${dir}/m.model`, HELD_OUT);
      assertSame(sp, HELD_OUT, want);
      // The held-out lines do reach unknowns (😀 as byte pieces with byte fallback).
      assert.equal(want.ids.some((ids) => ids.split(" ").includes("0")), !byteFallback);
      if (byteFallback) assert.match(want.pieces.join(" "), /<0xF0> <0x9F> <0x98> <0x80>/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
