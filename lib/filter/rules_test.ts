import assert from "node:assert/strict";
import {
  charRepetition,
  endsSentence,
  firstOccurrence,
  hangulRatio,
  LinePunctuation,
  meanWordLength,
  ngramKeys,
  Rules,
  topNgramShare,
  wordRepetition,
  words,
} from "./rules.ts";
import type { Doc } from "../io/jsonl.ts";

const PROSE = "한국어 자연어 처리는 형태소 분석과 띄어쓰기 교정에서 시작합니다. " +
  "대규모 말뭉치를 정제하려면 규칙 기반 필터와 중복 제거가 모두 필요합니다. " +
  "이 문서는 그러한 과정을 간단히 설명하는 예시 문장들로 이루어져 있습니다.";
const doc = (text: string): Doc => ({ id: "x", text, meta: {} });

Deno.test("hangulRatio() counts syllables and jamo over non-space characters", () => {
  assert.equal(hangulRatio("가 나 다"), 1);
  assert.equal(hangulRatio("ㄱㄴ ab"), 0.5);
  assert.equal(hangulRatio("   "), 0);
  assert.ok(hangulRatio(PROSE) > 0.9);
});

Deno.test("meanWordLength() counts code points, not UTF-16 units", () => {
  assert.equal(meanWordLength(words("가나 😀😀")), 2);
});

Deno.test("topNgramShare() finds a dominating 5-gram and ignores distinct ones", () => {
  const distinct = words("일 이 삼 사 오 육 칠 팔 구 십");
  assert.equal(topNgramShare(distinct), 0);
  const spam = words("지금 바로 클릭 하세요 여기 ".repeat(10));
  assert.ok(topNgramShare(spam) > 0.15);
});

Deno.test("wordRepetition() and charRepetition() measure repeated 10-grams", () => {
  assert.equal(wordRepetition(words(PROSE)), 0);
  const rep = words("가 나 다 라 마 바 사 아 자 차 ".repeat(3));
  assert.equal(wordRepetition(rep), 1);
  assert.ok(charRepetition(PROSE) < 0.5);
  assert.ok(charRepetition("안녕하세요반갑습니다".repeat(5)) > 0.9);
});

Deno.test("ngramKeys() rolls to the same keys as hashing each window afresh", () => {
  const items = Uint32Array.from(
    "가나다라마바사가나다라마바사아자차카".split(""),
    (c) => c.codePointAt(0)!,
  );
  const rolled = ngramKeys(items, 5);
  for (let i = 0; i + 5 <= items.length; i++) {
    const one = ngramKeys(items.subarray(i, i + 5), 5);
    assert.equal(rolled.hi[i], one.hi[0]);
    assert.equal(rolled.lo[i], one.lo[0]);
  }
  // equal windows, equal keys; and firstOccurrence() finds the first of each
  assert.equal(rolled.hi[0], rolled.hi[7]);
  const first = firstOccurrence(rolled.hi, rolled.lo);
  assert.deepEqual([...first.subarray(0, 10)], [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]);
});

Deno.test("Rules keeps Korean prose and names the failed rule otherwise", () => {
  const r = new Rules();
  const why = (text: string) => {
    const v = r.filter(doc(text));
    return v === true ? v : v.slice(0, 2);
  };
  assert.equal(r.filter(doc(PROSE)), true);
  // the measured value and the threshold travel with the reason
  assert.deepEqual(r.filter(doc("짧은 문장입니다.")), [
    false,
    "too_few_words",
    { value: 2, threshold: 10 },
  ]);
  assert.deepEqual(
    why("This is an English sentence that has more than ten words in it."),
    [false, "hangul_ratio"],
  );
  assert.deepEqual(why("가 나 다 라 마 바 사 아 자 차 카"), [
    false,
    "mean_word_length_low",
  ]);
  assert.deepEqual(why("가나다라마바사아자차카타파하가나다라 ".repeat(12)), [
    false,
    "mean_word_length_high",
  ]);
  assert.deepEqual(why("지금 바로 클릭 하세요 여기서 ".repeat(10)), [
    false,
    "top_5gram_share",
  ]);
  assert.equal(
    new Rules({ min_hangul_ratio: 0 }).filter(doc(
      "This is an English sentence " +
        "that has more than ten words in it.",
    )),
    true,
  );
});

Deno.test("endsSentence() accepts punctuation, full-width forms, closers and Korean endings", () => {
  for (
    const l of [
      "끝.",
      "정말?",
      "와!",
      "끝。",
      "정말？",
      "좋다",
      "해요",
      "완료함",
      '그렇다."',
      "(참고.)",
    ]
  ) {
    assert.ok(endsSentence(l), l);
  }
  for (const l of ["메뉴 - 파일", "목차", "Click here", "", "1,000원"]) {
    assert.ok(!endsSentence(l), l);
  }
});

Deno.test("LinePunctuation removes unfinished lines and counts them", async () => {
  const step = new LinePunctuation();
  const d = doc("도구 메뉴\n이 기능은 문서를 저장합니다.\n참고\n설정을 바꿀 수 있어요");
  assert.equal(step.transform(d).text, "이 기능은 문서를 저장합니다.\n설정을 바꿀 수 있어요");
  assert.equal(step.stats.counters.lines_removed, 2);
  assert.equal(step.stats.counters.short_lines_removed, 2);
  const out: Doc[] = [];
  const gen = async function* () {
    yield doc("제목만 있음 없는");
  };
  for await (const x of step.run(gen(), { rank: 0, worldSize: 1 })) out.push(x);
  assert.equal(out.length, 0);
  assert.equal(step.stats.removed.empty, 1);
});

Deno.test("LinePunctuation judges sentences; headings, labels and cells follow short_lines", () => {
  const text = "3.2 설치 방법\n이 명령은 서버를 시작하고 설정 파일을\n서버를 시작합니다.\n예";
  const drop = new LinePunctuation();
  assert.equal(drop.transform(doc(text)).text, "서버를 시작합니다.");
  assert.deepEqual(drop.stats.counters, {
    short_lines_removed: 2,
    sentences_unended: 1,
    lines_removed: 3,
  });
  const keep = new LinePunctuation({ short_lines: "keep" });
  assert.equal(keep.transform(doc(text)).text, "3.2 설치 방법\n서버를 시작합니다.\n예");
  assert.deepEqual(keep.stats.counters, {
    short_lines_kept: 2,
    sentences_unended: 1,
    lines_removed: 1,
  });
});
