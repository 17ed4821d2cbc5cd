import assert from "node:assert/strict";
import { CharNgramLM } from "./ngram.ts";
import { TokenLMModel } from "./model.ts";

Deno.test("CharNgramLM.nextLogProbs() matches hand-computed Witten–Bell values", () => {
  // Text "abab", order 2. Vocabulary: [unk, a, b] (V = 3).
  // Order 0: counts a:2, b:2 (total 4, 2 types): p(a) = (2 + 2·1/3)/6 = 4/9, p(unk) = (2/3)/6 = 1/9.
  // After "a": b:2 (total 2, 1 type): p(b|a) = (2 + 1·4/9)/3 = 22/27, p(a|a) = (4/9)/3 = 4/27.
  const lm = new CharNgramLM(["abab"], 2);
  assert.deepEqual(lm.vocab, ["\uFFFD", "a", "b"]);
  const p0 = Array.from(lm.nextLogProbs([]), Math.exp);
  assert.ok(Math.abs(p0[1] - 4 / 9) < 1e-12 && Math.abs(p0[0] - 1 / 9) < 1e-12);
  const pa = Array.from(lm.nextLogProbs(lm.encode("a")), Math.exp);
  assert.ok(Math.abs(pa[2] - 22 / 27) < 1e-12, String(pa[2]));
  assert.ok(Math.abs(pa[1] - 4 / 27) < 1e-12);
  assert.ok(Math.abs(pa.reduce((x, y) => x + y) - 1) < 1e-12);
});

Deno.test("CharNgramLM distributions sum to one on Korean text with unseen history", () => {
  const lm = new CharNgramLM(["동백꽃이 피었다. 점순이가 닭을 몰고 왔다."], 4);
  for (const h of ["", "동백", "점순이", "없는문맥"]) {
    const s = Array.from(lm.nextLogProbs(lm.encode(h)), Math.exp).reduce((a, b) => a + b);
    assert.ok(Math.abs(s - 1) < 1e-9, `${h}: ${s}`);
  }
});

Deno.test("TokenLMModel scores seen text above shuffled text and generates greedily", async () => {
  const text = "나는 학교에 간다. 나는 집에 간다. 나는 학교에 간다.";
  const m = new TokenLMModel(new CharNgramLM([text], 4));
  const [good, bad] = await m.loglikelihood([
    { context: "나는 ", continuation: "학교에 간다." },
    { context: "나는 ", continuation: "간다 학교에." },
  ]);
  assert.ok(good.logprob > bad.logprob);
  assert.equal(good.isGreedy, true);
  assert.equal(bad.isGreedy, false);
  const [out] = await m.generate([{ prompt: "나는 학", until: ["."], maxTokens: 20 }]);
  assert.equal(out, "교에 간다");
  // Summing token log-probs: the whole equals context then continuation.
  const [whole] = await m.loglikelihood([{ context: "", continuation: "나는 학교" }]);
  const [a] = await m.loglikelihood([{ context: "", continuation: "나는 " }]);
  const [b] = await m.loglikelihood([{ context: "나는 ", continuation: "학교" }]);
  assert.ok(Math.abs(whole.logprob - (a.logprob + b.logprob)) < 1e-9);
});
