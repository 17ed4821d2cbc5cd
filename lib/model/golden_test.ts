import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import {
  compareToGolden,
  f32Tolerance,
  GOLDEN_K,
  GOLDEN_TINY,
  type GoldenComparison,
  pytorchFolderScores,
  readGolden,
} from "./golden.ts";
import { paramShapes } from "./params.ts";
import { createLlama } from "./backend.ts";
import type { OpName } from "./ops.ts";
import { gpuTest } from "../gpu/testing.ts";

Deno.test("readGolden() reads every tensor with the shapes paramShapes() gives", async () => {
  const g = await readGolden(GOLDEN_TINY);
  const V = g.config.vocab_size;
  assert.equal(g.tokens.length, g.B * g.T);
  assert.equal(g.targets.length, g.B * g.T);
  assert.equal(g.logits.length, g.B * g.T * V);
  assert.ok(Number.isFinite(g.loss) && g.loss > 0);
  assert.ok(g.config.num_key_value_heads < g.config.num_attention_heads, "exercises GQA");
  assert.equal(g.config.rope_scaling?.rope_type, "llama3");
  assert.ok(g.targets.includes(-1), "has ignored targets");
  const shapes = paramShapes(g.config);
  assert.deepEqual([...g.params.keys()].sort(), shapes.map(([n]) => n).sort());
  assert.deepEqual([...g.grads.keys()].sort(), shapes.map(([n]) => n).sort());
  for (const [name, shape] of shapes) {
    assert.deepEqual(g.shapes.get(name), shape, name);
    assert.deepEqual(g.shapes.get("grad." + name), shape, "grad." + name);
  }
});

Deno.test("readGolden() refuses a truncated or foreign file with one line naming it", async () => {
  const bytes = await Deno.readFile(GOLDEN_TINY);
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, Uint8Array, RegExp][] = [
      ["truncated.bin", bytes.slice(0, bytes.length - 4), /runs past the end of the file/],
      ["short.bin", bytes.slice(0, 8), /shorter than the 12-byte golden header/],
      ["magic.bin", Uint8Array.from(bytes, (b, i) => (i === 0 ? b ^ 0xff : b)), /magic 0x/],
      ["version.bin", Uint8Array.from(bytes, (b, i) => (i === 4 ? 2 : b)), /version 2/],
      ["header.bin", Uint8Array.from(bytes, (b, i) => (i === 11 ? 0x7f : b)), /header length/],
    ];
    for (const [name, data, why] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, data);
      await assert.rejects(readGolden(path), (err: Error) => {
        assert.ok(err instanceof UserError, `${name}: ${err}`);
        assert.ok(err.message.startsWith(path + ": "), err.message);
        assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
        assert.match(err.message, why);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compareToGolden() reports the first pairs over the limit and the largest differences", () => {
  const c = compareToGolden("t", [1, 2.5, 3, NaN], [1, 2, 3, 4], 0.1);
  assert.equal(c.ok, false);
  assert.equal(c.maxAbs, Infinity);
  assert.equal(c.maxAbsAt, 3);
  assert.match(c.report, /\[1\] got 2.5 want 2, \[3\] got NaN want 4/);
  assert.equal(compareToGolden("t", [1, 2], [1, 2, 3], 1).ok, false);
  assert.equal(compareToGolden("t", [1, 2 + 1e-9], [1, 2], f32Tolerance([1, 2], 1)).ok, true);
});

/**
 * Tolerances: an f32 implementation against the f64 golden values, max |got − want| ≤
 * GOLDEN_K · u · max|want| per tensor (u = 2^-24, GOLDEN_K = 128: see golden.ts for the
 * derivation from PyTorch's own f32 error on this file), e.g. ≈ 3.7e-5 for the logits
 * (max|want| 4.8) and ≈ 2e-6 for the layer-0 norm weight's gradient (max|want| 0.18).
 */
async function checkBackend(device: "cpu" | "gpu", refOps: OpName[] = []) {
  const g = await readGolden(GOLDEN_TINY);
  const model = await createLlama(g.config, g.params, { device, refOps });
  const batch = { B: g.B, T: g.T, tokens: g.tokens };
  const logits = await model.logits(await model.forward(batch));
  const grads = model.zeroGrads();
  const res = await model.backward(
    await model.forward(batch, { grad: true }),
    { targets: g.targets },
    grads,
  );
  assert.equal(res.count, g.targets.filter((t) => t >= 0).length);
  const out: GoldenComparison[] = [
    compareToGolden("logits", logits, g.logits, f32Tolerance(g.logits, GOLDEN_K)),
    compareToGolden("loss", [res.loss], [g.loss], f32Tolerance([g.loss], GOLDEN_K)),
  ];
  for (const [name, want] of g.grads) {
    const got = await model.ops.read(grads.get(name)!);
    out.push(compareToGolden("grad." + name, got, want, f32Tolerance(want, GOLDEN_K)));
  }
  model.ops.free(...grads.values());
  model.destroy();
  if (Deno.env.get("GOLDEN_VERBOSE")) { for (const c of out) console.log(device, c.report); }
  const failed = out.filter((c) => !c.ok);
  assert.equal(failed.length, 0, "\n" + failed.map((c) => c.report).join("\n"));
}

Deno.test("Llama on the CPU backend (fp32) matches the PyTorch f64 golden file: logits, loss, every gradient", () =>
  checkBackend("cpu"));

gpuTest(
  "Llama on the GPU backend (fp32) matches the PyTorch f64 golden file: logits, loss, every gradient",
  () => checkBackend("gpu"),
);

gpuTest(
  "Llama on the GPU with --ref-ops attention,rmsnorm,head matches the golden file",
  () => checkBackend("gpu", ["attention", "rmsnorm", "head"]),
);

Deno.test("a folder saveModel() writes (tied f32, untied bf16) gives PyTorch the logits Jikji computes", async () => {
  const { saveModel, loadModel } = await import("./hf_folder.ts");
  const { initParams } = await import("./params.ts");
  const { parseLlamaConfig } = await import("./config.ts");
  const tokens = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 0, 6, 11]];
  for (const [tied, dtype] of [[true, "F32"], [false, "BF16"]] as const) {
    const dir = await Deno.makeTempDir({ prefix: "golden-folder-" });
    const cfg = parseLlamaConfig({
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 24,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      max_position_embeddings: 64,
      tie_word_embeddings: tied,
    });
    await saveModel(dir, cfg, initParams(cfg, 7, 0.2), { dtype });
    const ref = await pytorchFolderScores(dir, tokens);
    if (ref === null) return;
    const loaded = await loadModel(dir); // what Jikji reads back (bf16 values exactly)
    const model = await createLlama(loaded.cfg, loaded.params, { device: "cpu" });
    const B = tokens.length, T = tokens[0].length, V = cfg.vocab_size;
    const pass = await model.forward({ B, T, tokens: tokens.flat() });
    const got = await model.logits(pass);
    model.release(pass);
    model.destroy();
    const want = Float32Array.from(ref.logits!.flat(2));
    assert.equal(got.length, B * T * V);
    const tol = f32Tolerance(want, GOLDEN_K);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst <= tol, `tied ${tied} ${dtype}: max |jikji − pytorch| ${worst} > ${tol}`);
    await Deno.remove(dir, { recursive: true });
  }
});
