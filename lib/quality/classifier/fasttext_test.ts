import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import {
  FastText,
  fnv1a,
  parseLabelledLine,
  readLabelledFile,
  splitWords,
  testFastText,
  trainFastText,
  trainFastTextParallel,
} from "./fasttext.ts";
import { readVec } from "./vec.ts";
import { hangulRatio, hangulTask } from "./hangul_task.ts";
import { UserError } from "../../io/errors.ts";
import { fasttextAvailable } from "./testing.ts";

Deno.test("fnv1a() is fastText's FNV-1a: ASCII as textbook, bytes >= 0x80 sign-extended", () => {
  assertEquals(fnv1a(""), 0x811c9dc5);
  assertEquals(fnv1a("a"), 0xe40c292c);
  // "é" is C3 A9: xor with 0xFFFFFFC3 then 0xFFFFFFA9
  let h = 0x811c9dc5;
  for (const b of [0xffffffc3, 0xffffffa9]) h = Math.imul(h ^ b, 0x01000193);
  assertEquals(fnv1a("é"), h >>> 0);
});

Deno.test("splitWords() splits on ASCII whitespace only, as fastText's readWord", () => {
  assertEquals(splitWords(" a\tb\u00a0c\u3000d\r\n"), ["a", "b\u00a0c\u3000d"]);
});

Deno.test("parseLabelledLine() reads __label__ tokens and refuses lines without one", () => {
  assertEquals(parseLabelledLine("__label__a __label__b 한국어 문장", "f:1"), {
    labels: ["a", "b"],
    text: "한국어 문장",
  });
  assertEquals(parseLabelledLine("   ", "f:2"), null);
  let err: Error | undefined;
  try {
    parseLabelledLine("label:a some text", "f.txt:3");
  } catch (e) {
    err = e as Error;
  }
  assert(err instanceof UserError && err.message.startsWith('f.txt:3: no "__label__"'));
});

Deno.test("FastText.features() hashes char n-grams of <word> and word bigrams into buckets", () => {
  const m = new FastText(
    {
      dim: 1,
      epoch: 1,
      lr: 0.1,
      wordNgrams: 2,
      minn: 2,
      maxn: 3,
      bucket: 1000,
      minCount: 1,
      seed: 0,
    },
    ["가나", "</s>"],
    ["x"],
    new Float32Array(1002),
    new Float32Array(1),
  );
  const f = Array.from(m.features("가나"));
  const b = (s: string) => 2 + (fnv1a(s) % 1000);
  // word, its n-grams "<가" "<가나" "가나" "가나>" "나>", then </s>, then the bigram hash.
  assertEquals(f.slice(0, 6), [0, b("<가"), b("<가나"), b("가나"), b("가나>"), b("나>")]);
  assertEquals(f[6], 1);
  assertEquals(f.length, 8);
});

Deno.test("trainFastText() learns a separable task", async () => {
  const data = [];
  for (let i = 0; i < 200; i++) {
    data.push({ labels: ["ko"], text: `한국어 문장 ${i % 7} 입니다` });
    data.push({ labels: ["en"], text: `an english sentence ${i % 5}` });
  }
  const model = trainFastText(data, { dim: 8, epoch: 5, lr: 0.5, minn: 2, maxn: 3, bucket: 5000 });
  assertEquals(testFastText(model, data).p1, 1);
  const p = model.predict("새로운 한국어", 2);
  assertEquals(p[0].label, "ko");
  assertAlmostEquals(p[0].prob + p[1].prob, 1, 1e-9);
  assertEquals(model.meta.labelCounts, [200, 200]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t.txt`, "__label__a x\nno label here\n");
    await assertRejects(() => readLabelledFile(`${dir}/t.txt`), UserError, "t.txt:2:");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hangulTask() labels lines by their share of Hangul letters", () => {
  assertEquals(hangulRatio("서식 - Format"), 2 / 8);
  const ex = hangulTask(
    [{ id: "1", text: "한국어 줄입니다\nEnglish line\n한국어 줄입니다\n123", meta: {} }],
    10,
  );
  assertEquals(ex.length, 2);
  assertEquals(ex.map((e) => e.labels[0]).sort(), ["hangul", "other"]);
});

Deno.test("readVec() reads the .vec file written by fastText's skipgram", async () => {
  if (!(await fasttextAvailable())) return;
  const dir = await Deno.makeTempDir();
  try {
    const words = ["서울", "부산", "대구", "인천", "광주", "대전"];
    const lines = Array.from(
      { length: 200 },
      (_, i) =>
        Array.from({ length: 8 }, (_, j) => words[(i * 5 + j * (i % 4 + 1)) % words.length]).join(
          " ",
        ),
    );
    await Deno.writeTextFile(`${dir}/c.txt`, lines.join("\n") + "\n");
    const out = await new Deno.Command("fasttext", {
      args: [
        "skipgram",
        "-input",
        `${dir}/c.txt`,
        "-output",
        `${dir}/v`,
        "-dim",
        "7",
        "-epoch",
        "1",
        "-minCount",
        "1",
        "-thread",
        "1",
        "-verbose",
        "0",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const { dim, vectors } = await readVec(`${dir}/v.vec`);
    assertEquals(dim, 7);
    for (const w of words) assertEquals(vectors.get(w)?.length, 7);
    assert(vectors.has("</s>"));
    // The same numbers as the file's text.
    const line = (await Deno.readTextFile(`${dir}/v.vec`)).split("\n")[1].trim().split(" ");
    assertAlmostEquals(vectors.get(line[0])![3], Number(line[4]), 1e-6);
    // Pretrained vectors start the classifier's rows of known words.
    const model = trainFastText([{ labels: ["a"], text: "서울 부산" }], { dim: 7, epoch: 0 }, {
      pretrained: vectors,
    });
    assertAlmostEquals(model.input[0], vectors.get("서울")![0], 1e-7);
    // Strict: a wrong count is refused with the line.
    const text = await Deno.readTextFile(`${dir}/v.vec`);
    await Deno.writeTextFile(`${dir}/bad.vec`, text.replace(/^(\d+)/, (n) => String(+n + 1)));
    await assertRejects(() => readVec(`${dir}/bad.vec`), UserError, "header says");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainFastTextParallel() trains with Hogwild workers to the same accuracy", async () => {
  const data = [];
  for (let i = 0; i < 300; i++) {
    data.push({ labels: ["ko"], text: `한국어 문장 ${i % 7} 입니다` });
    data.push({ labels: ["en"], text: `an english sentence ${i % 5}` });
  }
  const args = { dim: 8, epoch: 5, lr: 0.5, minn: 2, maxn: 3, bucket: 5000 };
  const losses: number[] = [];
  const model = await trainFastTextParallel(data, args, {
    threads: 2,
    onEpoch: (_, loss) => losses.push(loss),
  });
  assertEquals(losses.length, 5);
  assert(losses[4] < losses[0], `loss falls: ${losses}`);
  assertEquals(testFastText(model, data).p1, 1);
  assertEquals(model.predict("새로운 한국어")[0].label, "ko");
});
