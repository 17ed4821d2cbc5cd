import assert from "node:assert/strict";
import {
  applyFilter,
  compileRegex,
  gsm8kFlexible,
  gsm8kStrict,
  INVALID,
  majorityVote,
  normalizeNumber,
} from "./filters.ts";

Deno.test("gsm8kStrict() takes the number after ####, ignoring , 원 and a trailing .", () => {
  assert.equal(gsm8kStrict("so 9 * 2 = 18\n#### 18"), "18");
  assert.equal(gsm8kStrict("#### 1,234."), "1234");
  assert.equal(gsm8kStrict("#### -5"), "-5");
  assert.equal(gsm8kStrict("#### 3.5"), "3.5");
  assert.equal(gsm8kStrict("#### 18원"), "18");
  assert.equal(gsm8kStrict("The answer is 18."), INVALID);
  assert.equal(gsm8kStrict("####18"), INVALID); // strict needs the space
  assert.equal(gsm8kStrict("#### 7\n#### 8"), "7"); // the first, as lm-eval's take_first
});

Deno.test("gsm8kFlexible() takes the last number", () => {
  assert.equal(gsm8kFlexible("3 apples and 4 pears make 7."), "7");
  assert.equal(gsm8kFlexible("총 12,000원입니다."), "12000");
  assert.equal(gsm8kFlexible("It costs $1,050.50 in all"), "1050.50");
  assert.equal(gsm8kFlexible("답은 -3 입니다"), "-3");
  assert.equal(gsm8kFlexible("no numbers here"), INVALID);
  assert.equal(gsm8kFlexible("Step 2: ... so 18.\n#### 18"), "18");
});

Deno.test("normalizeNumber() drops separators, currency and a final period", () => {
  assert.equal(normalizeNumber("$1,200."), "1200");
  assert.equal(normalizeNumber("5 000원"), "5000");
});

Deno.test("applyFilter() runs regex steps like lm-eval's RegexFilter", () => {
  const steps = [
    { function: "regex", regex_pattern: "(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select: -1 },
    { function: "take_first" },
    { function: "number" },
  ];
  assert.equal(applyFilter(steps, "first 12 then 7"), "7");
  assert.equal(applyFilter(steps, "only $1,500 here"), "1500");
  assert.equal(applyFilter([{ function: "regex", regex_pattern: "X(\\d)" }], "none"), INVALID);
  assert.equal(
    applyFilter([{ function: "strip" }, { function: "lowercase" }], "  HeLLo "),
    "hello",
  );
});

Deno.test("regex filters take Python patterns: (?s) and other inline flags, (?P<name>), strip", () => {
  const s = "Reasoning...\nThe answer is:\n  Seoul  \nDone";
  // Without (?s) "." stops at newlines, as in Python.
  assert.equal(
    applyFilter([{ function: "regex", regex_pattern: "answer is:(.*)Done" }], s),
    INVALID,
  );
  assert.equal(
    applyFilter([{ function: "regex", regex_pattern: "(?s)answer is:(.*)Done" }], s),
    "Seoul",
  );
  assert.equal(
    applyFilter([{ function: "regex", regex_pattern: "(?i)THE ANSWER IS:\\s*(?P<a>\\w+)" }], s),
    "Seoul",
  );
  assert.equal(compileRegex("(?ms)^x").flags, "gms");
  assert.throws(() => compileRegex("(?x) a b"), /verbose/);
  // Several groups: the first non-empty one; none non-empty → fallback.
  assert.equal(
    applyFilter([{ function: "regex", regex_pattern: "(a)?(b)?c", fallback: "F" }], "c"),
    "F",
  );
});

Deno.test("take_first and majority_vote combine repeated generations as lm-eval", () => {
  const xs = ["#### 3", "#### 4", "#### 4", "#### 3"];
  const strict = { function: "regex", regex_pattern: "#### (\\d+)" };
  assert.equal(
    applyFilter([strict, { function: "majority_vote" }, { function: "take_first" }], xs),
    "3",
  );
  assert.equal(
    applyFilter([strict, { function: "majority_vote" }], ["#### 1", "#### 4", "#### 4"]),
    "4",
  );
  assert.equal(applyFilter([{ function: "take_first" }, strict], xs.slice(1)), "4");
  assert.equal(majorityVote(["b", "a", "a", "b"]), "b"); // a tie: the first seen
});
