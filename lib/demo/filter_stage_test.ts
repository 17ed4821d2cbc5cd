import assert from "node:assert/strict";
import { filterStage } from "./filter_stage.ts";
import { createRun } from "../run/run_folder.ts";
import { readDocs, writeDocs } from "../io/jsonl.ts";

Deno.test("filterStage.run() filters crawl.ko.docs (a folder) into one filter.ko.docs file", async () => {
  const dir = await Deno.makeTempDir();
  const text = (topic: string) =>
    `${topic}에 대한 설명입니다. 이 문서는 한국어 문장으로만 이루어져 있으며 규칙 필터를 통과하도록 ` +
    `충분히 긴 내용을 담고 있습니다. 마지막 문장도 마침표로 끝납니다.`;
  await Deno.mkdir(`${dir}/crawl`);
  await writeDocs(`${dir}/crawl/a.jsonl`, [{ id: "a", text: text("사과"), meta: {} }]);
  await writeDocs(`${dir}/crawl/b.jsonl.gz`, [
    {
      id: "b",
      text: "어제는 비가 많이 내려서 집에서 책을 읽었다. 저녁에는 친구와 전화로 오랫동안 " +
        "이야기를 나누었다. 내일은 날씨가 맑아지면 산책을 나갈 생각이다.",
      meta: {},
    },
    { id: "c", text: "English only, removed by the Hangul rule of the paper.", meta: {} },
  ]);
  const run = await createRun({ task: "demo", config: {}, runsDir: dir, gpu: false, echo: false });
  const artifacts = new Map([["crawl.ko.docs", `${dir}/crawl`], ["corpus.ko.docs", "unused"]]);
  const figures = await filterStage.run({ run, cacheDir: dir, quiet: true, artifacts });
  run.close();
  const kept: string[] = [];
  for await (const d of readDocs(artifacts.get("filter.ko.docs")!)) kept.push(d.id);
  assert.deepEqual(kept, ["a", "b"]);
  assert.equal(figures.docs_in, 3);
  assert.equal(figures.docs_out, 2);
  await Deno.remove(dir, { recursive: true });
});
