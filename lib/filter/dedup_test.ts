import assert from "node:assert/strict";
import {
  clusterRuns,
  type DedupOptions,
  DedupSigner,
  DedupStep,
  duplicateIds,
  EXACT_DUPLICATE,
  KEEP,
  NEAR_DUPLICATE,
  UnionFind,
} from "./dedup.ts";
import { MINHASH_DEFAULTS } from "./minhash.ts";
import { EDIT_RATES, evaluateDedup } from "./dedup_eval.ts";
import { generateNearDupSet } from "./near_dup_set.ts";
import type { Doc } from "../io/jsonl.ts";

const CPU: DedupOptions = { exact: true, minhash: MINHASH_DEFAULTS, device: "cpu" };

Deno.test("UnionFind keeps the smallest member as root", () => {
  const uf = new UnionFind(6);
  uf.union(4, 2);
  uf.union(5, 4);
  uf.union(3, 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => uf.find(i)), [0, 1, 2, 1, 2, 2]);
});

async function decide(docs: Doc[], shards: number, options = CPU, runRecords?: number) {
  const dir = await Deno.makeTempDir();
  const dirs: string[] = [];
  for (let s = 0; s < shards; s++) {
    const signer = await DedupSigner.open(`${dir}/s${s}`, s, {
      ...options,
      run_records: runRecords,
    });
    for (let i = s; i < docs.length; i += shards) await signer.add(docs[i]);
    await signer.close();
    dirs.push(`${dir}/s${s}`);
  }
  const targets: Int32Array[] = [];
  const perShard = await clusterRuns(dirs, undefined, targets);
  const ids = await duplicateIds(dirs, targets);
  await Deno.remove(dir, { recursive: true });
  // back to input order; each removed document names the one it duplicates, which is kept
  const decisions = docs.map((_, i) => perShard[i % shards][Math.floor(i / shards)]);
  const duplicateOf = docs.map((_, i) => ids.get(targets[i % shards][Math.floor(i / shards)]));
  const byId = new Map(docs.map((d, i) => [d.id, i]));
  decisions.forEach((d, i) => {
    assert.equal(duplicateOf[i] === undefined, d === KEEP, `doc ${docs[i].id}`);
    if (d !== KEEP) assert.equal(decisions[byId.get(duplicateOf[i]!)!], KEEP);
  });
  lastDuplicateOf = duplicateOf;
  return decisions;
}

let lastDuplicateOf: (string | undefined)[] = [];

Deno.test("clusterRuns() removes exact copies and near duplicates, keeping the first", async () => {
  const a =
    "대한민국의 수도는 서울이며 가장 큰 도시이다 인구는 약 천만 명이다 한강이 도시를 가로지른다 " +
    "서울에는 궁궐과 박물관이 많고 지하철이 도시 곳곳을 연결한다 봄에는 벚꽃이 피고 가을에는 단풍이 " +
    "아름답다 많은 사람들이 주말마다 한강 공원에서 산책을 즐긴다.";
  const docs: Doc[] = [
    { id: "0", text: a, meta: {} },
    {
      id: "1",
      text: "전혀 다른 문서 입니다 여기에는 다른 내용이 들어 있습니다 서로 겹치지 않아요.",
      meta: {},
    },
    { id: "2", text: a, meta: {} },
    { id: "3", text: a + " 끝", meta: {} },
    { id: "4", text: "", meta: {} },
  ];
  assert.deepEqual(await decide(docs, 1), [KEEP, KEEP, EXACT_DUPLICATE, NEAR_DUPLICATE, KEEP]);
  assert.deepEqual(lastDuplicateOf, [undefined, undefined, "0", "0", undefined]);
});

Deno.test("clusterRuns() decides the same with 3 shards and tiny spilled runs as with one", async () => {
  const { docs } = generateNearDupSet(4, 150, (i) => [0, 0.01, 0.3][i % 3], 80);
  docs.push(...docs.slice(0, 10).map((d) => ({ ...d, id: d.id + "copy" })));
  const one = await decide(docs, 1);
  const three = await decide(docs, 3, CPU, 50);
  // shard order changes which copy is "first"; the number removed must not change
  const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;
  for (const v of [KEEP, EXACT_DUPLICATE, NEAR_DUPLICATE]) {
    assert.equal(count(three, v), count(one, v));
  }
  assert.ok(count(one, EXACT_DUPLICATE) >= 50, `exact ${count(one, EXACT_DUPLICATE)}`);
  assert.ok(count(one, NEAR_DUPLICATE) >= 20, `near ${count(one, NEAR_DUPLICATE)}`);
});

async function f1On(
  rates: (i: number, rnd: () => number) => number,
  seed: number,
  verify = 0,
) {
  const r = await evaluateDedup(rates, seed, { verify });
  console.log(
    `verify ${verify}: pairs ${r.pairs}, true J ≥ 0.8: ${r.positives}; precision ` +
      `${r.precision.toFixed(3)} recall ${r.recall.toFixed(3)} F1 ${r.f1.toFixed(3)}`,
  );
  // bases are unrelated: none may be removed
  assert.equal(r.basesRemoved, 0);
  return r.f1;
}

Deno.test("MinHash-LSH dedup: F1 ≥ 0.95 against true Jaccard ≥ 0.8 when pairs are copies or loosely related", async () => {
  // half the variants are light edits (0–1.5% of words), half heavy (10–30%)
  const f1 = await f1On(EDIT_RATES.split, 8);
  assert.ok(f1 >= 0.95, `F1 ${f1}`);
});

Deno.test("MinHash-LSH dedup: F1 ≥ 0.8 against true Jaccard ≥ 0.8 with many pairs near the threshold", async () => {
  // edit rates 0–30%, skewed low: a third of the pairs have Jaccard 0.5–0.8, where 14×8 LSH
  // still fires with probability 0.05–0.77 (its threshold (1/14)^(1/8) ≈ 0.72)
  const f1 = await f1On(EDIT_RATES.hard, 9);
  assert.ok(f1 >= 0.8, `F1 ${f1}`);
});

Deno.test("MinHash-LSH dedup with verify 0.8: F1 ≥ 0.95 with many pairs near the threshold", async () => {
  // the same hard set; joining only pairs whose signatures agree on ≥ 80% of permutations
  const f1 = await f1On(EDIT_RATES.hard, 9, 0.8);
  assert.ok(f1 >= 0.95, `F1 ${f1}`);
});

Deno.test("DedupSigner with 2 worker threads decides exactly as with one", async () => {
  const { docs } = generateNearDupSet(12, 120, (i) => [0, 0.01, 0.3][i % 3], 80);
  const one = await decide(docs, 1, { ...CPU, batch_docs: 25 });
  const two = await decide(docs, 1, { ...CPU, threads: 2, batch_docs: 25 });
  assert.deepEqual(two, one);
});

Deno.test("clusterRuns() with verify reads signatures of every shard back by position", async () => {
  const { docs } = generateNearDupSet(5, 120, (i) => [0.005, 0.02, 0.3][i % 3], 80);
  docs.splice(7, 0, { id: "empty", text: "", meta: {} }); // a document without shingles
  const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;
  const one = await decide(docs, 1, { ...CPU, verify: 0.8 });
  const three = await decide(docs, 3, { ...CPU, verify: 0.8 }, 50);
  const plain = await decide(docs, 1, CPU);
  assert.equal(count(three, EXACT_DUPLICATE), count(one, EXACT_DUPLICATE));
  // which member heads a bucket depends on the shard layout: allow a small difference
  assert.ok(Math.abs(count(three, NEAR_DUPLICATE) - count(one, NEAR_DUPLICATE)) <= 3);
  // verification only ever removes joins
  assert.ok(count(one, NEAR_DUPLICATE) <= count(plain, NEAR_DUPLICATE));
  assert.ok(count(one, NEAR_DUPLICATE) >= 15, `near ${count(one, NEAR_DUPLICATE)}`);
});

Deno.test("DedupStep runs alone and reports removed documents with their reason", async () => {
  const step = new DedupStep("minhash_dedup", CPU);
  const text = "하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열 열하나 열둘.";
  const docs: Doc[] = [
    { id: "a", text, meta: {} },
    { id: "b", text, meta: {} },
    {
      id: "c",
      text: "완전히 다른 문장 들로 이루어진 문서 하나 가 여기 있습니다 그리고 더 있습니다.",
      meta: {},
    },
  ];
  const removed: string[] = [];
  const kept: string[] = [];
  const workDir = await Deno.makeTempDir();
  for await (
    const d of step.run(
      (async function* () {
        yield* docs;
      })(),
      {
        rank: 0,
        worldSize: 1,
        workDir,
        onRemoved: (doc, s, r, detail) => {
          removed.push(`${doc.id}:${s}:${r}:${detail?.duplicate_of}`);
        },
      },
    )
  ) kept.push(d.id);
  assert.deepEqual(kept, ["a", "c"]);
  assert.deepEqual(removed, ["b:minhash_dedup:exact_duplicate:a"]);
  assert.equal(step.stats.removed.exact_duplicate, 1);
  await Deno.remove(workDir, { recursive: true });
});

Deno.test("clusterRuns() refuses a truncated signature file and a missing shard index", async () => {
  const dir = await Deno.makeTempDir();
  const signer = await DedupSigner.open(`${dir}/s0`, 0, { ...CPU, verify: 0.8 });
  const text = "가나다 라마바 사아자 차카타 파하 가나 다라 마바 사아 자차 카타 파하.";
  await signer.add({ id: "1", text, meta: {} });
  await signer.add({ id: "2", text, meta: {} });
  await signer.close();
  const sig = `${dir}/s0/signatures.bin`;
  const bytes = await Deno.readFile(sig);
  await Deno.writeFile(sig, bytes.subarray(0, bytes.length - 4));
  await assert.rejects(() => clusterRuns([`${dir}/s0`]), /not a complete signature file/);
  await assert.rejects(() => clusterRuns([`${dir}/nope`]), /index.json: missing/);
  await Deno.remove(dir, { recursive: true });
});
