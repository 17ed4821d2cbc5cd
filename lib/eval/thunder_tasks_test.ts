/**
 * The Thunder-LLM suite (eval/thunder) over a local mirror of its Hub repos under the data root,
 * filled with rows in the assumed layout: Ko-GSM8K from the shared Korean GSM8K, the others from a
 * few hand-written Korean rows.
 */
import assert from "node:assert/strict";
import { createRun } from "../run/run_folder.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { listTaskFiles } from "./task_file.ts";
import { REPO_ROOT, requireBenchDir } from "./testing.ts";

const BENCH = requireBenchDir();
const ORG = "thunder-research-group";

async function writeRepo(root: string, name: string, rows: unknown[]) {
  await Deno.mkdir(`${root}/${ORG}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${root}/${ORG}/${name}/test.jsonl`,
    rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
  );
}

Deno.test({
  name: "evaluateSuite() runs the Thunder-LLM task files from a local mirror of their repos",
  ignore: !BENCH,
  async fn() {
    const dir = await Deno.makeTempDir();
    const root = `${dir}/data`;
    const kgsm = (await Deno.readTextFile(`${BENCH}/kt-ai-challenge/kor-gsm8k-test.jsonl`))
      .split("\n").filter((l) => l.trim()).slice(0, 12).map((l) => JSON.parse(l));
    await writeRepo(
      root,
      "SNU_Ko-GSM8K",
      kgsm.map((d) => ({
        question: d.kor_question,
        answer: `${d.kor_answer}\n#### ${d.answer_s}`,
      })),
    );
    const arc = Array.from({ length: 8 }, (_, i) => ({
      question: `물은 몇 도에서 끓습니까? (${i})`,
      choices: { text: ["100도", "10도", "0도", "50도"], label: ["A", "B", "C", "D"] },
      answerKey: ["A", "B", "C", "D"][i % 4],
    }));
    await writeRepo(root, "SNU_Ko-ARC-Easy", arc);
    await writeRepo(root, "SNU_Ko-ARC-Challenge", arc);
    const wino = [
      {
        sentence: "철수는 영희보다 키가 커서 _는 선반에 닿았다.",
        option1: "철수",
        option2: "영희",
        answer: "1",
      },
      {
        sentence: "철수는 영희보다 키가 작아서 _는 선반에 닿았다.",
        option1: "철수",
        option2: "영희",
        answer: "2",
      },
    ];
    await writeRepo(root, "SNU_Ko-WinoGrande", wino);
    await writeRepo(root, "SNU_Ko-LAMBADA", [
      {
        text: "그는 아침마다 _를 마시며 신문을 읽었다.",
        option1: "커피",
        option2: "바위",
        answer: "1",
      },
    ]);
    await writeRepo(root, "SNU_Ko-IFEval", [
      {
        prompt: "쉼표 없이 답하세요.",
        instruction_id_list: ["punctuation:no_comma"],
        kwargs: [{}],
      },
    ]);
    const files = await listTaskFiles(`${REPO_ROOT}/eval/thunder`);
    assert.equal(files.length, 6);
    const runsDir = `${dir}/runs`;
    const model = new TokenLMModel(
      new CharNgramLM(
        [await Deno.readTextFile(`${BENCH}/satKorean/kimyujeong_dongbaekkkot.txt`)],
        3,
      ),
    );
    const run = await createRun({ task: "eval", config: {}, runsDir, gpu: false, echo: false });
    const { results, skipped } = await evaluateSuite({
      taskFiles: files,
      model,
      data: { dataRoot: root, cacheDir: `${dir}/cache` },
      run,
    });
    run.close();
    assert.deepEqual(skipped, []);
    assert.equal(results.length, 6);
    for (const r of results) assert.equal(r.skipped_rows.length, 0, r.task);
    const arcE = results.find((r) => r.task === "thunder_ko_arc_easy")!;
    assert.equal(arcE.num_fewshot, 5);
    assert.equal(arcE.samples[1].target, 1); // answerKey B
    const oracleRun = await createRun({
      task: "eval",
      config: {},
      runsDir,
      gpu: false,
      echo: false,
    });
    const oracle = await evaluateSuite({
      taskFiles: files.filter((f) => f.endsWith("ko_gsm8k.yaml")),
      model: "oracle",
      data: { dataRoot: root },
      run: oracleRun,
    });
    oracleRun.close();
    for (const v of Object.values(oracle.results[0].metrics)) assert.equal(v.value, 1);
    await Deno.remove(dir, { recursive: true });
  },
});
