import assert from "node:assert/strict";
import { MixedLoader, type Source } from "./data.ts";
import type { TokenShard } from "./shards.ts";

function shard(name: string, base: number, docs: number, len: number): TokenShard {
  const tokens = new Uint32Array(docs * len).map((_, i) => base + (i % 50));
  const docStarts = new Float64Array(docs + 1).map((_, i) => i * len);
  return { path: name, tokens, docStarts, vocabSize: 1000, eosId: -1 };
}

const sources = (): Source[] => [
  { name: "en", shards: [shard("en", 0, 100, 40)], weight: 1 },
  { name: "ko", shards: [shard("ko", 500, 100, 40)], weight: 1 },
];

Deno.test("MixedLoader.next() packs shifted windows and mixes 1:1 deterministically", () => {
  const a = new MixedLoader(sources(), 4, 16, 7);
  const b = new MixedLoader(sources(), 4, 16, 7);
  const counts: Record<string, number> = { en: 0, ko: 0 };
  for (let i = 0; i < 500; i++) {
    const x = a.next(), y = b.next();
    assert.deepEqual(x, y);
    for (const s of x.sources) counts[s]++;
    for (let t = 0; t + 1 < 16; t++) assert.equal(x.targets[t], x.tokens[t + 1]);
  }
  const share = counts.ko / (counts.en + counts.ko);
  assert.ok(share > 0.45 && share < 0.55, `ko share ${share}`);
  const c = new MixedLoader(sources(), 4, 16, 8);
  assert.notDeepEqual(
    c.next().sources.concat(c.next().sources),
    b.next().sources.concat(b.next().sources),
  );
});

Deno.test("MixedLoader honours weights and restores its state exactly", () => {
  const src = sources();
  src[1].weight = 3;
  const a = new MixedLoader(src, 2, 8, 1);
  let ko = 0, n = 0;
  for (let i = 0; i < 400; i++) for (const s of a.next().sources) (n++, ko += s === "ko" ? 1 : 0);
  assert.ok(Math.abs(ko / n - 0.75) < 0.05, `ko share ${ko / n}`);
  const st = JSON.parse(JSON.stringify(a.state()));
  const want = [a.next(), a.next()];
  const b = new MixedLoader(src, 2, 8, 999);
  b.restore(st);
  assert.deepEqual([b.next(), b.next()], want);
});

Deno.test("MixedLoader.valBatches() reads only the held-out tail documents", () => {
  const src: Source[] = [{ name: "en", shards: [shard("en", 0, 20, 10)], weight: 1 }];
  src[0].shards[0].tokens[190] = 999; // inside the last (held-out) document
  const l = new MixedLoader(src, 2, 4, 1, 0.05);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) for (const t of l.next().tokens) seen.add(t);
  assert.ok(!seen.has(999));
  const val = [...l.valBatches("en", 10)];
  assert.ok(val.length >= 1);
  assert.ok(val.some((b) => [...b.tokens].includes(999)));
});
