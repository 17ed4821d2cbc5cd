import assert from "node:assert/strict";
import { Normalize, normalizeText } from "./normalize.ts";
import type { Doc } from "../io/jsonl.ts";

Deno.test("normalizeText() composes conjoining jamo into syllables (NFC)", () => {
  const decomposed = "\u1112\u1161\u11ab\u1100\u1173\u11af"; // 한글 as jamo
  assert.equal(normalizeText(decomposed), "한글");
});

Deno.test("normalizeText() cleans spaces, controls and blank lines", () => {
  assert.equal(
    normalizeText("  가\u3000\u3000나 \r\n\n\n\n다\u200b라\u0007 \n\n"),
    "가 나\n\n다라",
  );
  assert.equal(normalizeText("a\u00a0b\tc"), "a b c");
  assert.equal(normalizeText(" \n \n"), "");
});

Deno.test("Normalize drops documents that normalise to nothing and counts them", async () => {
  const step = new Normalize();
  const docs: Doc[] = [
    { id: "1", text: " 안녕하세요 ", meta: {} },
    { id: "2", text: "\u200b \n ", meta: {} },
  ];
  const removed: string[] = [];
  const out: Doc[] = [];
  const ctx = {
    rank: 0,
    worldSize: 1,
    onRemoved: (d: Doc, s: string, r: string) => {
      removed.push(`${d.id}:${s}:${r}`);
    },
  };
  for await (
    const d of step.run(
      (async function* () {
        yield* docs;
      })(),
      ctx,
    )
  ) out.push(d);
  assert.deepEqual(out.map((d) => d.text), ["안녕하세요"]);
  assert.deepEqual(removed, ["2:normalize:empty"]);
  assert.equal(step.stats.docs_in, 2);
  assert.equal(step.stats.removed.empty, 1);
});
