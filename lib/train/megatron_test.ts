import assert from "node:assert/strict";
import { readShard, ShardWriter, type TokenShard } from "./shards.ts";
import { blendWeights, tokenDtype, writeIndexedDataset } from "./megatron.ts";
import { ROOT, runTask, taskStderrLines } from "../../tasks/_testing.ts";

const READER = `${ROOT}/lib/train/megatron_read.py`;

/** Reads PREFIX with the numpy reader written from Megatron-LM's format description. */
async function pyRead(prefix: string): Promise<{ dtype: string; documents: number[][] }> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [READER, prefix],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

/** The documents of a shard as id lists. */
function docs(s: TokenShard): number[][] {
  const out: number[][] = [];
  for (let d = 0; d + 1 < s.docStarts.length; d++) {
    out.push([...s.tokens.subarray(s.docStarts[d], s.docStarts[d + 1])]);
  }
  return out;
}

async function makeShard(path: string, vocab: number, eos: number, n: number, seed: number) {
  const w = await ShardWriter.open(path, vocab, eos);
  let x = seed;
  for (let d = 0; d < n; d++) {
    const len = d % 7; // empty documents too (eos only)
    const ids: number[] = [];
    for (let i = 0; i < len; i++) {
      ids.push((x = (x * 1103515245 + 12345) % 2147483648) % (vocab - 1));
    }
    await w.addDoc(ids);
  }
  await w.close();
  return await readShard(path);
}

Deno.test("tokenDtype() follows Megatron: uint16 below 65,500 ids, else int32", () => {
  assert.equal(tokenDtype(260), "uint16");
  assert.equal(tokenDtype(65499), "uint16");
  assert.equal(tokenDtype(65500), "int32");
  assert.equal(tokenDtype(137816), "int32");
});

Deno.test("writeIndexedDataset() output reads back to the same ids with numpy (uint16 and int32)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const vocab of [260, 137816]) {
      const shard = await makeShard(`${dir}/s${vocab}.tok`, vocab, vocab - 1, 40, vocab);
      const r = await writeIndexedDataset(shard, `${dir}/s${vocab}_text_document`, vocab);
      const back = await pyRead(`${dir}/s${vocab}_text_document`);
      assert.equal(back.dtype, tokenDtype(vocab));
      assert.equal(r.documents, 40);
      assert.deepEqual(back.documents, docs(shard));
      // int32 ids above 65535 survive
      if (vocab > 65536) assert.ok(back.documents.flat().some((t) => t > 65535));
    }
    // the reader refuses a truncated index
    const idx = await Deno.readFile(`${dir}/s260_text_document.idx`);
    await Deno.writeFile(`${dir}/s260_text_document.idx`, idx.subarray(0, idx.length - 8));
    const bad = await new Deno.Command("/usr/bin/python3", {
      args: [READER, `${dir}/s260_text_document`],
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stderr), /bytes, the header implies/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blendWeights() splits each source's weight by its files' token shares", () => {
  const d = (source: string, tokens: number) => ({
    prefix: "",
    source,
    shard: "",
    documents: 1,
    tokens,
    dtype: "uint16" as const,
  });
  const w = blendWeights([d("en", 100), d("ko", 30), d("ko", 10)], [
    { name: "en", shards: [], weight: 1 },
    { name: "ko", shards: [], weight: 1 },
  ]);
  assert.deepEqual(w, [0.5, 0.375, 0.125]);
});

Deno.test("deno task train export --format megatron writes datasets, the 1:1 blend and a launch recipe", async () => {
  await Deno.mkdir(`${ROOT}/data/cache`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}/data/cache`, prefix: "export-test-" });
  const rel = dir.slice(ROOT.length + 1);
  try {
    const en = await makeShard(`${dir}/en.tok`, 260, 257, 30, 1);
    const ko = await makeShard(`${dir}/ko.tok`, 260, 257, 20, 2);
    const out = await runTask([
      "train",
      "export",
      "--format",
      "megatron",
      "--config",
      "data/configs/train-tiny-cpt.yaml",
      "--model-config",
      "data/configs/llama-tiny.json",
      "--tokenizer",
      `${rel}/tokenizer.json`,
      "--data",
      `en=${rel}/en.tok`,
      "--data",
      `ko=${rel}/ko.tok`,
      "--output",
      `${rel}/mg`,
      "--gpus",
      "4",
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(taskStderrLines(out.stderr), []);
    const recipe = JSON.parse(await Deno.readTextFile(`${dir}/mg/recipe.json`));
    const prefixes = recipe.data_path.filter((_: unknown, i: number) => i % 2 === 1);
    assert.deepEqual(prefixes, [
      `${dir}/mg/data/en-000_text_document`,
      `${dir}/mg/data/ko-000_text_document`,
    ]);
    const weights = recipe.data_path.filter((_: unknown, i: number) => i % 2 === 0);
    assert.deepEqual(weights, [0.5, 0.5]); // en:ko 1:1
    for (const [i, shard] of [en, ko].entries()) {
      assert.deepEqual((await pyRead(prefixes[i])).documents, docs(shard));
    }
    const t = recipe.training;
    assert.deepEqual(
      [t["adam-beta1"], t["adam-beta2"], t["adam-eps"], t["weight-decay"], t["lr-decay-style"]],
      [0.9, 0.95, 1e-5, 0.1, "cosine"],
    );
    assert.deepEqual([t["lr-warmup-iters"], t["train-iters"], t.lr, t["min-lr"]], [
      15,
      150,
      0.002,
      0.002 * 0.1,
    ]);
    assert.equal(t["fp8-format"], "hybrid"); // the preset trains in fp8
    assert.equal(t["fp8-amax-history-len"], 16);
    assert.equal(t["use-distributed-optimizer"], true);
    assert.equal(t["num-query-groups"], 2);
    const script = await Deno.readTextFile(`${dir}/mg/pretrain_megatron.sh`);
    assert.match(
      script,
      /--data-path 0\.5 \S+en-000_text_document 0\.5 \S+ko-000_text_document \\/,
    );
    assert.match(script, /--adam-eps 0\.00001 \\/);
    assert.match(script, /--fp8-format hybrid \\/);
    assert.match(script, /convert_checkpoints\.py export --hf-model "\$OUT\/hf-reference"/);
    assert.equal(t["tokenizer-model"], dir); // the folder of tokenizer.json
    const ref = JSON.parse(await Deno.readTextFile(`${dir}/mg/hf-reference/config.json`));
    assert.equal(ref.vocab_size, 260);
    const check = await new Deno.Command("bash", { args: ["-n", `${dir}/mg/pretrain_megatron.sh`] })
      .output();
    assert.equal(check.code, 0);
    // a shard with ids beyond the model's vocabulary is refused in one line
    await makeShard(`${dir}/big.tok`, 70000, 69999, 3, 4);
    const bad = await runTask([
      "train",
      "export",
      "--model-config",
      "data/configs/llama-tiny.json",
      "--tokenizer",
      "x.json",
      "--data",
      `en=${rel}/big.tok`,
      "--output",
      `${rel}/mg2`,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /big\.tok: ids up to 69999, but the model's vocab_size is 260/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
