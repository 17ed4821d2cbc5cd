/**
 * `deno task crawl run --world N`: hosts split among ranks by a stable hash, each rank a crawl of
 * its own, `crawl merge` joining them — the same pages as one crawl, each host in one rank only.
 */

import assert from "node:assert/strict";
import { readDocsFrom } from "../lib/io/jsonl.ts";
import { crawl, type CrawlSummary, hostRank } from "../lib/crawl/crawler.ts";
import { rankDir } from "../lib/crawl/ranks.ts";
import { defaultCrawlConfig } from "../lib/crawl/spec.ts";
import { startTestSite } from "../lib/crawl/testing.ts";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

Deno.test("hostRank() is a stable hash of the lower-cased host", () => {
  assert.deepEqual(
    [hostRank("example.kr", 4), hostRank("news.example.kr", 4), hostRank("blog.naver.com", 8)],
    [0, 1, 2],
  );
  assert.equal(hostRank("EXAMPLE.kr", 4), hostRank("example.kr", 4));
});

async function urls(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) files.push(`${dir}/${e.name}`);
  const out: string[] = [];
  for await (const d of readDocsFrom(files.sort())) out.push(d.meta.url as string);
  return out.sort();
}

Deno.test("deno task crawl --world 3 splits hosts among ranks; the merge equals one crawl", async () => {
  const sites = await Promise.all([0, 1, 2, 3].map(() => startTestSite({ chainPages: 4 })));
  await Deno.mkdir(`${ROOT}/data/cache`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}/data/cache`, prefix: "crawl-ranks-test-" });
  const rel = dir.slice(ROOT.length + 1);
  try {
    const seeds = sites.map((s) => `${s.origin}/p/0.html`);
    const settings = { include: ["/p/\\d+\\.html$"], delay: 0, max_depth: 10 };
    await Deno.writeTextFile(
      `${dir}/crawl.json`,
      JSON.stringify({ seeds, ...settings, docs_per_shard: 2 }),
    );
    const r = await runTask(["crawl", "run", "--config", `${rel}/crawl.json`]
      .concat(["--out", `${rel}/job`, "--world", "3", "-q"]));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(taskStderrLines(r.stderr), []);
    const hosts = sites.map((s) => new URL(s.origin).host);
    for (let rank = 0; rank < 3; rank++) {
      const s: CrawlSummary = JSON.parse(
        await Deno.readTextFile(`${rankDir(`${dir}/job`, rank)}/summary.json`),
      );
      const want = hosts.filter((h) => hostRank(h, 3) === rank).sort();
      assert.deepEqual(Object.keys(s.hosts).sort(), want, `rank ${rank}`);
    }
    // the same crawl in one process
    await crawl(defaultCrawlConfig({ seeds, ...settings }), { out: `${dir}/one` });
    const merged = JSON.parse(await Deno.readTextFile(`${dir}/job/summary.json`));
    assert.equal(merged.docs, 16);
    assert.deepEqual(Object.keys(merged.hosts).sort(), [...hosts].sort());
    assert.deepEqual(await urls(`${dir}/job/docs`), await urls(`${dir}/one/docs`));
  } finally {
    for (const s of sites) await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
