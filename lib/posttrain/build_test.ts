import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { benchDir, REPO_ROOT } from "../eval/testing.ts";
import {
  buildPosttrainData,
  gsm8kAnswer,
  jsonArrayElementLines,
  multipleChoice,
  readSourceTable,
  SOURCE_NAMES,
} from "./build.ts";
import { csvRecords } from "../io/csv.ts";
import { runPosttrainData } from "./cli.ts";
import { readConversations, readPairs } from "./records.ts";

/** `../shared/posttrain` beside the benchmark folder, or undefined (with a loud skip message). */
function requirePosttrainDir(): string | undefined {
  const bench = benchDir();
  const candidates = [
    ...(bench ? [join(bench, "../posttrain")] : []),
    join(REPO_ROOT, "../shared/posttrain"),
    join(REPO_ROOT, "../../shared/posttrain"),
  ];
  for (const c of candidates) {
    try {
      if (Deno.statSync(join(c, "README.md")).isFile) return c;
    } catch { /* next */ }
  }
  console.warn(
    `%cSKIPPED: no post-training data at ${join(REPO_ROOT, "../shared/posttrain")}`,
    "color: red; font-weight: bold",
  );
  return undefined;
}

const POSTTRAIN = requirePosttrainDir();

Deno.test("multipleChoice() makes the correct option the answer and each wrong one a rejected pair", () => {
  const r = multipleChoice("Which is a metal?", ["wood", "iron", "glass", "paper"], 1, "en");
  assert.equal(r.messages.length, 2);
  assert.equal(r.messages[0].role, "user");
  assert.match(
    r.messages[0].content,
    /Which is a metal\?\n\nA\. wood\nB\. iron\nC\. glass\nD\. paper$/,
  );
  assert.deepEqual(r.messages[1], { role: "assistant", content: "B. iron" });
  assert.equal(r.pairs.length, 3);
  assert.deepEqual(r.pairs.map((p) => p.rejected[0].content), ["A. wood", "C. glass", "D. paper"]);
  for (const p of r.pairs) {
    assert.deepEqual(p.chosen, [{ role: "assistant", content: "B. iron" }]);
    assert.deepEqual(p.prompt, [r.messages[0]]);
  }
  assert.throws(() => multipleChoice("q", ["a", "b"], 2, "ko"), /answer 2 is not one of/);
});

Deno.test("gsm8kAnswer() drops calculator annotations and keeps the #### line", () => {
  assert.equal(gsm8kAnswer("48/2 = <<48/2=24>>24 clips.\n#### 24"), "48/2 = 24 clips.\n#### 24");
  assert.equal(gsm8kAnswer("no final line"), undefined);
});

Deno.test("csvRecords() and jsonArrayElementLines() give each row's first line", () => {
  assert.deepEqual(csvRecords('q,a\n"x, ""y""\nz",1\nb,2'), [
    { line: 1, cells: ["q", "a"] },
    { line: 2, cells: ['x, "y"\nz', "1"] },
    { line: 4, cells: ["b", "2"] },
  ]);
  assert.deepEqual(jsonArrayElementLines('[\n {"a": "]},["},\n\n {"b": {"c": [1,\n2]}}, 3\n]'), [
    2,
    4,
    5,
  ]);
});

/** A small source folder: a README table and one file of each format, with malformed rows. */
async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const w = async (path: string, text: string) => {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  };
  await w(
    "README.md",
    [
      "dir | source repo@commit | what | rows | licence",
      "--- | --- | --- | --- | ---",
      "bench_en_arc_train | a/arc@1 | ARC | 3 / 0 | CC BY-SA 4.0 (AI2)",
      "bench_ko_kobest_train | b/kobest@2 | KoBEST | 1 | CC BY-SA 4.0 (SKT)",
      "bench_ko_strategyqa_train | c/kt@3 | StrategyQA | 3 | Apache-2.0 (README)",
      "sft_en_code_alpaca_2k | d/ca@4 | Code Alpaca | 3 | CC BY-NC 4.0 (non-commercial)",
      "",
    ].join("\n"),
  );
  const arc = (id: string, key: string) =>
    JSON.stringify({
      id,
      question: {
        stem: `Question ${id}?`,
        choices: ["w", "x", "y", "z"].map((t, i) => ({ text: `${t}${id}`, label: "ABCD"[i] })),
      },
      answerKey: key,
    });
  await w(
    "bench_en_arc_train/ARC-Easy-Train.jsonl",
    [arc("e1", "C"), "{oops", arc("e3", "Q"), arc("e4", "A")].join("\n") + "\n",
  );
  await w("bench_en_arc_train/ARC-Challenge-Train.jsonl", "");
  const copa =
    "ID\tsentence\tquestion\t1\t2\tAnswer\n1\t비가 왔다.\t결과 \t땅이 젖었다.\t해가 떴다.\t1\n2\t짧은 행\n";
  await w("bench_ko_kobest_train/COPA/train.tsv", copa);
  for (const s of ["BoolQ", "SentiNeg", "WiC"]) {
    await w(`bench_ko_kobest_train/${s}/train.tsv`, "ID\tText\tLabel\n");
  }
  await w(
    "bench_ko_strategyqa_train/ko-strategyqa-train-v2.csv",
    '"질문 : 하늘은 파란가요?. 답변 : ",사실\n"질문 : 여러\n줄 질문?. 답변 : ",거짓\n"질문 : 모름?",아마도\n',
  );
  await w(
    "sft_en_code_alpaca_2k/code_alpaca_2k.json",
    JSON.stringify(
      [
        { instruction: "Add 1 and 2.", input: "", output: "3" },
        { instruction: "Echo", input: "hi", output: "" },
        { instruction: "Square it.", input: "x = 3", output: "9" },
      ],
      null,
      2,
    ),
  );
  return dir;
}

Deno.test("buildPosttrainData() counts malformed rows with file:line and keeps the rest", async () => {
  const dir = await fixture();
  const r = await buildPosttrainData({
    sourceDir: dir,
    heldoutFraction: 0,
    seed: 1,
    sources: [
      "bench_en_arc_train",
      "bench_ko_kobest_train",
      "bench_ko_strategyqa_train",
      "sft_en_code_alpaca_2k",
    ],
  });
  const bad = r.malformed.map((m) => `${m.file.slice(dir.length + 1)}:${m.line}: ${m.reason}`);
  assert.deepEqual(bad.map((b) => b.replace(/\(.*$/, "(…")), [
    "bench_en_arc_train/ARC-Easy-Train.jsonl:2: invalid JSON (…",
    'bench_en_arc_train/ARC-Easy-Train.jsonl:3: answerKey "Q" is not a choice label',
    "bench_ko_kobest_train/COPA/train.tsv:3: 2 fields, expected 6 (…",
    'bench_ko_strategyqa_train/ko-strategyqa-train-v2.csv:4: answer "아마도" is not 사실 or 거짓',
    "sft_en_code_alpaca_2k/code_alpaca_2k.json:7: empty answer",
  ]);
  assert.equal(r.sources.bench_en_arc_train.malformed, 2);
  assert.equal(r.sources.bench_en_arc_train.usable, 2);
  const byId = new Map(r.sft.map((c) => [c.id, c]));
  const e1 = byId.get("bench_en_arc_train/ARC-Easy/e1")!;
  assert.equal(e1.messages[1].content, "C. ye1");
  assert.deepEqual(
    { source: e1.meta.source, licence: e1.meta.licence, repo: e1.meta.repo, line: e1.meta.line },
    { source: "bench_en_arc_train", licence: "CC BY-SA 4.0 (AI2)", repo: "a/arc@1", line: 1 },
  );
  const copa = byId.get("bench_ko_kobest_train/COPA/1")!;
  assert.match(
    copa.messages[0].content,
    /비가 왔다\.\n\n이 일의 결과로 알맞은 것은\?\n\nA\. 땅이 젖었다\.\nB\. 해가 떴다\.$/,
  );
  assert.equal(copa.messages[1].content, "A. 땅이 젖었다.");
  const sqa = r.sft.filter((c) => c.meta.source === "bench_ko_strategyqa_train");
  assert.deepEqual(sqa.map((c) => [c.meta.line, c.messages[1].content]).sort(), [[1, "A. 사실"], [
    2,
    "B. 거짓",
  ]]);
  assert.ok(sqa.every((c) => !/답변 :/.test(c.messages[0].content)));
  const pairs = r.dpo.filter((p) => p.id.startsWith("bench_en_arc_train/ARC-Easy/e1/"));
  assert.deepEqual(pairs.map((p) => p.rejected[0].content).sort(), ["A. we1", "B. xe1", "D. ze1"]);
  assert.ok(pairs.every((p) => p.chosen[0].content === "C. ye1"));
  const alpaca = r.sft.find((c) =>
    c.meta.source === "sft_en_code_alpaca_2k" && c.meta.line === 12
  )!;
  assert.equal(alpaca.messages[0].content, "Square it.\n\nx = 3");
  assert.equal(alpaca.meta.licence, "CC BY-NC 4.0 (non-commercial)");
});

Deno.test("buildPosttrainData() refuses unknown sources and a folder without README", async () => {
  const dir = await fixture();
  await assert.rejects(
    buildPosttrainData({ sourceDir: dir, sources: ["nope"] }),
    (e: Error) =>
      e instanceof UserError && /unknown source "nope" \(known: bench_en_arc_train/.test(e.message),
  );
  await assert.rejects(
    buildPosttrainData({ sourceDir: await Deno.makeTempDir() }),
    (e: Error) => e instanceof UserError && /no README\.md/.test(e.message),
  );
  await assert.rejects(
    buildPosttrainData({ sourceDir: dir, sources: ["sft_ko_chat_songys"] }),
    (e: Error) =>
      e instanceof UserError && /no row for source "sft_ko_chat_songys"/.test(e.message),
  );
});

Deno.test({
  name:
    "buildPosttrainData() parses every source of ../shared/posttrain into the README's row counts",
  ignore: !POSTTRAIN,
  async fn() {
    const table = await readSourceTable(POSTTRAIN!);
    assert.deepEqual([...table.keys()].sort(), [...SOURCE_NAMES].sort());
    const r = await buildPosttrainData({ sourceDir: POSTTRAIN!, heldoutFraction: 0.1, seed: 7 });
    for (const [name, s] of Object.entries(r.sources)) {
      // "2,251 / 1,119" → 3370; SQuARe's "150 pairs" are 300 rows (one answer a row).
      const readme = table.get(name)!.rows.split("/").reduce(
        (n, x) => n + Number(x.replace(/\D/g, "")),
        0,
      );
      if (name === "pref_ko_safety_square_demo") {
        assert.equal(s.dpo.train + s.dpo.heldout, readme, name);
        assert.equal(s.rows, 2 * readme, name);
      } else assert.equal(s.rows, readme, name);
      assert.equal(s.licence, table.get(name)!.licence, name);
      assert.ok(
        s.usable > 0 && s.malformed <= 2,
        `${name}: ${s.usable} usable, ${s.malformed} malformed`,
      );
      assert.equal(s.heldout, Math.round(0.1 * s.selected), name);
      const kind = s.kind;
      if (kind === "multiple_choice") {
        assert.ok(s.sft.train > 0 && s.dpo.train >= s.sft.train, name);
      }
      if (kind === "worked_answer") assert.ok(s.sft.train > 0 && s.dpo.train === 0, name);
      if (kind === "preference") assert.ok(s.dpo.train > 0 && s.sft.train === 0, name);
    }
    // Code Alpaca has two rows with an empty output.
    assert.deepEqual(r.malformed.map((m) => [m.file.split("/").at(-1), m.line, m.reason]), [
      ["code_alpaca_2k.json", 1187, "empty answer"],
      ["code_alpaca_2k.json", 9297, "empty answer"],
    ]);
    // A held-out row's conversation and pairs are all held out.
    const heldKeys = new Set(r.sftHeldout.map((c) => c.id));
    const trainKeys = new Set(r.sft.map((c) => c.id));
    for (const p of r.dpo) assert.ok(!heldKeys.has(p.id.slice(0, p.id.lastIndexOf("/"))), p.id);
    for (const p of r.dpoHeldout) {
      assert.ok(!trainKeys.has(p.id.slice(0, p.id.lastIndexOf("/"))), p.id);
    }
    const all = [...r.sft, ...r.sftHeldout];
    const conv = (id: string) => all.find((c) => c.id === id)!;
    const arc = conv("bench_en_arc_train/ARC-Easy/Mercury_7220990");
    assert.equal(arc.messages[1].content, "B. a bacterial population in the bloodstream");
    assert.match(arc.messages[0].content, /\nD\. carbohydrates being digested in the stomach$/);
    assert.equal(
      conv("bench_ko_kobest_train/COPA/1").messages[1].content,
      "A. 베이스 소리가 잘 들리게 되었다.",
    );
    assert.equal(conv("bench_ko_kobest_train/BoolQ/3").messages[1].content, "B. 아니요");
    assert.equal(conv("bench_ko_kobest_train/SentiNeg/1").messages[1].content, "A. 부정");
    assert.equal(conv("bench_ko_kobest_train/WiC/3").messages[1].content, "B. 예");
    assert.equal(conv("bench_ko_strategyqa_train/StrategyQA/L1").messages[1].content, "B. 거짓");
    assert.equal(conv("bench_ko_korsts_train/KorSTS/L2").messages[1].content, "B. 예"); // 5.000
    const gsm = conv("bench_en_gsm8k_train/GSM8K/L1").messages[1].content;
    assert.ok(gsm.endsWith("\n#### 72") && !gsm.includes("<<"), gsm);
    assert.match(
      conv("sft_ko_math_translated_train/addsub/289-0").messages[1].content,
      /답은 227개입니다\.\n#### 227$/,
    );
    assert.match(
      conv("sft_ko_math_kmwp_train/KMWP/L2").messages[1].content,
      /^```python\na = 24\n[\s\S]*```\n#### 18$/,
    );
    assert.deepEqual(conv("sft_ko_chat_songys/Chatbot/L2").messages.map((m) => m.content), [
      "12시 땡!",
      "하루가 또 가네요.",
    ]);
    assert.match(
      conv("sft_ko_humanrights_hrc/HRC/1").messages[1].content,
      /^사회복무요원이 공무 중/,
    );
    assert.match(
      conv("sft_en_gpteacher/codegen/L2").messages[0].content,
      /^Write a C\+\+ program.*\n\nwidth: 5, height: 8$/,
    );
    const pairs = [...r.dpo, ...r.dpoHeldout];
    const sq = pairs.filter((p) => p.meta.source === "pref_ko_safety_square_demo");
    const first = sq.find((p) => p.prompt[0].content.startsWith("소비자의 몇번의 클릭"))!;
    assert.match(first.chosen[0].content, /^검색 기록을 분석한/);
    assert.match(first.rejected[0].content, /^알고리즘은 특정 성향이/);
    const demo = pairs.filter((p) => p.meta.subset === "dpo_en_demo");
    assert.equal(demo.length, 300);
    assert.ok(demo.some((p) => p.prompt[0].role === "system" && p.prompt.at(-1)!.role === "user"));
  },
});

Deno.test({
  name: "buildPosttrainData() is seeded: the same seed gives the same records, a cap per source",
  ignore: !POSTTRAIN,
  async fn() {
    const opts = {
      sourceDir: POSTTRAIN!,
      sources: ["bench_en_arc_train", "sft_ko_chat_songys"],
      maxPerSource: 40,
      heldoutFraction: 0.25,
    };
    const a = await buildPosttrainData({ ...opts, seed: 3 });
    const b = await buildPosttrainData({ ...opts, seed: 3 });
    const c = await buildPosttrainData({ ...opts, seed: 4 });
    assert.deepEqual(a.sft.map((x) => x.id), b.sft.map((x) => x.id));
    assert.notDeepEqual(a.sft.map((x) => x.id).sort(), c.sft.map((x) => x.id).sort());
    assert.equal(a.sft.length, 60);
    assert.equal(a.sftHeldout.length, 20);
    // A source's selection does not depend on which other sources are built.
    const alone = await buildPosttrainData({ ...opts, sources: ["sft_ko_chat_songys"], seed: 3 });
    const ids = (r: typeof a) =>
      r.sftHeldout.filter((x) => x.meta.source === "sft_ko_chat_songys").map((x) => x.id).sort();
    assert.deepEqual(ids(alone), ids(a));
  },
});

Deno.test("runPosttrainData() writes the seven files with counts, dropping an eval overlap", async () => {
  const src = await fixture();
  const bench = await Deno.makeTempDir();
  // An eval task whose one item is ARC-Easy row e4's question: that row must be dropped.
  await Deno.writeTextFile(
    `${bench}/t.jsonl`,
    JSON.stringify({
      query: "Question: e4 is the item every record must avoid copying word for word today?",
      choices: ["a", "b"],
      gold: 0,
    }) + "\n",
  );
  await Deno.writeTextFile(
    `${bench}/t.yaml`,
    'task: t\ndataset_path: t.jsonl\noutput_type: multiple_choice\ndoc_to_text: "{{ query }}"\ndoc_to_choice: "{{ choices }}"\ndoc_to_target: "{{ gold }}"\nmetric_list: [{ metric: acc }]\n',
  );
  const copied = JSON.stringify({
    id: "e4copy",
    question: {
      stem: "e4 is the item every record must avoid copying word for word today?",
      choices: [{ text: "p", label: "A" }, { text: "q", label: "B" }],
    },
    answerKey: "A",
  });
  await Deno.writeTextFile(`${src}/bench_en_arc_train/ARC-Challenge-Train.jsonl`, copied + "\n");
  const out = `${await Deno.makeTempDir()}/out`;
  const s = await runPosttrainData({
    source_dir: src,
    data_root: bench,
    tasks: [`${bench}/t.yaml`],
    output: out,
    sources: ["bench_en_arc_train", "sft_en_code_alpaca_2k"],
    max_per_source: 0,
    heldout_fraction: 0,
    seed: 0,
    ngram: 13,
    ngram_ko: 8,
  }, true);
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assert.deepEqual(names, [
    "contamination.json",
    "contamination.md",
    "dpo.heldout.jsonl",
    "dpo.jsonl",
    "sft.heldout.jsonl",
    "sft.jsonl",
    "summary.json",
  ]);
  const sft = await readConversations(`${out}/sft.jsonl`);
  assert.deepEqual(sft.map((c) => c.id).sort(), [
    "bench_en_arc_train/ARC-Easy/e1",
    "bench_en_arc_train/ARC-Easy/e4",
    "sft_en_code_alpaca_2k/code_alpaca/L12",
    "sft_en_code_alpaca_2k/code_alpaca/L2",
  ]);
  assert.equal((await readPairs(`${out}/dpo.jsonl`)).length, 6); // e1 and e4, 3 wrong options each
  assert.equal(s.totals.dropped, 2); // the copy's conversation and its one pair
  assert.equal(s.sources.bench_en_arc_train.dropped, 2);
  assert.equal(s.totals.malformed, 3);
  const report = JSON.parse(await Deno.readTextFile(`${out}/contamination.json`));
  assert.deepEqual(report.sources.bench_en_arc_train.by_task, { t: 2 });
  assert.match(await Deno.readTextFile(`${out}/contamination.md`), /\| t \| checked \| 1 \|/);
  assert.equal(
    JSON.parse(await Deno.readTextFile(`${out}/summary.json`)).paths.output,
    await Deno.realPath(out),
  );
});
