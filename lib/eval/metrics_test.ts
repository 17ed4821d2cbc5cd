import assert from "node:assert/strict";
import {
  acc,
  accNorm,
  argmax,
  bootstrapStderr,
  charLength,
  exactMatch,
  mean,
  meanStderr,
  perplexity,
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
