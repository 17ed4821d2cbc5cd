import assert from "node:assert/strict";
import { parseShard, readShard, ShardWriter } from "./shards.ts";

Deno.test("ShardWriter and readShard() round-trip ids and the document index", async () => {
  const dir = await Deno.makeTempDir();
  const w = await ShardWriter.open(`${dir}/a.tok`, 100, 99);
  await w.addDoc([1, 2, 3]);
  await w.addDoc([]);
  await w.addDoc([7]);
  await w.close();
  const s = await readShard(`${dir}/a.tok`);
  assert.deepEqual([...s.tokens], [1, 2, 3, 99, 99, 7, 99]);
  assert.deepEqual([...s.docStarts], [0, 4, 5, 7]);
  assert.equal(s.vocabSize, 100);
  assert.equal(s.eosId, 99);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseShard() refuses truncated, mislabelled and out-of-vocabulary shards", async () => {
  const dir = await Deno.makeTempDir();
  const w = await ShardWriter.open(`${dir}/a.tok`, 10, null);
  await w.addDoc([1, 2, 3]);
  await w.close();
  const good = await Deno.readFile(`${dir}/a.tok`);
  assert.equal(good.length, 64 + 12 + 16);
  assert.throws(
    () => parseShard(good.slice(0, good.length - 1), "x.tok"),
    /x\.tok: .*header says 3 tokens/,
  );
  const magic = good.slice();
  magic[0] = 0;
  assert.throws(() => parseShard(magic, "x.tok"), /wrong magic/);
  const ver = good.slice();
  ver[8] = 2;
  assert.throws(() => parseShard(ver, "x.tok"), /version 2/);
  const oov = good.slice();
  oov[64] = 50;
  assert.throws(() => parseShard(oov, "x.tok"), /id 50 ≥ vocab_size 10/);
  await Deno.remove(dir, { recursive: true });
});
