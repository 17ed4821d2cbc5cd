import assert from "node:assert/strict";
import { chrfScore, chrfStats } from "./metrics.ts";

const SAMPLE: { pred: string; golds: string[] }[] = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/chrf_sample.json", import.meta.url)),
);

/** Printed by `python3 lib/eval/chrf_reference.py` with sacrebleu 2.6.0 (sentence, then corpus). */
const SENTENCE = [49.6485170311433, 40.56003147802401, 0, 40.23809523809525, 0];
const CORPUS = 37.769630006879666;

Deno.test("chrfStats() / chrfScore() equal sacrebleu's sentence_chrf and corpus_chrf", () => {
  const stats = SAMPLE.map((x) => chrfStats(x.pred, x.golds));
  stats.forEach((s, i) => {
    assert.ok(
      Math.abs(chrfScore(s) - SENTENCE[i]) < 1e-9,
      `${i}: ${chrfScore(s)} vs ${SENTENCE[i]}`,
    );
  });
  const sum = stats.reduce((a, s) => a.map((x, j) => x + s[j]));
  assert.ok(Math.abs(chrfScore(sum) - CORPUS) < 1e-9, `${chrfScore(sum)} vs ${CORPUS}`);
});
