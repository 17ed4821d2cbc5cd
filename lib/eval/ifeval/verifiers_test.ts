import nodeAssert from "node:assert/strict";

const assert = (v: unknown, msg?: string) => nodeAssert.ok(v, msg);
const assertEquals = (a: unknown, b: unknown, msg?: string) => nodeAssert.deepEqual(a, b, msg);
const assertThrows = (fn: () => unknown, _t?: unknown, msg?: string) =>
  nodeAssert.throws(fn, new RegExp(msg ?? ""));
import { checkInstructions, compare, countWords, splitSentences, VERIFIERS } from "./verifiers.ts";

/** [instruction id, kwargs, a response that passes, a response that fails, prompt?] */
const CASES: [string, Record<string, unknown>, string, string, string?][] = [
  ["keywords:existence", { keywords: ["apple", "사과"] }, "An Apple and a 사과.", "Only pears."],
  [
    "keywords:frequency",
    { keyword: "평화", relation: "최소", frequency: 2 },
    "평화와 평화",
    "평화",
  ],
  [
    "keywords:frequency",
    { keyword: "cat", relation: "less than", frequency: 2 },
    "a cat",
    "cat cat",
  ],
  ["keywords:forbidden_words", { forbidden_words: ["bad"] }, "badge is fine", "this is BAD."],
  [
    "keywords:letter_frequency",
    { letter: "a", let_relation: "at least", let_frequency: 3 },
    "banana",
    "bnn a",
  ],
  [
    "language:response_language",
    { language: "ko" },
    "안녕하세요. 반갑습니다.",
    "Hello there, friend.",
  ],
  ["language:response_language", { language: "ru" }, "Привет, как дела?", "Hello, how are you?"],
  [
    "language:response_language",
    { language: "de" },
    "Ich bin nicht der Mann, und das ist gut.",
    "The man is here and it is good.",
  ],
  [
    "length_constraints:number_sentences",
    { relation: "미만", num_sentences: 3 },
    "하나. 둘.",
    "One. Two. Three.",
  ],
  [
    "length_constraints:number_paragraphs",
    { num_paragraphs: 2 },
    "first\n***\nsecond",
    "first\n***\n\n***\nthird",
  ],
  [
    "length_constraints:number_words",
    { relation: "at least", num_words: 4 },
    "one two three four",
    "one two three",
  ],
  [
    "length_constraints:nth_paragraph_first_word",
    { num_paragraphs: 2, nth_paragraph: 2, first_word: "then" },
    'First here.\n\n"Then, more.',
    "First here.\n\nAfter that.",
  ],
  [
    "detectable_content:number_placeholders",
    { num_placeholders: 2 },
    "At [address] on [date].",
    "At [address].",
  ],
  ["detectable_content:postscript", { postscript_marker: "P.S." }, "Hi.\nP.S. bye", "Hi. PS bye"],
  [
    "detectable_content:postscript",
    { postscript_marker: "P.P.S" },
    "Hi.\nP.P.S bye",
    "Hi.\nP.S. bye",
  ],
  ["detectable_format:number_bullet_lists", { num_bullets: 2 }, "* a\n* b", "* a\n* b\n- c"],
  ["detectable_format:constrained_response", {}, "My answer is yes.", "Yes."],
  [
    "detectable_format:number_highlighted_sections",
    { num_highlights: 2 },
    "*one* and **two**",
    "*one* and ** **",
  ],
  [
    "detectable_format:multiple_sections",
    { section_spliter: "단락", num_sections: 2 },
    "단락 1\n가\n단락 2\n나",
    "단락 1\n가",
  ],
  ["detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{a: 1}"],
  ["detectable_format:title", {}, "<<제목>>\n본문", "<<>> no title"],
  ["combination:two_responses", {}, "one\n******\ntwo", "one\n******\none"],
  [
    "combination:repeat_prompt",
    { prompt_to_repeat: "Write a poem." },
    "write a poem. Roses...",
    "Roses are red.",
  ],
  [
    "combination:repeat_prompt",
    {},
    "시를 써라. 장미...",
    "장미는 붉다.",
    "시를 써라.\n먼저 요청을 그대로 반복하세요",
  ],
  [
    "startend:end_checker",
    { end_phrase: "다른 질문 있으세요?" },
    "답입니다. 다른 질문 있으세요?",
    "다른 질문 있으세요? 답입니다.",
  ],
  ["startend:quotation", {}, '"quoted"', 'not "quoted"'],
  [
    "change_case:capital_word_frequency",
    { capital_relation: "at least", capital_frequency: 2 },
    "THIS is VERY nice",
    "THIS is nice",
  ],
  ["change_case:english_capital", {}, "THIS IS LOUD AND THE END.", "This is not."],
  ["change_case:english_lowercase", {}, "this is quiet and the end.", "This is not."],
  ["punctuation:no_comma", {}, "No commas here.", "Yes, one."],
  [
    "Korean:acrostic_poem",
    { target_word: "자유" },
    "<<자유>>\n자: 자유롭게 날아\n유: 유유히 흐르네",
    "자유롭게 날아\n하늘을 보네",
  ],
  [
    "Korean:honorifics",
    { direction_to: "honorific" },
    "여기까지 오시느라 고생하셨어요. 이제 좀 쉬세요.",
    "여기까지 오느라 고생했어요. 이제 좀 쉬어.",
  ],
  [
    "Korean:honorifics",
    { direction_to: "non-honorific" },
    "지금 어디에 있어? 빨리 와 줘.",
    "지금 어디에 있습니까? 빨리 와.",
  ],
  [
    "Korean:numbers",
    { direction_to: "chinese" },
    "사과 일 개, 배 이 개를 샀어요.",
    "사과 하나, 배 둘을 샀어요.",
  ],
  [
    "Korean:numbers",
    { direction_to: "korean" },
    "나는 매일 오후 세 시에 운동을 해.",
    "나는 매일 오후 삼 시에 운동을 해.",
  ],
  [
    "Korean:numbers",
    { direction_to: "korean" },
    "오늘은 사흘째 되는 날입니다.",
    "오늘은 3일째 되는 날입니다.",
  ],
  [
    "Korean:postposition_drop",
    {},
    "라면 물 끓이기. 면 넣기. 삼 분 기다리기.",
    "냄비에서 물을 끓입니다.",
  ],
];

for (const [id, kw, pass, fail, prompt] of CASES) {
  Deno.test(`VERIFIERS["${id}"] passes and fails as expected (${JSON.stringify(kw)})`, () => {
    const v = VERIFIERS[id];
    assert(v, `no verifier ${id}`);
    assertEquals(v(pass, kw, prompt ?? ""), true, `should pass: ${JSON.stringify(pass)}`);
    assertEquals(v(fail, kw, prompt ?? ""), false, `should fail: ${JSON.stringify(fail)}`);
  });
}

Deno.test("VERIFIERS has a passing and a failing case for every instruction", () => {
  const tested = new Set(CASES.map((c) => c[0]));
  for (const id of Object.keys(VERIFIERS)) assert(tested.has(id), `${id} untested`);
});

Deno.test("compare() reads English and Korean relations and rejects others", () => {
  assertEquals(compare(3, "at least", 3), true);
  assertEquals(compare(3, "적어도", 4), false);
  assertEquals(compare(2, "미만", 3), true);
  assertThrows(() => compare(1, "about", 1));
});

Deno.test("countWords() and splitSentences() count Korean and English", () => {
  assertEquals(countWords("나는 학교에 갑니다. I go, too!"), 6);
  assertEquals(splitSentences("첫 문장입니다. 두 번째? Third one!").length, 3);
});

Deno.test("checkInstructions() is loose where only the first line breaks the rule", () => {
  // The first line has a comma; the strict check fails, the loose variant without it passes.
  const r = checkInstructions(
    "Sure, here it is\nno commas at all",
    ["punctuation:no_comma"],
    [{}],
    "",
  );
  assertEquals(r, { strict: [false], loose: [true] });
  const e = checkInstructions("", ["punctuation:no_comma"], [{}], "");
  assertEquals(e, { strict: [false], loose: [false] });
  assertThrows(() => checkInstructions("x", ["nope:unknown"], [{}], ""), Error, "unknown");
});
