import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { type FastText, LABEL_PREFIX, parseLabelledLine, trainFastText } from "./fasttext.ts";
import { loadFastText, saveFastText } from "./fasttext_bin.ts";
import { fasttextAvailable, labelledLines } from "./testing.ts";
import { UserError } from "../../io/errors.ts";

/** `fasttext predict-prob MODEL TEST 3`, one line per test line: [[label, prob], …]. */
async function fasttextPredict(model: string, test: string): Promise<[string, number][][]> {
  const out = await new Deno.Command("fasttext", {
    args: ["predict-prob", model, test, "3"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => {
    const t = l.split(" "), row: [string, number][] = [];
    for (let i = 0; i < t.length; i += 2) row.push([t[i], Number(t[i + 1])]);
    return row;
  });
}

/**
 * Jikji's predictions equal fastText's: the same best label on every line and each printed
 * probability within 1e-4 (fastText prints p + 1e-5 with 6 digits).
 */
function assertSamePredictions(model: FastText, lines: string[], theirs: [string, number][][]) {
  assertEquals(theirs.length, lines.length);
  lines.forEach((line, i) => {
    const ours = model.predict(parseLabelledLine(line, "test")!.text, 3);
    assertEquals(LABEL_PREFIX + ours[0].label, theirs[i][0][0], `line ${i + 1}: ${line}`);
    for (const [label, prob] of theirs[i]) {
      const p = ours.find((o) => LABEL_PREFIX + o.label === label)!;
      assertAlmostEquals(p.prob + 1e-5, prob, 1e-4, `line ${i + 1} ${label}`);
    }
  });
}

Deno.test("saveFastText() writes fastText's .bin: `fasttext predict` gives Jikji's predictions", async () => {
  if (!(await fasttextAvailable())) return;
  const dir = await Deno.makeTempDir();
  try {
    const train = labelledLines(600, 1), test = labelledLines(200, 2);
    const model = trainFastText(train.map((l) => parseLabelledLine(l, "train")!), {
      dim: 8,
      epoch: 10,
      lr: 0.5,
      wordNgrams: 2,
      minn: 2,
      maxn: 4,
      bucket: 2000,
    });
    await saveFastText(model, `${dir}/jikji.bin`);
    await Deno.writeTextFile(`${dir}/test.txt`, test.join("\n") + "\n");
    assertSamePredictions(
      model,
      test,
      await fasttextPredict(`${dir}/jikji.bin`, `${dir}/test.txt`),
    );
    // fastText's own evaluation reads it too
    const out = await new Deno.Command("fasttext", {
      args: ["test", `${dir}/jikji.bin`, `${dir}/test.txt`],
      stdout: "piped",
    }).output();
    assert(new TextDecoder().decode(out.stdout).startsWith("N\t200\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFastText() reads models `fasttext supervised` trained (softmax, hs, ova): same predictions, same bytes when saved again", async () => {
  if (!(await fasttextAvailable())) return;
  const dir = await Deno.makeTempDir();
  try {
    const test = labelledLines(200, 2);
    await Deno.writeTextFile(`${dir}/train.txt`, labelledLines(600, 1).join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/test.txt`, test.join("\n") + "\n");
    for (
      const [loss, ngrams] of [["softmax", ["2", "2", "4"]], ["hs", ["3", "1", "3"]], ["ova", [
        "1",
        "0",
        "0",
      ]]] as const
    ) {
      const args = ["supervised", "-input", `${dir}/train.txt`, "-output", `${dir}/${loss}`];
      args.push("-dim", "8", "-epoch", "10", "-lr", "0.5", "-bucket", "1000", "-loss", loss);
      args.push("-wordNgrams", ngrams[0], "-minn", ngrams[1], "-maxn", ngrams[2]);
      args.push("-thread", "1", "-verbose", "0");
      const out = await new Deno.Command("fasttext", { args, stderr: "piped" }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const model = await loadFastText(`${dir}/${loss}.bin`);
      assertEquals(model.meta.loss, loss);
      assertSamePredictions(
        model,
        test,
        await fasttextPredict(`${dir}/${loss}.bin`, `${dir}/test.txt`),
      );
      await saveFastText(model, `${dir}/${loss}.again.bin`);
      assertEquals(
        await Deno.readFile(`${dir}/${loss}.again.bin`),
        await Deno.readFile(`${dir}/${loss}.bin`),
        `${loss}: saved again, byte for byte`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFastText() refuses truncated, foreign, quantized and trailing-garbage files in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = trainFastText([{ labels: ["a"], text: "가 나" }, { labels: ["b"], text: "다" }], {
      dim: 4,
    });
    await saveFastText(model, `${dir}/m.bin`);
    const back = await loadFastText(`${dir}/m.bin`);
    assertEquals([back.words, back.labels], [model.words, model.labels]);
    assertEquals(back.input, model.input);
    const bytes = await Deno.readFile(`${dir}/m.bin`);
    const bad = async (name: string, b: Uint8Array, why: string) => {
      await Deno.writeFile(`${dir}/${name}`, b);
      await assertRejects(() => loadFastText(`${dir}/${name}`), UserError, why);
    };
    await bad("cut.bin", bytes.subarray(0, bytes.length - 4), "truncated");
    await bad("head.bin", bytes.subarray(0, 30), "truncated");
    await bad("long.bin", Uint8Array.from([...bytes, 0]), "1 bytes after");
    const magic = bytes.slice();
    magic[0] ^= 1;
    await bad("magic.bin", magic, "wrong magic number");
    const version = bytes.slice();
    version[4] = 11;
    await bad("version.bin", version, "format version 11");
    // the input matrix's quantization flag sits before its 16-byte shape and the two matrices
    const quant = bytes.slice();
    quant[bytes.length - (17 + 4 * model.output.length) - (16 + 4 * model.input.length) - 1] = 1;
    await bad("quant.bin", quant, "quantized input matrix");
    await assertRejects(() => loadFastText(`${dir}/none.bin`), UserError, "no such file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
