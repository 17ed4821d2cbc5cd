import assert from "node:assert/strict";
import { fmtNum, summaryMarkdown } from "./summary.ts";

Deno.test("summaryMarkdown() writes figures as numbers with units, no JSON, and links the report", () => {
  const md = summaryMarkdown("runs/demo-x", [
    {
      stage: "filter",
      status: "ran",
      seconds: 0.2,
      figures: {
        docs_in: 297,
        docs_out: 72,
        chars_in: 346967,
        chars_out: 29046,
        removed: { "rules:hangul_ratio": 215 },
        kept: "runs/demo-x/filter/ko.jsonl.gz",
      },
    },
    {
      stage: "tokenizer",
      status: "ran",
      seconds: 9.2,
      figures: {
        vocab_size: 137816,
        added: { pieces: 8904 },
        korean_tokens_per_syllable: { llama31: 0.8583, merged: 0.5112 },
        english_tokens_per_word: { llama31: 1.31, merged: 1.31 },
      },
    },
    { stage: "newstage", status: "ran", seconds: 1, figures: { pages_per_second: 68.24 } },
    { stage: "posttrain", status: "ran", seconds: 0, figures: { skipped: "no data here" } },
    { stage: "hub", status: "not built yet" },
  ]);
  assert.match(md, /\[report\.html\]\(report\.html\)/);
  assert.match(
    md,
    /\| filter \| ran \| 0\.2s \| 297 → 72 docs \(24\.2 % kept\); 346,967 → 29,046 chars/,
  );
  assert.match(md, /0\.858 → 0\.511 tokens\/syllable/);
  assert.match(md, /English: 1\.31 → 1\.31 tokens\/word/);
  assert.match(md, /\| newstage \| ran \| 1\.0s \| pages per second 68\.2 \|/);
  assert.match(md, /\| posttrain \| ran \| 0\.0s \| skipped: no data here \|/);
  assert.match(md, /\| hub \| not built yet \|/);
  assert.ok(!/[{}"`]/.test(md), "no JSON in the summary");
});

Deno.test("fmtNum() groups thousands and rounds fractions", () => {
  assert.equal(fmtNum(3530565), "3,530,565");
  assert.equal(fmtNum(0.85830587), "0.858");
  assert.equal(fmtNum(142.93), "143");
  assert.equal(fmtNum(8.77e40), "8.77e+40");
  assert.equal(fmtNum("x"), "—");
});
