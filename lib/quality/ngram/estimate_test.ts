import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { KENLM_FALLBACK, mknDiscounts } from "./estimate.ts";
import { trainNgram } from "./train.ts";
import { readArpa } from "./arpa.ts";
import { UserError } from "../../io/errors.ts";

const log10 = Math.log10;

Deno.test("mknDiscounts() follows Chen & Goodman's formulas", () => {
  const t = [100, 40, 20, 10];
  const y = 100 / (100 + 2 * 40);
  const d = mknDiscounts(t)!;
  assertAlmostEquals(d[0], 1 - 2 * y * 40 / 100, 1e-12);
  assertAlmostEquals(d[1], 2 - 3 * y * 20 / 40, 1e-12);
  assertAlmostEquals(d[2], 3 - 4 * y * 10 / 20, 1e-12);
  assertEquals(mknDiscounts([5, 0, 1, 1]), undefined);
});

Deno.test("trainNgram() gives the hand-derived interpolated MKN probabilities of a bigram model", async () => {
  // Sentences: <s> a b </s>, <s> a </s>. Discounts D1=.5, D2=1, D3+=1.5 (the fallback).
  // Top order (raw): <s> a:2, a b:1, b </s>:1, a </s>:1.
  // Unigram adjusted counts (distinct left words): a:1 (<s>), b:1 (a), </s>:2 (a, b); Σ = 4.
  // u(a) = u(b) = (1-.5)/4, u(</s>) = (2-1)/4, γ(ε) = (.5+.5+1)/4 = .5, |V| = 4 (<unk> a b </s>).
  const pa = 0.125 + 0.5 / 4, pb = pa, peos = 0.25 + 0.5 / 4, punk = 0.5 / 4;
  // Bigrams: context <s>: a:2 → u = (2-1)/2, γ(<s>) = 1/2.
  const p_a_bos = 0.5 + 0.5 * pa;
  // Context a: b:1, </s>:1 → u = .5/2 each, γ(a) = (.5+.5)/2.
  const p_b_a = 0.25 + 0.5 * pb, p_eos_a = 0.25 + 0.5 * peos;
  // Context b: </s>:1 → u = .5/1, γ(b) = .5.
  const p_eos_b = 0.5 + 0.5 * peos;
  const { model } = await trainNgram(["a b", "a"], { order: 2, discountFallback: KENLM_FALLBACK });
  const v = model.vocab;
  const P = (ids: string[]) => model.prob[ids.length - 1][model.find(ids.map((w) => v.id(w)))];
  assertAlmostEquals(P(["a"]), log10(pa), 1e-6);
  assertAlmostEquals(P(["b"]), log10(pb), 1e-6);
  assertAlmostEquals(P(["</s>"]), log10(peos), 1e-6);
  assertAlmostEquals(P(["<unk>"]), log10(punk), 1e-6);
  assertEquals(P(["<s>"]), 0);
  assertAlmostEquals(P(["<s>", "a"]), log10(p_a_bos), 1e-6);
  assertAlmostEquals(P(["a", "b"]), log10(p_b_a), 1e-6);
  assertAlmostEquals(P(["a", "</s>"]), log10(p_eos_a), 1e-6);
  assertAlmostEquals(P(["b", "</s>"]), log10(p_eos_b), 1e-6);
  assertAlmostEquals(model.backoff[0][v.id("a")], log10(0.5), 1e-6);
  assertEquals(model.backoff[0][v.id("</s>")], 0);
  // Seen sentence, and an unseen one that backs off: p(b|<s>) = γ(<s>) p(b), p(b|b) = γ(b) p(b).
  assertAlmostEquals(
    model.scoreSentence(["a", "b"]).logprob,
    log10(p_a_bos * p_b_a * p_eos_b),
    1e-5,
  );
  assertAlmostEquals(
    model.scoreSentence(["b", "b", "zzz"]).logprob,
    log10(0.5 * pb) + log10(0.5 * pb) + log10(0.5 * punk) + log10(peos),
    1e-5,
  );
});

Deno.test("trainNgram() matches lmplz's ARPA on a small trigram corpus", async () => {
  // testdata/tiny.lmplz.arpa: `lmplz -o 3 --discount_fallback < testdata/tiny.txt` (KenLM).
  const dir = new URL("./testdata/", import.meta.url).pathname;
  const kenlm = await readArpa(`${dir}tiny.lmplz.arpa`);
  const lines = (await Deno.readTextFile(`${dir}tiny.txt`)).split("\n");
  const { model } = await trainNgram(lines, { order: 3, discountFallback: KENLM_FALLBACK });
  assertEquals(model.counts(), kenlm.counts());
  for (let k = 1; k <= 3; k++) {
    for (let i = 0; i < kenlm.prob[k - 1].length; i++) {
      const words = kenlm.gramIds(k, i).map((id) => kenlm.vocab.words[id]);
      const j = model.find(words.map((w) => model.vocab.id(w)));
      assert(j >= 0, `missing ${words.join(" ")}`);
      assertAlmostEquals(model.prob[k - 1][j], kenlm.prob[k - 1][i], 1e-6, words.join(" "));
      assertAlmostEquals(model.backoff[k - 1][j], kenlm.backoff[k - 1][i], 1e-6, words.join(" "));
    }
  }
});

Deno.test("trainNgram() refuses data without usable discounts unless given a fallback", async () => {
  await assertRejects(() => trainNgram(["a b", "a"], { order: 2 }), UserError, "discount");
});

Deno.test("trainNgram() with pruning keeps every conditional distribution normalised", async () => {
  const lines = ["a b c a b", "b c a", "a b d", "c a b c", "d d a b", "b a c"];
  const full = await trainNgram(lines, { order: 3, discountFallback: KENLM_FALLBACK });
  const pruned = await trainNgram(lines, {
    order: 3,
    discountFallback: KENLM_FALLBACK,
    prune: [0, 0, 1],
  });
  const [c1, c2, c3] = pruned.model.counts();
  assertEquals([c1, c2], full.model.counts().slice(0, 2));
  assert(c3 < full.model.counts()[2], "some trigrams pruned");
  const m = pruned.model, v = m.vocab;
  for (const hist of [["<s>", "a"], ["a", "b"], ["b", "c"], ["d", "d"]]) {
    const h = hist.map((w) => v.id(w));
    let sum = 0;
    for (let w = 0; w < v.size; w++) if (w !== 1) sum += Math.pow(10, m.logProb(h, w));
    assertAlmostEquals(sum, 1, 1e-4, hist.join(" "));
  }
});

Deno.test("NgramModel.scoreSentence() agrees with the backoff reference logProb()", async () => {
  const lines = ["a b c a b", "b c a", "a b d", "c a b c"];
  const { model } = await trainNgram(lines, { order: 4, discountFallback: KENLM_FALLBACK });
  const v = model.vocab;
  for (const s of ["a b c d", "d c b a", "a a a", "q b c"]) {
    const toks = s.split(" ");
    const ids = toks.map((w) => v.id(w));
    let ref = 0;
    const hist = [1];
    for (const w of [...ids, 2]) {
      ref += model.logProb(hist, w);
      hist.push(w);
    }
    assertAlmostEquals(model.scoreSentence(toks).logprob, ref, 1e-5, s);
  }
});

Deno.test("trainNgram() reads <s>, </s> and <unk> in the text as whitespace", async () => {
  const a = await trainNgram(["a b", "a"], { order: 2, discountFallback: KENLM_FALLBACK });
  const b = await trainNgram(["<s> a </s> b <unk>", "a </s>"], {
    order: 2,
    discountFallback: KENLM_FALLBACK,
  });
  assertEquals(b.model.counts(), a.model.counts());
  assertEquals(
    b.model.scoreSentence(["a", "b"]).logprob,
    a.model.scoreSentence(["a", "b"]).logprob,
  );
});

Deno.test("trainNgram() of order 1 uses raw counts and sums to 1", async () => {
  const { model } = await trainNgram(["a b a", "a c"], {
    order: 1,
    discountFallback: KENLM_FALLBACK,
  });
  const v = model.vocab;
  let sum = 0;
  for (let w = 0; w < v.size; w++) if (w !== 1) sum += Math.pow(10, model.prob[0][w]);
  assertAlmostEquals(sum, 1, 1e-6);
  // raw counts a:3, </s>:2, b:1, c:1 → a is the most likely
  assert(model.prob[0][v.id("a")] > model.prob[0][v.id("</s>")]);
  assert(model.prob[0][v.id("</s>")] > model.prob[0][v.id("b")]);
});
