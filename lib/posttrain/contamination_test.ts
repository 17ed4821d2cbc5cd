import assert from "node:assert/strict";
import { readDataset } from "../eval/data.ts";
import { UserError } from "../io/errors.ts";
import { REPO_ROOT, requireBenchDir } from "../eval/testing.ts";
import {
  ContaminationCheck,
  contaminationMarkdown,
  EvalNgramIndex,
  isKoreanTokens,
  overlapTokens,
} from "./contamination.ts";
import type { Conversation, PreferencePair } from "./records.ts";

const BENCH = requireBenchDir();

function conv(id: string, source: string, user: string, answer = "B. 예"): Conversation {
  return {
    id,
    meta: { source },
    messages: [{ role: "user", content: user }, { role: "assistant", content: answer }],
  };
}

/** A task folder with one multiple-choice task (query/choices/gold) over the given rows. */
async function taskDir(rows: Record<string, unknown>[], hub = false): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/mc.jsonl`, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  await Deno.mkdir(`${dir}/tasks`);
  await Deno.writeTextFile(
    `${dir}/tasks/mc.yaml`,
    'task: mc\ndataset_path: mc.jsonl\noutput_type: multiple_choice\ndoc_to_text: "질문: {{ query }}\\n답변:"\ndoc_to_choice: "{{ choices }}"\ndoc_to_target: "{{ gold }}"\nmetric_list: [{ metric: acc }]\n',
  );
  if (hub) {
    await Deno.writeTextFile(
      `${dir}/tasks/hub.yaml`,
      'task: hubtask\ndataset_hub: { repo: nobody/none, file: test.jsonl }\noutput_type: loglikelihood\ndoc_to_text: "{{ a }}"\ndoc_to_target: "{{ b }}"\nmetric_list: [{ metric: acc }]\n',
    );
  }
  return dir;
}

const EN_ITEM =
  "Which process moves water from the leaves of a plant into the air around it on hot days?";
const KO_ITEM = "한 남자가 공원 벤치에 앉아서 오래된 신문을 천천히 읽고 있다";
const SHORT_EN = "Which gas do plants take in from the air?"; // 9 tokens: matched whole

Deno.test("overlapTokens() lowercases and splits on punctuation; isKoreanTokens() by Hangul share", () => {
  assert.deepEqual(overlapTokens("Hello, World!  (A) 3.5ｋｇ 한국어-문장"), [
    "hello",
    "world",
    "a",
    "3",
    "5kg",
    "한국어",
    "문장",
  ]);
  assert.equal(isKoreanTokens(overlapTokens("한국어 문장 with english")), true);
  assert.equal(isKoreanTokens(overlapTokens("mostly english text 한국어")), false);
});

Deno.test("ContaminationCheck drops a record that copies an eval item and keeps an unrelated one", async () => {
  const dir = await taskDir([
    { query: EN_ITEM, choices: ["transpiration", "condensation"], gold: 0 },
    { query: KO_ITEM, choices: ["예", "아니요"], gold: 0 },
    { query: SHORT_EN, choices: ["carbon dioxide", "oxygen"], gold: 0 },
    { query: "Too short to check?", choices: ["x", "y"], gold: 0 },
  ], true);
  const index = await EvalNgramIndex.build({ tasks: [`${dir}/tasks`], dataRoot: dir });
  assert.deepEqual(index.tasks.map((t) => [t.task, t.status, t.items]), [
    ["hubtask", "skipped", 0],
    ["mc", "checked", 4],
  ]);
  assert.match(
    index.tasks[0].reason!,
    /nobody\/none\/test\.jsonl not found .*nothing is downloaded/,
  );
  const check = new ContaminationCheck(index);
  const copyEn = conv(
    "en-copy",
    "src-a",
    `Read the question.\n\n${EN_ITEM.toUpperCase()}\n\nA. x\nB. y`,
  );
  // 8 consecutive eojeols of the Korean item (Korean segments use n = 8).
  const copyKo = conv(
    "ko-copy",
    "src-b",
    `문장: ${KO_ITEM.split(" ").slice(2, 10).join(" ")} 그리고 더`,
  );
  const copyShort = conv("short-copy", "src-a", `Quiz: ${SHORT_EN}`);
  const partShort = conv("short-part", "src-a", "Which gas do plants take in from the soil?");
  const unrelated = conv(
    "other",
    "src-a",
    "Which process moves heat from the sun to the earth, and why does it matter?",
  );
  const pair: PreferencePair = {
    id: "pair",
    meta: { source: "src-b" },
    prompt: [{ role: "user", content: "질문" }],
    chosen: [{ role: "assistant", content: "좋은 답" }],
    rejected: [{ role: "assistant", content: KO_ITEM }],
  };
  const kept = check.filter("sft", [copyEn, copyKo, copyShort, partShort, unrelated]);
  assert.deepEqual(kept.map((r) => r.id), ["short-part", "other"]);
  assert.deepEqual(check.filter("dpo", [pair]), []);
  const r = check.report();
  assert.equal(r.checked, 6);
  assert.equal(r.dropped, 4);
  assert.deepEqual(r.sources, {
    "src-a": { checked: 4, dropped: 2, by_task: { mc: 2 } },
    "src-b": { checked: 2, dropped: 2, by_task: { mc: 2 } },
  });
  assert.deepEqual(r.sets, { sft: { checked: 5, dropped: 3 }, dpo: { checked: 1, dropped: 1 } });
  const mc = r.tasks.find((t) => t.task === "mc")!;
  assert.equal(mc.records_dropped, 4);
  assert.equal(mc.items_hit, 3);
  assert.ok(mc.short_segments >= 1); // "Too short to check?" and the one-word choices
  assert.deepEqual(r.examples[0].overlaps[0], {
    task: "mc",
    row: 1,
    ngram: overlapTokens(EN_ITEM).slice(0, 13).join(" "),
  });
  const md = contaminationMarkdown(r);
  assert.match(md, /\| mc \| checked \| 4 \| \d+ \| \d+ \| 4 \| 3 \|/);
  assert.match(md, /\| src-b \| 2 \| 2 \| mc 2 \|/);
  assert.match(md, /\| hubtask \| skipped: Hub data/);
});

Deno.test("EvalNgramIndex.build() refuses a data root without a task's local data", async () => {
  const dir = await taskDir([{ query: EN_ITEM, choices: ["a", "b"], gold: 0 }]);
  await assert.rejects(
    EvalNgramIndex.build({ tasks: [`${dir}/tasks`], dataRoot: await Deno.makeTempDir() }),
    (e: Error) => e instanceof UserError && /mc\.jsonl: cannot read dataset/.test(e.message),
  );
});

Deno.test("EvalNgramIndex: with n = 13 for Korean too, an 8-eojeol copy of a 10-eojeol item passes", async () => {
  const dir = await taskDir([{ query: KO_ITEM, choices: ["예", "아니요"], gold: 0 }]);
  const part = conv("ko-part", "s", KO_ITEM.split(" ").slice(1, 9).join(" "));
  const whole = conv("ko-whole", "s", `${KO_ITEM}.`);
  const strict = await EvalNgramIndex.build({
    tasks: [`${dir}/tasks`],
    dataRoot: dir,
    nKorean: 13,
  });
  assert.deepEqual(new ContaminationCheck(strict).filter("sft", [part, whole]).map((r) => r.id), [
    "ko-part",
  ]);
  const ko8 = await EvalNgramIndex.build({ tasks: [`${dir}/tasks`], dataRoot: dir });
  assert.deepEqual(new ContaminationCheck(ko8).filter("sft", [part, whole]), []);
});

Deno.test({
  name: "EvalNgramIndex over eval/bench (ARC-Easy, KorSTS) flags copies of real items only",
  ignore: !BENCH,
  async fn() {
    const index = await EvalNgramIndex.build({
      tasks: [`${REPO_ROOT}/eval/bench/arc_easy.yaml`, `${REPO_ROOT}/eval/bench/korsts.yaml`],
      dataRoot: BENCH!,
    });
    assert.deepEqual(index.tasks.map((t) => [t.task, t.status]), [["arc_easy", "checked"], [
      "korsts",
      "checked",
    ]]);
    const arc = await readDataset(`${BENCH}/llm-foundry-local_data/world_knowledge/arc_easy.jsonl`);
    const { query, choices } = arc.rows[0].doc as { query: string; choices: string[] };
    const sts = await readDataset(`${BENCH}/kor-nlu-datasets/KorSTS/sts-dev.tsv`);
    const long = sts.rows.map((r) => String(r.doc.sentence1)).find((s) =>
      s.split(" ").length >= 9
    )!;
    const prompt = `${query.replace(/^Question: /, "")}\n\n${
      choices.map((c, i) => `${"ABCD"[i]}. ${c}`).join("\n")
    }`;
    const check = new ContaminationCheck(index);
    const kept = check.filter("sft", [
      conv("arc-copy", "arc", prompt, "A. " + choices[0]),
      conv(
        "sts-copy",
        "sts",
        `문장 1: ${long}\n문장 2: 다른 문장이다.\n\n두 문장의 의미가 비슷합니까?`,
      ),
      conv(
        "unrelated-en",
        "arc",
        "Explain how a bicycle gear changes the force needed to pedal uphill.",
      ),
      conv(
        "unrelated-ko",
        "sts",
        "오늘 저녁에는 친구들과 함께 새로 생긴 식당에서 밥을 먹기로 했다.",
      ),
    ]);
    assert.deepEqual(kept.map((r) => r.id), ["unrelated-en", "unrelated-ko"]);
    const r = check.report();
    assert.deepEqual(r.sources.arc.by_task, { arc_easy: 1 });
    assert.deepEqual(r.sources.sts.by_task, { korsts: 1 });
    assert.ok(r.examples[0].overlaps.some((o) => o.task === "arc_easy" && o.row === 1));
  },
});
