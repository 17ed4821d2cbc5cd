import { assertEquals } from "../_assert.ts";
import { NgramCounter, PAD } from "./count.ts";
import { trainNgram } from "./train.ts";
import { KENLM_FALLBACK } from "./estimate.ts";

Deno.test("NgramCounter counts left-padded n-grams from <s>", async () => {
  const c = new NgramCounter({ order: 3 });
  await c.addSentence([3, 4]);
  await c.addSentence([3, 4]);
  const g = await c.finish();
  const rows: string[] = [];
  for (let i = 0; i < g.size; i++) {
    rows.push(`${Array.from(g.rows.subarray(i * 3, i * 3 + 3)).join(",")}:${g.counts[i]}`);
  }
  assertEquals(rows.sort(), [`${PAD},1,3:2`, "1,3,4:2", "3,4,2:2"].sort());
  assertEquals([g.tokens, g.sentences, g.runs], [6, 2, 0]);
});

Deno.test("NgramCounter spills sorted runs to disk and merges them to the same counts", async () => {
  const words = ["가", "나", "다", "라", "마", "바"];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rnd() * 12);
    lines.push(Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]).join(" "));
  }
  const tmpDir = await Deno.makeTempDir();
  try {
    const inMem = await trainNgram(lines, { order: 4, discountFallback: KENLM_FALLBACK });
    const outOfCore = await trainNgram(lines, {
      order: 4,
      discountFallback: KENLM_FALLBACK,
      maxGramsInMemory: 200,
      tmpDir,
    });
    assertEquals(inMem.runs, 0);
    assertEquals(outOfCore.runs > 3, true);
    assertEquals(outOfCore.model.counts(), inMem.model.counts());
    for (const l of lines.slice(0, 50)) {
      const t = l.split(" ");
      assertEquals(
        outOfCore.model.scoreSentence(t).logprob.toFixed(4),
        inMem.model.scoreSentence(t).logprob.toFixed(4),
      );
    }
    assertEquals([...Deno.readDirSync(tmpDir)].length, 0, "run files removed");
  } finally {
    await Deno.remove(tmpDir, { recursive: true });
  }
});
