import assert from "node:assert/strict";
import { loadTaskData, parseRows } from "./data.ts";
import { PROCESS_DOCS } from "./process_docs.ts";
import { validateTask } from "./task_file.ts";

Deno.test("parseRows() reads TSV on tabs only, CSV with quotes, and JSON arrays", () => {
  const tsv = parseRows('a\tb\n"x\ty\n1\t2\t3\n', "tsv", "f.tsv");
  assert.deepEqual(tsv.rows, [{ row: 2, doc: { a: '"x', b: "y" } }]);
  assert.deepEqual(tsv.skipped, [{ file: "f.tsv", row: 3, reason: "3 fields, header has 2" }]);
  const csv = parseRows('a,b\n"x, ""y""",2\n', "csv", "f.csv");
  assert.deepEqual(csv.rows, [{ row: 2, doc: { a: 'x, "y"', b: 2 } }]); // a number column
  const json = parseRows('[{"a": 1}, 2]', "json", "f.json");
  assert.equal(json.rows.length, 1);
  assert.equal(json.skipped[0].row, 2);
});

const TASK = (hub: Record<string, string>) =>
  validateTask({
    task: "h",
    dataset_hub: hub,
    output_type: "loglikelihood",
    doc_to_text: "{{ a }}",
    doc_to_target: "{{ b }}",
    metric_list: [{ metric: "acc" }],
  }, "h.yaml");

Deno.test("loadTaskData() fetches a Hub dataset file once through @huggingface/hub", async () => {
  const body = new TextEncoder().encode('{"a": "가", "b": "나"}\n{"a": "다", "b": "라"}\n');
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    hits.push(`${req.method} ${url.pathname} ${req.headers.get("authorization") ?? ""}`);
    if (url.pathname !== "/datasets/org/ko-set/resolve/main/test.jsonl") {
      return new Response("not found", {
        status: 404,
        headers: { "X-Error-Code": "EntryNotFound" },
      });
    }
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.get("range") ?? "");
    const headers = { "ETag": '"abc"', "content-type": "application/octet-stream" };
    if (range) {
      const [a, b] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
      return new Response(body.slice(a, b + 1), {
        status: 206,
        headers: { ...headers, "content-range": `bytes ${a}-${b}/${body.length}` },
      });
    }
    return new Response(body, { headers });
  });
  const dir = await Deno.makeTempDir();
  try {
    const opts = {
      dataRoot: `${dir}/data`,
      cacheDir: `${dir}/cache`,
      hubUrl: `http://127.0.0.1:${server.addr.port}`,
      hubToken: "hf_secret",
    };
    const d = await loadTaskData(TASK({ repo: "org/ko-set", file: "test.jsonl" }), opts);
    assert.deepEqual(d.eval.rows.map((r) => r.doc.a), ["가", "다"]);
    assert.equal(d.eval.file, `${dir}/cache/hub/org/ko-set/main/test.jsonl`);
    assert.ok(hits.every((h) => h.endsWith("Bearer hf_secret")));
    const n = hits.length;
    await loadTaskData(TASK({ repo: "org/ko-set", file: "test.jsonl" }), opts);
    assert.equal(hits.length, n, "cached: no second download");
    await assert.rejects(
      () => loadTaskData(TASK({ repo: "org/ko-set", file: "nope.jsonl" }), opts),
      /no file "nope.jsonl"|download failed/,
    );
    // A local copy of the repo under the data root is used without the network.
    await Deno.mkdir(`${dir}/data/org/other`, { recursive: true });
    await Deno.writeTextFile(`${dir}/data/org/other/t.jsonl`, '{"a": "x", "b": "y"}\n');
    const local = await loadTaskData(TASK({ repo: "org/other", file: "t.jsonl" }), opts);
    assert.equal(local.eval.file, `${dir}/data/org/other/t.jsonl`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dataset_records picks nested JSON records, each with its ancestors' plain fields", () => {
  const squadJson = JSON.stringify({
    version: "1.1",
    data: [{
      title: "Seoul",
      paragraphs: [{
        context: "Seoul is the capital.",
        qas: [
          { id: "q1", question: "Capital?", answers: [{ text: "Seoul", answer_start: 0 }] },
          {
            id: "q2",
            question: "What is it?",
            answers: [{ text: "the capital", answer_start: 9 }],
          },
        ],
      }],
    }],
  });
  const d = parseRows(squadJson, "json", "s.json", "data.*.paragraphs.*.qas.*");
  assert.equal(d.rows.length, 2);
  assert.deepEqual(
    { ...d.rows[1].doc, answers: undefined },
    {
      version: "1.1",
      title: "Seoul",
      context: "Seoul is the capital.",
      id: "q2",
      question: "What is it?",
      answers: undefined,
    },
  );
  assert.throws(
    () => parseRows(squadJson, "json", "s.json", "data.*.paras.*"),
    /s\.json: dataset_records "data\.\*\.paras\.\*": no key "paras"/,
  );
});

Deno.test("process_docs: hellaswag cleaning and squad flattening from the registry", () => {
  const [h] = PROCESS_DOCS.hellaswag([{
    activity_label: "Cooking",
    ctx_a: "A man [title] stirs a pot.",
    ctx_b: "then HE adds salt",
    endings: [" tastes it [step] ", "leaves  the kitchen"],
    label: "1",
  }]);
  assert.equal(h.query, "Cooking: A man. stirs a pot. Then he adds salt");
  assert.deepEqual(h.choices, ["tastes it ", "leaves the kitchen"]); // stripped before [step] goes, as lm-eval
  assert.equal(h.gold, 1);
  assert.equal(h.label, "1"); // the original columns stay, as datasets.map keeps them
  const rows = PROCESS_DOCS.squad([{
    title: "T",
    paragraphs: [{
      context: "C",
      qas: [{
        id: "1",
        question: "Q",
        answers: [{ text: "a", answer_start: 0 }, { text: "b", answer_start: 2 }],
      }],
    }],
  }]);
  assert.deepEqual(rows, [{
    id: "1",
    title: "T",
    context: "C",
    question: "Q",
    answers: { text: ["a", "b"], answer_start: [0, 2] },
  }]);
});
