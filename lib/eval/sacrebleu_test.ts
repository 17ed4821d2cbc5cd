import assert from "node:assert/strict";
import { bleuScore, bleuStats, chrfScore, chrfStats, tokenize13a } from "./metrics.ts";

const SAMPLE: { pred: string; golds: string[] }[] = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/translation_sample.json", import.meta.url)),
);

/** Printed by `python3 lib/eval/sacrebleu_reference.py` with sacrebleu 2.6.0. */
const SENTENCE_CHRF = [
  49.6485170311433,
  40.56003147802401,
  0,
  40.23809523809525,
  0,
  68.33299160663503,
  90.66705827818542,
];
const CORPUS_CHRF = 65.33125404212333;
const CORPUS_BLEU = 54.24434930647153;

const sum = (rows: number[][]) => rows.reduce((a, s) => a.map((x, j) => x + s[j]));

Deno.test("chrfStats() / chrfScore() equal sacrebleu's sentence_chrf and corpus_chrf", () => {
  const stats = SAMPLE.map((x) => chrfStats(x.pred, x.golds));
  stats.forEach((s, i) => {
    assert.ok(
      Math.abs(chrfScore(s) - SENTENCE_CHRF[i]) < 1e-9,
      `${i}: ${chrfScore(s)} vs ${SENTENCE_CHRF[i]}`,
    );
  });
  assert.ok(Math.abs(chrfScore(sum(stats)) - CORPUS_CHRF) < 1e-9, `${chrfScore(sum(stats))}`);
});

Deno.test("bleuStats() / bleuScore() equal sacrebleu's corpus_bleu (13a, exp smoothing)", () => {
  const got = bleuScore(sum(SAMPLE.map((x) => bleuStats(x.pred, x.golds))));
  assert.ok(Math.abs(got - CORPUS_BLEU) < 1e-9, `${got} vs ${CORPUS_BLEU}`);
  assert.equal(
    tokenize13a("It costs $3.50, i.e. 1,000 won-ish (roughly)."),
    "It costs $ 3.50 , i . e . 1,000 won-ish ( roughly ) .", // sacrebleu's Tokenizer13a output
  );
});
