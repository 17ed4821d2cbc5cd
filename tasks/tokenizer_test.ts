/**
 * `deno task tokenizer` through its real command line (the permissions of deno.json apply): a
 * small build end to end, `report` on its output, and one-line errors for bad input.
 */

import assert from "node:assert/strict";
import { writeDocs } from "../lib/io/jsonl.ts";
import { ENGLISH_LINES, koreanCorpus } from "../lib/tokenizer/testing.ts";
import { ROOT, runTask } from "./_testing.ts";

function task(args: string[]) {
  return runTask(["tokenizer", ...args]);
}

Deno.test("deno task tokenizer train builds a merged tokenizer and report reads it", async () => {
  const rel = `runs/test-tmp/tokenizer-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await Deno.mkdir(dir, { recursive: true });
  const lines = koreanCorpus(3000, 4);
  const docs = [];
  for (let i = 0; i < lines.length; i += 20) {
    docs.push({ id: `d${i}`, text: lines.slice(i, i + 20).join("\n"), meta: {} });
  }
  await writeDocs(`${dir}/ko.jsonl`, docs);
  await Deno.writeTextFile(`${dir}/en.txt`, ENGLISH_LINES.join("\n"));
  const common = ["--korean", `${rel}/ko.jsonl`, "--english", `${rel}/en.txt`];
  const train = await task([
    "train",
    ...common,
    "--output",
    `${rel}/out`,
    "--add",
    "300",
    "--unigram-vocab",
    "600",
    "--quiet",
  ]);
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stdout, /\| merged \(Jikji\) \| Korean held-out/);
  for (const f of ["tokenizer.json", "unigram.vocab", "unigram.tokenizer.json", "report.json"]) {
    await Deno.stat(`${dir}/out/${f}`);
  }
  const report = await task(["report", ...common, "--tokenizer", `${rel}/out`]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /\| base \| English \|/);
  // an outside corpus is measured whole: all 150 documents' Korean lines, not the 1 in 10
  const texts = (out: string, set: string) =>
    Number(out.split("\n").find((l) => l.startsWith(`| base | ${set} |`))!.split("|")[3]);
  const all = await task(["report", ...common, "--tokenizer", `${rel}/out`, "--all"]);
  assert.equal(all.code, 0, all.stderr);
  const whole = texts(all.stdout, "Korean (all)"), held = texts(report.stdout, "Korean held-out");
  assert.ok(whole > 5 * held, `${whole} vs ${held}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task tokenizer refuses a corrupt tokenizer and a bad option in one line", async () => {
  const rel = `runs/test-tmp/tokenizer-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(`${ROOT}/${rel}`, { recursive: true });
  await Deno.writeTextFile(`${ROOT}/${rel}/tokenizer.json`, '{"model": {"type": "BPE", "vo');
  await Deno.writeTextFile(`${ROOT}/${rel}/ko.txt`, "한국어 문장입니다.\n");
  const bad = await task(["report", "--korean", `${rel}/ko.txt`, "--tokenizer", rel]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.trim(),
    `error: ${rel}/tokenizer.json: not JSON — truncated or corrupt tokenizer.json? (Unterminated string in JSON at position 29 (line 1 column 30))`,
  );
  const unit = await task(["train", "--korean", `${rel}/ko.txt`, "--unit", "bytes"]);
  assert.equal(unit.code, 2);
  assert.match(unit.stderr.trim(), /^error: .*unit.*jamo/);
  assert.equal(unit.stderr.trim().split("\n").length, 1);
  await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
});
