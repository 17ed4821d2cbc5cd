import assert from "node:assert/strict";
import { charF1, maxOverGolds, squadExact, squadF1 } from "./metrics.ts";

const SAMPLE: { pred: string; golds: string[] }[] = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/squad_sample.json", import.meta.url)),
);

/** [exact, f1, char_f1] per sample, printed by `python3 lib/eval/squad_reference.py`. */
const EXPECTED: [number, number, number][] = [
  [1, 1.0, 0.88],
  [1, 1.0, 1.0],
  [0, 0.5, 0.444444444444],
  [0, 0.666666666667, 0.625],
  [0, 0.0, 0.0],
  [1, 0.0, 0.666666666667],
  [0, 0.4, 0.969696969697],
  [1, 1.0, 0.88],
  [0, 0.0, 0.727272727273],
  [0, 0.5, 0.761904761905],
  [0, 0.666666666667, 0.666666666667],
  [0, 0.5, 0.909090909091],
  [0, 0.0, 1.0],
  [0, 0.0, 0.625],
  [0, 0.0, 1.0],
  [0, 0.0, 0.888888888889],
  [1, 1.0, 1.0],
];

function ours(): [number, number, number][] {
  return SAMPLE.map(({ pred, golds }) => [
    maxOverGolds(squadExact, pred, golds),
    maxOverGolds(squadF1, pred, golds),
    maxOverGolds(charF1, pred, golds),
  ]);
}

Deno.test("squadF1() / squadExact() / charF1() equal the SQuAD v1.1 and KorQuAD reference on a sample", () => {
  assert.equal(EXPECTED.length, SAMPLE.length);
  ours().forEach((got, i) => {
    for (let k = 0; k < 3; k++) {
      assert.ok(
        Math.abs(got[k] - EXPECTED[i][k]) < 1e-11,
        `sample ${i} ${JSON.stringify(SAMPLE[i])}: ${["exact", "f1", "char_f1"][k]} ${got[k]} vs ${
          EXPECTED[i][k]
        }`,
      );
    }
  });
});

Deno.test("the committed expected values are what squad_reference.py prints (where python3 exists)", async () => {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("python3", {
      args: [new URL("./squad_reference.py", import.meta.url).pathname],
      stdout: "piped",
    }).output();
  } catch {
    console.warn("%cSKIPPED: no python3 to rerun lib/eval/squad_reference.py", "color: red");
    return;
  }
  assert.equal(out.code, 0);
  const rows = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.exact, r.f1, r.char_f1]), EXPECTED);
});
