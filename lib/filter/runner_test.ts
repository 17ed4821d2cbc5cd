import assert from "node:assert/strict";
import { type Doc, readDocs, readJsonl, writeDocs } from "../io/jsonl.ts";
import { FilterRunner, parseShard, type PipelineSpec } from "./runner.ts";
import { UserError } from "../io/errors.ts";

const PROSE = [
  "오늘은 날씨가 맑고 따뜻해서 공원에 산책을 나갔습니다. 많은 사람들이 자전거를 타고 있었어요.",
  "도서관에서 새로 나온 소설을 빌려 읽었다. 이야기가 흥미로워서 밤늦게까지 읽게 되었다.",
  "회의는 오후 세 시에 시작합니다. 담당자 메일 kim@naver.com 으로 자료를 보내 주세요. " +
  "회의실은 본관 삼층에 있으며 참석자는 미리 발표 자료를 읽어 오시기 바랍니다. " +
  "회의가 끝난 뒤에는 간단한 다과가 준비되어 있으니 편하게 머물러 주시기 바랍니다.",
  "시장에 가서 채소와 과일을 샀습니다. 가격이 지난주보다 조금 올랐지만 신선했어요.",
  "새 학기가 시작되어 학생들이 교실로 돌아왔다. 선생님들은 수업 준비로 바쁘게 움직였다.",
  "주말에는 가족과 함께 바닷가에 다녀왔습니다. 파도 소리를 들으며 오래 이야기를 나눴어요.",
];

const PIPELINE: PipelineSpec = [
  { normalize: {} },
  { line_punctuation: {} },
  { rules: { min_words: 5 } },
  { pii: {} },
  { exact_dedup: {} },
  { minhash_dedup: { device: "cpu" } },
];

async function makeInput(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const docs = (from: number, texts: string[]): Doc[] =>
    texts.map((text, i) => ({ id: String(from + i), text, meta: {} }));
  await Deno.mkdir(`${dir}/in`);
  await writeDocs(`${dir}/in/a.jsonl`, docs(0, [PROSE[0], PROSE[1], "English only text here."]));
  await writeDocs(`${dir}/in/b.jsonl.gz`, docs(10, [PROSE[2], PROSE[0], PROSE[3] + "\n메뉴 목록"]));
  await Deno.writeTextFile(
    `${dir}/in/c.jsonl`,
    JSON.stringify({ id: 20, text: PROSE[4] }) + "\n{not json\n" + JSON.stringify({ id: 21 }) +
      "\n" + JSON.stringify({ id: 22, text: PROSE[5] }) + "\n",
  );
  return dir;
}

async function texts(path: string): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const d of readDocs(path)) out.push(d);
  return out;
}

async function keptDocs(out: string, shards: number): Promise<Doc[]> {
  const all: Doc[] = [];
  for (let i = 0; i < shards; i++) all.push(...await texts(`${out}/kept/part-0000${i}.jsonl.gz`));
  return all;
}

Deno.test("parseShard() reads i/N and refuses nonsense", () => {
  assert.deepEqual(parseShard("1/4"), { index: 1, count: 4 });
  assert.throws(() => parseShard("4/4"), UserError);
  assert.throws(() => parseShard("x"), UserError);
});

Deno.test("FilterRunner.runAll() writes kept, removed with reasons, rejects and stats", async () => {
  const dir = await makeInput();
  const runner = new FilterRunner({ input: `${dir}/in`, output: `${dir}/out`, pipeline: PIPELINE });
  const report = await runner.runAll();
  const kept = await keptDocs(`${dir}/out`, 3); // one shard per input file
  assert.deepEqual(kept.map((d) => d.id), ["0", "1", "10", "12", "20", "22"]);
  assert.ok(kept.find((d) => d.id === "10")!.text.includes("[EMAIL]"));
  assert.equal(kept.find((d) => d.id === "12")!.text, PROSE[3]); // the menu line was cut
  const dup = await texts(`${dir}/out/removed/exact_dedup/part-00001.jsonl.gz`);
  // a removed document says what it failed by how much, or which document it duplicates
  assert.deepEqual(dup.map((d) => [d.id, d.meta.removed]), [[
    "11",
    { step: "exact_dedup", reason: "exact_duplicate", duplicate_of: "0" },
  ]]);
  const rules = await texts(`${dir}/out/removed/rules/part-00000.jsonl.gz`);
  assert.deepEqual(rules.map((d) => d.meta.removed), [{
    step: "rules",
    reason: "too_few_words",
    value: 4,
    threshold: 5,
  }]);
  const rejects = [];
  for await (const r of readJsonl(`${dir}/out/rejects/part-00002.jsonl`)) rejects.push(r.value);
  assert.deepEqual(rejects.map((r) => `${(r.file as string).split("/").pop()}:${r.line}`), [
    "c.jsonl:2",
    "c.jsonl:3",
  ]);
  assert.equal(report.docs_in, 8);
  assert.equal(report.docs_out, 6);
  assert.equal(report.rejects, 2);
  assert.equal(report.pii.email, 1);
  assert.equal(report.removed_by_reason["exact_dedup:exact_duplicate"], 1);
  assert.equal(report.removed_by_reason["rules:too_few_words"], 1);
  const onDisk = JSON.parse(await Deno.readTextFile(`${dir}/out/stats.json`));
  assert.equal(onDisk.docs_out, 6);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("FilterRunner shards: --shard i/N runs, reruns skip, merge needs all, equals one run", async () => {
  const dir = await makeInput();
  const opts = { input: `${dir}/in`, output: `${dir}/out`, pipeline: PIPELINE };
  const runner = new FilterRunner(opts);
  assert.equal(await runner.runShard(1, 3), true);
  await assert.rejects(() => runner.mergeShards(3), /shards 0, 2 of 3 have not finished/);
  assert.equal(await runner.runShard(0, 3), true);
  assert.equal(await runner.runShard(0, 3), false); // finished before: skipped
  assert.equal(await runner.runShard(2, 3), true);
  const report = await runner.mergeShards(3);
  const all: string[] = [];
  for (let i = 0; i < 3; i++) {
    all.push(...(await texts(`${dir}/out/kept/part-0000${i}.jsonl.gz`)).map((d) => d.id));
  }
  assert.deepEqual(all.sort(), ["0", "1", "10", "12", "20", "22"]);
  assert.equal(report.docs_out, 6);
  // the same output folder refuses another shard count
  await assert.rejects(() => runner.runShard(0, 2), /another input, shard count or pipeline/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("FilterRunner splits one file among shards by document; rejects counted once", async () => {
  const dir = await makeInput();
  const input = `${dir}/in/c.jsonl`; // 2 documents, 2 malformed lines
  const runner = new FilterRunner({ input, output: `${dir}/out`, pipeline: PIPELINE });
  for (let i = 0; i < 3; i++) await runner.runShard(i, 3);
  const report = await runner.mergeShards(3);
  assert.equal(report.docs_in, 2);
  assert.equal(report.docs_out, 2);
  assert.equal(report.rejects, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("FilterRunner resumes after an interrupted shard: nothing partial is visible", async () => {
  const dir = await makeInput();
  const opts = { input: `${dir}/in`, output: `${dir}/out`, pipeline: PIPELINE };
  // a pipeline step that fails mid-run stands in for a kill
  let calls = 0;
  const runner = new FilterRunner({
    ...opts,
    log: (m) => {
      if (m.includes("invalid JSON") && calls++ === 0) throw new Error("killed");
    },
  });
  await assert.rejects(() => runner.runAll(), /killed/); // in shard 2 of 3 (c.jsonl)
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/out/kept`)) names.push(e.name);
  assert.deepEqual(names.sort(), []); // kept files appear only at merge
  const staged: string[] = [];
  for await (const e of Deno.readDir(`${dir}/out/work/stage`)) staged.push(e.name);
  assert.deepEqual(staged.sort(), ["part-00000.jsonl.gz", "part-00001.jsonl.gz"]); // not part 2
  const log: string[] = [];
  const report = await new FilterRunner({ ...opts, log: (m) => log.push(m) }).runAll();
  assert.ok(log.includes("shard 0/3: finished before, skipped"), log.join("\n"));
  assert.equal(report.docs_out, 6);
  await Deno.remove(dir, { recursive: true });
});
