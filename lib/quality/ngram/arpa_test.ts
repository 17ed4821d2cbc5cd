import { assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { readArpa, writeArpa } from "./arpa.ts";
import { trainNgram } from "./train.ts";
import { KENLM_FALLBACK } from "./estimate.ts";
import { scoreDocument } from "./perplexity.ts";
import { UserError } from "../../io/errors.ts";

const TINY = new URL("./testdata/tiny.lmplz.arpa", import.meta.url).pathname;

Deno.test("writeArpa() → readArpa() round trip scores the same", async () => {
  const lines = ["가 나 다 가", "나 다 라", "가 나", "다 가 나 라", "라 라 가"];
  const { model } = await trainNgram(lines, { order: 4, discountFallback: KENLM_FALLBACK });
  const dir = await Deno.makeTempDir();
  try {
    await writeArpa(model, `${dir}/m.arpa`);
    const back = await readArpa(`${dir}/m.arpa`);
    assertEquals(back.counts(), model.counts());
    for (const doc of ["가 나 다\n라 가", "마 바 사", "나 나 나 나 나"]) {
      assertAlmostEquals(
        scoreDocument(back, doc).logprob,
        scoreDocument(model, doc).logprob,
        1e-5,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readArpa() reads lmplz's output and scores as KenLM's query", async () => {
  const m = await readArpa(TINY);
  assertEquals(m.counts(), [7, 11, 12]);
  // By hand from the file: p(a|<s>) has no trigram context; "<s> a b" is a trigram; "b </s>" bigram.
  // log p(a|<s>) = -0.47221392, log p(b|<s> a) = -0.14860268, log p(</s>|a b) = -0.54654264
  assertAlmostEquals(
    m.scoreSentence(["a", "b"]).logprob,
    -0.47221392 - 0.14860268 - 0.54654264,
    1e-6,
  );
  // "d a": p(d|<s>) backs off: b(<s>) + p(d); p(a|<s> d): no "<s> d", no "d a" → b(d) + p(a);
  // p(</s>|d a): no "d a" context → p(</s>|a). KenLM's query prints Total: -2.6780334.
  assertAlmostEquals(
    m.scoreSentence(["d", "a"]).logprob,
    (-0.30103 - 0.75884604) + (-0.30103 - 0.75884604) + (-0.55828106),
    1e-6,
  );
});

async function expectArpaError(text: string, message: string) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.arpa`, text);
    await assertRejects(() => readArpa(`${dir}/bad.arpa`), UserError, message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const GOOD = await Deno.readTextFile(TINY);

Deno.test("readArpa() refuses wrong counts and malformed lines with the line number", async () => {
  await expectArpaError(
    GOOD.replace("ngram 2=11", "ngram 2=12"),
    "bad.arpa:27: the 2-grams section has 11 lines",
  );
  await expectArpaError(GOOD.replace("ngram 3=12", "ngram 3=11"), "more 3-grams than the header");
  await expectArpaError(GOOD.replace("-0.47221392\t<s> a", "x\t<s> a"), "bad.arpa:19: probability");
  await expectArpaError(GOOD.replace("-0.37628093\tc a\t", "-0.37628093\tc\t"), "bad.arpa:20:");
  await expectArpaError(GOOD.replace("\tb c a\n", "\tb q a\n"), "not among the unigrams");
  await expectArpaError(GOOD.replace("\tb c a\n", "\td c a\n"), 'context "d c"');
  await expectArpaError(GOOD.replace("\\end\\", ""), "without");
  await expectArpaError("hello\n", "bad.arpa:1:");
  await expectArpaError(GOOD.replace("0\t<s>", "0.5\t<s>"), "bad.arpa:8: log10 probability");
});

Deno.test("readArpa() refuses a header count the file cannot hold (ngram 1=2^53)", async () => {
  const path = `${await Deno.makeTempDir()}/huge.arpa`;
  await Deno.writeTextFile(
    path,
    "\\data\\\nngram 1=9007199254740992\n\n\\1-grams:\n-1\t<s>\n\n\\end\\\n",
  );
  await assertRejects(() => readArpa(path), UserError, "ngram 1=9007199254740992 is more 1-grams");
});
