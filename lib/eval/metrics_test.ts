import assert from "node:assert/strict";
import { validateTask } from "./task_file.ts";
import { METRICS } from "./metric_registry.ts";
import {
  acc,
  accBytes,
  accNorm,
  argmax,
  bitsPerByte,
  bootstrapStderr,
  charLength,
  countBytes,
  countWords,
  exactMatch,
  mean,
  meanStderr,
  perplexity,
  weightedPerplexity,
} from "./metrics.ts";

Deno.test("accNorm() divides by characters, not bytes, on Korean choices", () => {
  // Choices: "서울" (2 chars, 6 bytes), "부산광역시" (5 chars, 15 bytes), "대구" (2 chars).
  // lls −3, −5, −4 → per char −1.5, −1.0, −2.0 → acc_norm picks 1; acc picks 0.
  const choices = ["서울", "부산광역시", "대구"];
  const lls = [-3, -5, -4];
  assert.equal(charLength("부산광역시"), 5);
  assert.equal(new TextEncoder().encode("부산광역시").length, 15);
  assert.equal(acc(lls, 0), 1);
  assert.equal(acc(lls, 1), 0);
  assert.equal(accNorm(lls, choices, 1), 1);
  assert.equal(accNorm(lls, choices, 0), 0);
  // Per byte it would be −0.5, −0.333, −0.667 → still 1; a case where bytes and chars disagree:
  // " 예" (2 chars, 4 bytes) ll −2 → −1.0/char; " yes" (4 chars, 4 bytes) ll −3 → −0.75/char.
  // Per char "yes" wins; per byte both are −0.5 and −0.75 → "예" would win.
  assert.equal(accNorm([-2, -3], [" 예", " yes"], 1), 1);
});

Deno.test("argmax() takes the first of equal values, as numpy", () => {
  assert.equal(argmax([1, 3, 3]), 1);
  assert.equal(acc([-1, -1], 0), 1);
});

Deno.test("exactMatch() applies lm-eval's normalizations", () => {
  const gsm = { ignore_case: true, regexes_to_ignore: [",", "\\$", "[\\s\\S]*#### ", "\\.$"] };
  assert.equal(exactMatch("1000", "He pays $1,000.\n#### 1,000", gsm), 1);
  assert.equal(exactMatch("100", "#### 1,000", gsm), 0);
  assert.equal(exactMatch("Yes!", "yes", { ignore_case: true, ignore_punctuation: true }), 1);
  assert.equal(exactMatch("Yes!", "yes", { ignore_case: true }), 0);
});

Deno.test("meanStderr() uses the n−1 sample deviation", () => {
  // [1, 0, 1, 1]: mean .75, sample var = (3·.0625 + .5625)/3 = .25, stderr = sqrt(.25/4) = .25
  assert.equal(mean([1, 0, 1, 1]), 0.75);
  assert.equal(meanStderr([1, 0, 1, 1]), 0.25);
  assert.ok(Number.isNaN(meanStderr([1])));
});

Deno.test("perplexity() is exp of minus the mean log-likelihood", () => {
  assert.ok(Math.abs(perplexity([-1, -3]) - Math.exp(2)) < 1e-12);
});

Deno.test("bootstrapStderr() of the mean approaches the analytic standard error", () => {
  const xs = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 0 : 1));
  const boot = bootstrapStderr(xs, mean, 2000, 7);
  const exact = meanStderr(xs);
  assert.ok(Math.abs(boot - exact) / exact < 0.1, `${boot} vs ${exact}`);
  assert.equal(bootstrapStderr(xs, mean, 200, 7), bootstrapStderr(xs, mean, 200, 7));
});

Deno.test("accBytes() divides by UTF-8 bytes: a Hangul syllable weighs three", () => {
  // Per byte −6/6 = −1 beats −4/1.
  assert.equal(accBytes([-6, -4], ["사과", "a"], 0), 1);
  // "사" (3 bytes, −2.4 → −0.8/byte) vs "ab" (2 bytes, −1.8 → −0.9/byte): bytes pick 0, chars pick 1.
  assert.equal(accBytes([-2.4, -1.8], ["사", "ab"], 0), 1);
  assert.equal(accNorm([-2.4, -1.8], ["사", "ab"], 0), 0);
});

Deno.test("the metric registry refuses a metric, aggregation or higher_is_better that does not fit", () => {
  const base = {
    task: "t",
    dataset_path: "d.jsonl",
    output_type: "multiple_choice",
    doc_to_text: "q",
    doc_to_choice: "c",
    doc_to_target: "g",
  };
  assert.equal(
    validateTask({
      ...base,
      metric_list: [{ metric: "acc_bytes", aggregation: "mean", higher_is_better: true }],
    }, "x.yaml").metric_list[0].aggregation,
    "mean",
  );
  assert.throws(
    () =>
      validateTask({ ...base, metric_list: [{ metric: "acc", aggregation: "median" }] }, "x.yaml"),
    /acc aggregates by "mean", not "median"/,
  );
  assert.throws(
    () =>
      validateTask(
        { ...base, metric_list: [{ metric: "acc", higher_is_better: false }] },
        "x.yaml",
      ),
    /higher_is_better: acc is true/,
  );
  assert.throws(
    () => validateTask({ ...base, metric_list: [{ metric: "f1" }] }, "x.yaml"),
    /"f1" is not available for multiple_choice \(use acc, acc_norm, acc_bytes\)/,
  );
  for (const [name, d] of Object.entries(METRICS)) {
    assert.ok(d.types.length && typeof d.higher_is_better === "boolean", name);
  }
});

Deno.test("weightedPerplexity() and bitsPerByte() weigh by words / bytes as lm-eval", () => {
  const pairs: [number, number][] = [[-6.5, 13], [-1.3, 2]];
  assert.ok(Math.abs(weightedPerplexity(pairs) - Math.exp(7.8 / 15)) < 1e-15);
  assert.ok(Math.abs(bitsPerByte(pairs) - 7.8 / 15 / Math.LN2) < 1e-15);
  assert.equal(countWords("Hi 🙂 there"), 3);
  assert.equal(countWords(" a b "), 4); // re.split keeps the empty ends
  assert.equal(countBytes("Hi 🙂 there"), 13);
});
