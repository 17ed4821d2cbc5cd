import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { writeDocs } from "../lib/io/jsonl.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Runs `deno task filter ARGS` through the task's own permissions. */
async function filterTask(args: string[]) {
  const line = (denoJson as { tasks: Record<string, string> }).tasks.filter;
  const cmd = line.split(/\s+/).filter((w) => w !== "");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...cmd.slice(1), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task filter run/merge work through the task's permissions", async () => {
  await Deno.mkdir(`${ROOT}data/cache`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}data/cache`, prefix: "filter-task-test-" });
  try {
    const text =
      "오늘은 날씨가 맑고 따뜻해서 공원에 산책을 나갔습니다. 많은 사람들이 자전거를 타고 " +
      "있었고 아이들은 잔디밭에서 뛰어놀았습니다. 저녁에는 가족과 함께 맛있는 음식을 먹으며 " +
      "하루 동안 있었던 일을 이야기했습니다. 연락처는 010-1234-5678 입니다.";
    await writeDocs(`${dir}/in.jsonl`, [
      { id: "1", text, meta: {} },
      { id: "2", text, meta: {} },
    ]);
    const rel = dir.slice(ROOT.length);
    const args = ["--config", "data/configs/filter.yaml", "--input", `${rel}/in.jsonl`];
    const shard = await filterTask([
      "run",
      ...args,
      "--output",
      `${rel}/out`,
      "--shard",
      "0/1",
      "-q",
    ]);
    assert.equal(shard.code, 0, shard.stderr);
    const merged = await filterTask(["merge", "--output", `${rel}/out`, "-q"]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stdout, /documents: 2 in, 1 kept/);
    assert.match(merged.stdout, /PII replaced: phone 2/);
    const bad = await filterTask(["run", "--input", `${rel}/in.jsonl`, "--shard", "3/2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--shard: expected i\/N/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task filter refuses a misspelt step or parameter in one line naming file and step", async () => {
  await Deno.mkdir(`${ROOT}data/cache`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}data/cache`, prefix: "filter-task-test-" });
  try {
    const rel = dir.slice(ROOT.length);
    await writeDocs(`${dir}/in.jsonl`, [{ id: "1", text: "가나다", meta: {} }]);
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      "steps:\n  - normalize: {}\n  - rules: {min_word: 5}\n",
    );
    const a = await filterTask(["run", "--config", `${rel}/a.yaml`, "--input", `${rel}/in.jsonl`]);
    assert.equal(a.code, 2);
    assert.match(
      a.stderr,
      new RegExp(`error: ${rel}/a.yaml: steps\\[1\\]: step "rules" has no parameter "min_word"`),
    );
    await Deno.writeTextFile(`${dir}/b.yaml`, "steps:\n  - dedupe: {}\n");
    const b = await filterTask(["run", "--config", `${rel}/b.yaml`, "--input", `${rel}/in.jsonl`]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /steps\[0\]: unknown step "dedupe" \(known: .*minhash_dedup/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
