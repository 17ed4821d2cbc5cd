import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  annotateCommand,
  parsePrune,
  scoreCommand,
  trainClassifierCommand,
  trainLmCommand,
} from "./commands.ts";
import { readArpa } from "./ngram/arpa.ts";
import { loadFastText } from "./classifier/fasttext_bin.ts";
import { buildStep } from "../pipeline/registry.ts";
import { type Doc, readDocs, writeDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";

const SYL = "가나다라마바사아자차카타파하".split("");

const WORDS = SYL.slice(0, 5).flatMap((a) => SYL.slice(0, 5).map((b) => a + b)); // 25 words

/** Documents whose lines run through WORDS in order from a random start ("fluent" text). */
function corpus(n: number, seed = 3, fluent = true): Doc[] {
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const line = () => {
    const k = Math.floor(rnd() * 25), len = 4 + Math.floor(rnd() * 6);
    return Array.from(
      { length: len },
      (_, j) => WORDS[fluent ? (k + j) % 25 : Math.floor(rnd() * 25)],
    ).join(" ");
  };
  return Array.from({ length: n }, (_, i) => ({
    id: `${fluent ? "d" : "noise"}${i}`,
    text: Array.from({ length: 3 }, line).join("\n"),
    meta: {},
  }));
}

Deno.test("parsePrune() extends the last threshold to the remaining orders, as lmplz", () => {
  assertEquals(parsePrune("0 1", 5), [0, 1, 1, 1, 1]);
  assertEquals(parsePrune("0,0,2", 3), [0, 0, 2]);
  assertEquals(parsePrune(" ", 3), undefined);
  for (
    const [text, why] of [["0 2 1", "must not decrease"], ["1", "first threshold must be 0"], [
      "0 0 0 1",
      "4 thresholds for a 3-gram",
    ], ["0 x", "non-negative integers"]]
  ) {
    let err: unknown;
    try {
      parsePrune(text, 3);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UserError && err.message.includes(why), `${text}: ${err}`);
  }
});

Deno.test("trainLmCommand() and scoreCommand() train, bucket and filter documents", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeDocs(`${dir}/train.jsonl`, corpus(200));
    const docs = corpus(100, 11);
    // a few documents of noise that the model should find surprising
    docs.push(...corpus(10, 5, false));
    await writeDocs(`${dir}/docs.jsonl`, docs);
    const r = await trainLmCommand([
      `${dir}/docs.jsonl`,
      `${dir}/m.arpa`,
      "--order",
      "3",
      "--discount-fallback",
      "-q",
    ]);
    assertEquals((r!.ngrams as number[]).length, 3);
    assert((r!.cutoffs as { p30: number; p60: number }).p30 > 0);
    assertEquals((await readArpa(`${dir}/m.arpa`)).order, 3);
    const s = await scoreCommand([
      `${dir}/docs.jsonl`,
      `${dir}/kept.jsonl`,
      "--lm",
      `${dir}/m.arpa`,
      "--removed",
      `${dir}/removed.jsonl`,
      "-q",
    ]);
    const kept: Doc[] = [];
    for await (const d of readDocs(`${dir}/kept.jsonl`)) kept.push(d);
    const removed: Doc[] = [];
    for await (const d of readDocs(`${dir}/removed.jsonl`)) removed.push(d);
    assertEquals(kept.length + removed.length, docs.length);
    assert(
      kept.every((d) => d.meta.ppl_bucket !== "tail" && typeof d.meta.perplexity === "number"),
    );
    assert(removed.filter((d) => d.id.startsWith("noise")).length === 10, "noise is in the tail");
    const stats = (s!.stats as Record<string, { counters: Record<string, number> }>).perplexity;
    assertEquals(
      stats.counters.bucket_head + stats.counters.bucket_middle + stats.counters.bucket_tail,
      docs.length,
    );
    // threshold mode through the registry, with Thunder-LLM's metric
    const step = await buildStep("perplexity", {
      model: `${dir}/m.arpa`,
      mode: "threshold",
      metric: "thunder",
      max_score: 0.1,
    }, "test");
    const out: Doc[] = [];
    for await (
      const d of step.run(
        (async function* () {
          yield* docs;
        })(),
        { rank: 0, worldSize: 1 },
      )
    ) {
      out.push(d);
    }
    assertEquals(out.length, 0);
    await assertRejects(
      () => buildStep("perplexity", { model: `${dir}/m.arpa`, keep: ["top"] }, "p.yaml: steps[0]"),
      UserError,
      "p.yaml: steps[0]",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("annotateCommand() resumes after a kill and trainClassifierCommand() trains on its scores", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const docs: Doc[] = [];
    for (let i = 0; i < 60; i++) {
      docs.push({
        id: `e${i}`,
        text: Array.from(
          { length: 5 },
          () =>
            "표를 만드는 방법을 설명합니다. 예를 들어 셀을 선택한 다음 서식을 사용하여 바꿀 수 있습니다.",
        )
          .join("\n"),
        meta: {},
      });
      docs.push({ id: `n${i}`, text: `광고 ${i} $$$ !!! 클릭 ${i}`, meta: {} });
    }
    await writeDocs(`${dir}/docs.jsonl`, docs);
    // a killed earlier run left two annotated lines
    const first = docs.slice(0, 2).map((d) => JSON.stringify({ ...d, meta: { edu_score: 5 } }));
    await Deno.writeTextFile(`${dir}/ann.jsonl.partial`, first.join("\n") + "\n");
    const a = await annotateCommand([`${dir}/docs.jsonl`, `${dir}/ann.jsonl`, "--heuristic", "-q"]);
    assertEquals(a!.resumed_after, 2);
    assertEquals(a!.annotator, "heuristic (not an LLM)");
    const ann: Doc[] = [];
    for await (const d of readDocs(`${dir}/ann.jsonl`)) ann.push(d);
    assertEquals(ann.length, docs.length);
    assertEquals(ann[5].meta.edu_score_annotator, "heuristic (not an LLM)");
    const t = await trainClassifierCommand([
      `${dir}/ann.jsonl`,
      `${dir}/edu.bin`,
      "--dim",
      "8",
      "--bucket",
      "5000",
      "--epoch",
      "10",
      "--lr",
      "0.5",
    ]);
    assertEquals((t!.rounds as unknown[]).length, 2);
    const model = await loadFastText(`${dir}/edu.bin`);
    assertEquals(model.labels.length, 2);
    await scoreCommand([
      `${dir}/ann.jsonl`,
      `${dir}/kept.jsonl`,
      "--classifier",
      `${dir}/edu.bin`,
      "-q",
    ]);
    const kept: Doc[] = [];
    for await (const d of readDocs(`${dir}/kept.jsonl`)) kept.push(d);
    assertEquals(kept.length, 60);
    assert(kept.every((d) => d.id.startsWith("e")));
    await assertRejects(
      () => annotateCommand([`${dir}/docs.jsonl`, `${dir}/x.jsonl`]),
      UserError,
      "--url",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("edu_quality refuses a classifier without the edu label before it removes every document", async () => {
  const { trainFastText } = await import("./classifier/fasttext.ts");
  const { saveFastText } = await import("./classifier/fasttext_bin.ts");
  const dir = await Deno.makeTempDir();
  const model = trainFastText(
    [{ labels: ["good"], text: "가나 다라" }, { labels: ["bad"], text: "마바 사아" }],
    { epoch: 1 },
  );
  await saveFastText(model, `${dir}/other.bin`);
  await assertRejects(
    () => buildStep("edu_quality", { model: `${dir}/other.bin` }, "--classifier"),
    UserError,
    'labels are "bad", "good", not "edu": it would remove every document',
  );
  await Deno.remove(dir, { recursive: true });
});
