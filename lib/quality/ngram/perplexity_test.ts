import { assertAlmostEquals, assertEquals } from "../_assert.ts";
import { bucketCutoffs, bucketOf, percentile, scoreDocument } from "./perplexity.ts";
import { readArpa } from "./arpa.ts";

Deno.test("scoreDocument() computes ccnet's and Thunder-LLM's perplexities", async () => {
  const m = await readArpa(new URL("./testdata/tiny.lmplz.arpa", import.meta.url).pathname);
  // Lines "a b" and "d a" (values checked with KenLM's query): Σ log10 p over 4 words + 2 </s>.
  const lp = (-0.47221392 - 0.14860268 - 0.54654264) + -2.6780334;
  const s = scoreDocument(m, "a b\n\n  \nd a\n");
  assertEquals([s.words, s.lines, s.oov], [4, 2, 0]);
  assertAlmostEquals(s.logprob, lp, 1e-5);
  assertAlmostEquals(s.perplexity, Math.pow(10, -lp / (4 + 2)), 1e-4);
  assertAlmostEquals(s.nll_per_word, -lp / 4, 1e-5);
  assertEquals(scoreDocument(m, "x").oov, 1);
  assertEquals(scoreDocument(m, "\n").perplexity, Infinity);
});

Deno.test("bucketOf() splits at the 30th and 60th percentiles as ccnet does", () => {
  const ppl = Array.from({ length: 11 }, (_, i) => 100 + 10 * i); // 100…200
  assertEquals(percentile(ppl, 30), 130);
  assertAlmostEquals(percentile([1, 2], 60), 1.6, 1e-12);
  const c = bucketCutoffs(ppl);
  assertEquals(c, { p30: 130, p60: 160 });
  assertEquals([bucketOf(120, c), bucketOf(130, c), bucketOf(150, c), bucketOf(161, c)], [
    "head",
    "head",
    "middle",
    "tail",
  ]);
});
