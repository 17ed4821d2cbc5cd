import assert from "node:assert/strict";
import { join } from "node:path";
import { buildReport, num, REPORT_FILE, taskGroup } from "./report.ts";
import { findChromium, visitPage, writeFixtureRun } from "./testing.ts";
import { thin } from "./charts.ts";
import { ROOT } from "../../tasks/_testing.ts";

async function fixture(): Promise<string> {
  const dir = join(ROOT, "runs", "test-tmp", `report-${crypto.randomUUID().slice(0, 8)}`);
  await writeFixtureRun(dir);
  return dir;
}

Deno.test("RunFolder.finish() writes report.html with every section the run has data for", async () => {
  const dir = await fixture();
  try {
    const html = await Deno.readTextFile(join(dir, REPORT_FILE));
    for (
      const s of [
        "Stages",
        "Training",
        "FP8 scaling",
        "Post-training",
        "Filter",
        "Tokenizer",
        "Evaluation",
        "Config and manifest",
      ]
    ) {
      assert.ok(html.includes(`<h2>${s}</h2>`), `section ${s} missing`);
    }
    assert.ok(!html.includes("<h2>Benchmarks</h2>"), "a section without data is left out");
    // bf16 and fp8 overlaid in one loss chart, validation per source
    assert.match(html, /Pretraining: train\/base · bf16, train\/cpt · fp8/);
    assert.match(html, /train\/cpt · fp8 · ko/);
    assert.ok((html.match(/<svg/g) ?? []).length >= 12, "charts drawn as inline SVG");
    // the filter's examples, the tokenizer's words, evaluation with stderr before → after
    assert.ok(html.includes("rules:hangul_ratio") && html.includes("도움말은 시스템에서"));
    assert.match(html, /tokens per word \(English\)/);
    assert.match(html, /0\.225 ± 0\.066<\/td><td class="n">0\.325 ± 0\.066/);
    assert.match(html, /<td>ko<\/td><td>acc<\/td>/);
    assert.match(html, /preference_accuracy<\/td><td class="n">0\.42<\/td><td class="n">0\.58/);
    // self-contained: no script, nothing loaded from elsewhere
    assert.ok(!/<script|<link|<img|src=|@import|url\(/i.test(html), "page loads nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildReport() notes unreadable files instead of failing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"step":1,"loss":2}\n{"step":2,"lo');
    await Deno.writeTextFile(join(dir, "config.json"), "{not json");
    const html = await buildReport(dir);
    assert.match(html, /<h2>Training<\/h2>/);
    assert.match(html, /<h2>Not shown<\/h2>[\s\S]*config\.json: not read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("thin() keeps evenly spaced points of each series, the last one included", () => {
  const pts = [...Array(2501).keys()].flatMap((i) => [
    { x: i, y: i, series: "a" },
    ...(i < 10 ? [{ x: i, y: i, series: "b" }] : []),
  ]);
  const out = thin(pts, 1000);
  const a = out.filter((p) => p.series === "a").map((p) => p.x);
  assert.equal(a.length, 835); // every 3rd of 2501 (0 … 2499), and the last (2500)
  assert.deepEqual([a[0], a[1], a.at(-2), a.at(-1)], [0, 3, 2499, 2500]);
  assert.equal(out.filter((p) => p.series === "b").length, 10);
});

Deno.test("num() and taskGroup() format cells and group tasks by language", () => {
  assert.equal(num(1234567), "1,234,567");
  assert.equal(num(0.066866), "0.06687");
  assert.equal(num(8.77e40), "8.770e+40");
  assert.equal(num(undefined), "—");
  assert.equal(taskGroup("help_ko_cloze"), "ko");
  assert.equal(taskGroup("ko_arc_easy"), "ko");
  assert.equal(taskGroup("arc_easy"), "other");
});

Deno.test("deno task report RUN_DIR writes the page; a bad folder is one line, exit 2", async () => {
  const { runTask } = await import("../../tasks/_testing.ts");
  const dir = await fixture();
  try {
    await Deno.remove(join(dir, REPORT_FILE));
    const rel = dir.slice(ROOT.length + 1);
    const ok = await runTask(["report", rel]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), `${rel}/${REPORT_FILE}`);
    assert.ok((await Deno.stat(join(dir, REPORT_FILE))).size > 10_000);
    const bad = await runTask(["report", "runs/test-tmp/no-such-run"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr.trim(), /^error: runs\/test-tmp\/no-such-run: no such run folder/);
    const outside = await runTask(["report", "README.md"]);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr.trim(), /^error: README\.md: outside the folders/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const chromium = await findChromium();
const IN_CI = Deno.env.get("CI") === "true" || Deno.env.get("CI") === "1";
if (!chromium && !IN_CI) {
  console.warn(
    "\n!!! browser test SKIPPED: chromium is not installed (apt-get install chromium)\n" +
      "!!! (under CI=true it runs and fails instead)\n",
  );
}

Deno.test({
  name: "report.html opens in headless Chromium with no console error and no request",
  ignore: !chromium && !IN_CI,
  async fn() {
    if (!chromium) throw new Error("chromium is not installed (apt-get install chromium)");
    const dir = await fixture();
    const visit = await visitPage(chromium, `file://${join(dir, REPORT_FILE)}`);
    const png = join(dir, "report.png");
    await Deno.writeFile(png, visit.png);
    console.log(`screenshot: ${png}`);
    assert.deepEqual(visit.errors, []);
    assert.deepEqual(visit.requests, [`file://${join(dir, REPORT_FILE)}`]);
    assert.match(visit.title, /^Jikji demo — /);
    // a PNG, and taller than one screen (the whole page)
    assert.deepEqual([...visit.png.slice(1, 4)], [0x50, 0x4e, 0x47]);
    const height = new DataView(visit.png.buffer, visit.png.byteOffset).getUint32(20);
    assert.ok(height > 2000, `page height ${height}`);
  },
});
