/**
 * The sandbox holds through symbolic links: for every task that reads or writes files, a link
 * planted in the project (`evil-link -> /outside`, a linked `log.jsonl` or `journal.jsonl`, an
 * input linked to a file outside) gets a one-line refusal with exit 2, and nothing outside changes.
 */

import assert from "node:assert/strict";
import { MockHub } from "../lib/hub/mock_hub.ts";
import { pushFolder } from "../lib/hub/push.ts";
import { retryingFetch } from "../lib/hub/http.ts";
import { byteLevelTokenizerJson } from "../lib/train/tokenizer.ts";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

interface Planted {
  /** The project-relative folder holding the links. */
  rel: string;
  /** The folder outside the project that `rel/evil-link` points to. */
  outside: string;
  /** A file outside (`rel/secret.jsonl` links to it). */
  secret: string;
}

const SECRET = '{"id":"s","text":"secret text from outside the project","meta":{}}\n';

async function plant(): Promise<Planted> {
  const rel = `runs/test-tmp/symlink-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${ROOT}/${rel}`;
  await Deno.mkdir(dir, { recursive: true });
  const outside = await Deno.makeTempDir({ prefix: "jikji-outside-" });
  const secret = `${outside}/secret.jsonl`;
  await Deno.writeTextFile(secret, SECRET);
  await Deno.writeTextFile(`${outside}/log.jsonl`, "outside\n");
  await Deno.symlink(outside, `${dir}/evil-link`);
  await Deno.symlink(secret, `${dir}/secret.jsonl`);
  const docs = Array.from(
    { length: 20 },
    (_, i) =>
      JSON.stringify({ id: `d${i}`, text: `한국어 문장 ${i}번입니다. 좋은 글입니다.`, meta: {} }),
  );
  await Deno.writeTextFile(`${dir}/ko.jsonl`, docs.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));
  return { rel, outside, secret };
}

/** A run folder to resume whose `name` is a link to the outside log. */
async function linkedRunFolder(p: Planted, name: string): Promise<string> {
  const run = `${p.rel}/run-${name.replace(/\W/g, "")}`;
  await Deno.mkdir(`${ROOT}/${run}`);
  await Deno.writeTextFile(`${ROOT}/${run}/config.json`, "{}");
  await Deno.symlink(`${p.outside}/log.jsonl`, `${ROOT}/${run}/${name}`);
  return run;
}

async function listing(dir: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    names.push(`${e.name}:${e.isFile ? await Deno.readTextFile(`${dir}/${e.name}`) : "dir"}`);
  }
  return names.sort().join("\n");
}

async function expectRefused(p: Planted, args: string[], env: Record<string, string> = {}) {
  const before = await listing(p.outside);
  const r = Object.keys(env).length ? await runWithEnv(args, env) : await runTask(args);
  // eval reports a task it skips as a `warn:` line before its summary error (see below)
  const lines = taskStderrLines(r.stderr).filter((l) => !/^(retrying in|warn: skipped)/.test(l));
  assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  assert.equal(lines.length, 1, `${args.join(" ")}: expected one line, got\n${r.stderr}`);
  assert.match(lines[0], /^error: .*leads to .*outside the folders this task may (read|write)/);
  assert.ok(!r.stdout.includes("secret text") && !r.stderr.includes("secret text"));
  assert.equal(await listing(p.outside), before, `${args.join(" ")} changed the outside folder`);
}

async function runWithEnv(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function cleanup(p: Planted) {
  await Deno.remove(`${ROOT}/${p.rel}`, { recursive: true });
  await Deno.remove(p.outside, { recursive: true });
}

Deno.test("deno task crawl refuses an output folder and a journal that lead outside", async () => {
  const p = await plant();
  const seeds = ["--seeds", "http://127.0.0.1:9/", "--max-pages", "1", "--quiet"];
  await expectRefused(p, ["crawl", ...seeds, "--out", `${p.rel}/evil-link/crawl`]);
  await expectRefused(p, ["crawl", ...seeds, "--out", await linkedRunFolder(p, "journal.jsonl")]);
  await cleanup(p);
});

Deno.test("deno task train tokenize refuses an input and an output that lead outside", async () => {
  const p = await plant();
  const tok = ["train", "tokenize", "--quiet", "--tokenizer", `${p.rel}/tokenizer.json`];
  await expectRefused(p, [...tok, "--output", `${p.rel}/evil-link/all.tok`, `${p.rel}/ko.jsonl`]);
  await expectRefused(p, [...tok, "--output", `${p.rel}/all.tok`, `${p.rel}/secret.jsonl`]);
  await cleanup(p);
});

Deno.test("deno task tokenizer train refuses an input and an output that lead outside", async () => {
  const p = await plant();
  const t = ["tokenizer", "train", "--quiet", "--unigram-vocab", "300", "--add", "10"];
  await expectRefused(p, [...t, "--korean", `${p.rel}/ko.jsonl`, "--output", `${p.rel}/evil-link`]);
  await expectRefused(p, [...t, "--korean", `${p.rel}/secret.jsonl`, "--output", `${p.rel}/tok`]);
  await cleanup(p);
});

Deno.test("deno task eval refuses a run folder, a log and task data that lead outside", async () => {
  const p = await plant();
  const task = (data: string) =>
    `task: mc\ndataset_path: ${data}\noutput_type: multiple_choice\ndoc_to_text: "{{ text }}"\n` +
    'doc_to_choice: "{{ [id, text] }}"\ndoc_to_target: "0"\nmetric_list: [{metric: acc}]\n';
  await Deno.writeTextFile(`${ROOT}/${p.rel}/mc.yaml`, task("ko.jsonl"));
  await Deno.writeTextFile(`${ROOT}/${p.rel}/secret.yaml`, task("secret.jsonl"));
  const ev = ["eval", "run", "--backend", "ngram", "--data-root", p.rel, "--runs-dir", p.rel];
  const ok = [...ev, `${p.rel}/mc.yaml`, "--train-text", `${p.rel}/ko.jsonl`];
  await expectRefused(p, [...ok, "--quiet", "--runs-dir", `${p.rel}/evil-link`]);
  await expectRefused(p, [...ev, `${p.rel}/mc.yaml`, "--train-text", `${p.rel}/secret.jsonl`]);
  // a task file whose data leads outside is skipped with the refusal as its reason
  const skip = await runTask([...ev, `${p.rel}/secret.yaml`, "--train-text", `${p.rel}/ko.jsonl`]);
  assert.equal(skip.code, 2, skip.stderr);
  assert.match(skip.stderr, /^warn: skipped .*secret\.jsonl: leads to .*outside the folders/m);
  assert.ok(!skip.stdout.includes("secret text") && !skip.stderr.includes("secret text"));
  // a finished run whose log.jsonl is then replaced by a link: resuming it appends nothing outside
  const first = await runTask([...ok, "--quiet"]);
  assert.equal(first.code, 0, first.stderr);
  const dir = first.stdout.match(/run folder: (\S+)/)![1];
  await Deno.remove(`${ROOT}/${dir}/log.jsonl`);
  await Deno.symlink(`${p.outside}/log.jsonl`, `${ROOT}/${dir}/log.jsonl`);
  await expectRefused(p, [...ok, "--quiet", "--resume", dir]);
  await cleanup(p);
});

Deno.test("deno task hub pull refuses a destination and a run folder that lead outside", async () => {
  const p = await plant();
  const token = "hf_JikjiSymlinkTest_" + crypto.randomUUID().replaceAll("-", "");
  const hub = await MockHub.start(token);
  try {
    const src = await Deno.makeTempDir();
    await Deno.writeTextFile(`${src}/config.json`, "{}");
    await pushFolder({
      folder: src,
      repo: "jikji/link",
      type: "model",
      token: { token, source: "HF_TOKEN" },
      endpoint: hub.url,
      fetch: retryingFetch({ baseDelayMs: 10 }),
    });
    await Deno.remove(src, { recursive: true });
    const env = { HF_TOKEN: token, HF_ENDPOINT: hub.url };
    const pull = ["hub", "pull", "jikji/link", "--quiet"];
    await expectRefused(p, [...pull, "--to", `${p.rel}/evil-link/snap`, "--runs-dir", p.rel], env);
    await expectRefused(
      p,
      [...pull, "--to", `${p.rel}/snap`, "--runs-dir", `${p.rel}/evil-link`],
      env,
    );
  } finally {
    await hub.close();
  }
  await cleanup(p);
});

Deno.test("deno task filter refuses an input and an output that lead outside", async () => {
  const p = await plant();
  const f = ["filter", "run", "--quiet"];
  await expectRefused(p, [...f, "--input", `${p.rel}/secret.jsonl`, "--output", `${p.rel}/out`]);
  await expectRefused(p, [
    ...f,
    "--input",
    `${p.rel}/ko.jsonl`,
    "--output",
    `${p.rel}/evil-link/o`,
  ]);
  await expectRefused(p, [...f, "--input", `${p.rel}/evil-link`, "--output", `${p.rel}/out2`]);
  await cleanup(p);
});
