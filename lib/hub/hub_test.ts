import assert from "node:assert/strict";
import { resolve } from "node:path";
import { MockHub } from "./mock_hub.ts";
import { pushFolder } from "./push.ts";
import { pullRepo } from "./pull.ts";
import { retryingFetch } from "./http.ts";
import { CARD_MARKER } from "./model_card.ts";
import { UserError } from "../io/errors.ts";
import type { HubToken } from "./auth.ts";

const TOKEN = "hf_JikjiTestToken_" + crypto.randomUUID().replaceAll("-", "");
const token: HubToken = { token: TOKEN, source: "HF_TOKEN" };
const quickFetch = retryingFetch({ baseDelayMs: 10 });
const ROOT = resolve(new URL("../..", import.meta.url).pathname);

/** A tiny valid safetensors file: 8-byte little-endian header length, JSON header, data. */
function tinySafetensors(n: number): Uint8Array {
  const data = new Float32Array(n).map((_, i) => Math.sin(i));
  const header = JSON.stringify({ "w": { dtype: "F32", shape: [n], data_offsets: [0, n * 4] } });
  const h = new TextEncoder().encode(header.padEnd(Math.ceil(header.length / 8) * 8, " "));
  const out = new Uint8Array(8 + h.length + n * 4);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(new Uint8Array(data.buffer), 8 + h.length);
  return out;
}

async function modelFolder(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ architectures: ["LlamaForCausalLM"], hidden_size: 8 }),
  );
  await Deno.writeFile(`${dir}/model.safetensors`, tinySafetensors(3000));
  await Deno.writeFile(`${dir}/optimizer.safetensors`, tinySafetensors(5000));
  await Deno.mkdir(`${dir}/tok`);
  await Deno.writeTextFile(`${dir}/tok/tokenizer.json`, JSON.stringify({ model: { type: "BPE" } }));
  return dir;
}

async function withHub(fn: (hub: MockHub) => Promise<void>): Promise<void> {
  const hub = await MockHub.start(TOKEN);
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

Deno.test("pushFolder() then pullRepo() round-trips a model folder byte for byte", () =>
  withHub(async (hub) => {
    const dir = await modelFolder();
    const r = await pushFolder({
      folder: dir,
      repo: "jikji/tiny",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.equal(r.commits, 1);
    assert.equal(r.card, "generated");
    assert.deepEqual(r.uploaded.sort(), [
      "README.md",
      "config.json",
      "model.safetensors",
      "optimizer.safetensors",
      "tok/tokenizer.json",
    ]);
    // the safetensors files went through LFS, the JSON inline
    assert.equal(
      hub.requests.filter((q) => q.method === "PUT" && q.path.startsWith("/lfs-upload/")).length,
      2,
    );
    const to = await Deno.makeTempDir();
    const p = await pullRepo({
      repo: "jikji/tiny",
      type: "model",
      to,
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.equal(p.downloaded.length, 6); // and the .gitattributes the Hub made at creation
    for (
      const f of ["config.json", "model.safetensors", "optimizer.safetensors", "tok/tokenizer.json"]
    ) {
      assert.deepEqual(await Deno.readFile(`${to}/${f}`), await Deno.readFile(`${dir}/${f}`), f);
    }
    const card = await Deno.readTextFile(`${to}/README.md`);
    assert.match(card, /^---\nlicense: apache-2.0\nlanguage:\n {2}- ko\n {2}- en\n/);
    assert.ok(card.includes("pipeline_tag: text-generation") && card.includes(CARD_MARKER));
    // a second push sends nothing: every file is already there
    const again = await pushFolder({
      folder: dir,
      repo: "jikji/tiny",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.deepEqual(again.uploaded, []);
    assert.equal(again.skipped.length, 4);
    // a pull with --include takes only the matching files, and skips intact ones
    const p2 = await pullRepo({
      repo: "jikji/tiny",
      type: "model",
      to,
      include: ["*.json"],
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.deepEqual(p2.skipped, ["config.json"]);
  }));

Deno.test("an upload interrupted by a dropped connection resumes and sends only what is missing", () =>
  withHub(async (hub) => {
    const dir = await modelFolder();
    hub.faults.dropUploads = 1;
    const noRetry = retryingFetch({ attempts: 1 });
    await assert.rejects(
      pushFolder({
        folder: dir,
        repo: "jikji/cut",
        type: "model",
        token,
        endpoint: hub.url,
        fetch: noRetry,
      }),
      UserError,
    );
    assert.equal(hub.files("jikji/cut").size, 0, "nothing was committed");
    const stored = hub.lfs.size; // LFS objects that made it before the drop
    const before = hub.requests.length;
    await pushFolder({
      folder: dir,
      repo: "jikji/cut",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: noRetry,
    });
    const puts = hub.requests.slice(before).filter((q) =>
      q.method === "PUT" && q.path.startsWith("/lfs-upload/")
    );
    assert.equal(puts.length, 2 - stored, "only the missing LFS objects are sent again");
    assert.equal(hub.files("jikji/cut").size, 5);
  }));

Deno.test("a dropped upload connection is retried within the same push", () =>
  withHub(async (hub) => {
    hub.faults.dropUploads = 1;
    await pushFolder({
      folder: await modelFolder(),
      repo: "jikji/retry",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.equal(hub.files("jikji/retry").size, 5);
  }));

Deno.test("429 answers back off (honouring Retry-After) and then succeed", () =>
  withHub(async (hub) => {
    hub.faults.rateLimit = 2;
    hub.faults.retryAfter = "0.2";
    const retries: number[] = [];
    const f = retryingFetch({ baseDelayMs: 10, onRetry: (r) => void retries.push(r.delayMs) });
    await pushFolder({
      folder: await modelFolder(),
      repo: "jikji/busy",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: f,
    });
    assert.deepEqual(retries, [200, 200]);
    assert.equal(hub.requests.filter((q) => q.status === 429).length, 2);
  }));

Deno.test("a 401 gives one line naming the token's source, never the token", () =>
  withHub(async (hub) => {
    const bad: HubToken = { token: "hf_wrong_token_value_123", source: "token file /x/token" };
    await assert.rejects(
      pushFolder({
        folder: await modelFolder(),
        repo: "jikji/x",
        type: "model",
        token: bad,
        endpoint: hub.url,
        fetch: quickFetch,
      }),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.equal(
          err.message,
          `checking the repo: ${hub.url} refused the token from token file /x/token (401 Unauthorized): check or replace it`,
        );
        return true;
      },
    );
  }));

Deno.test("a corrupted download is detected and fetched again; a partial one resumes with a range", () =>
  withHub(async (hub) => {
    const dir = await modelFolder();
    await pushFolder({
      folder: dir,
      repo: "jikji/dl",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    const to = await Deno.makeTempDir();
    hub.faults.corruptDownload = "model.safetensors";
    const logs: string[] = [];
    const p = await pullRepo({
      repo: "jikji/dl",
      type: "model",
      to,
      token,
      endpoint: hub.url,
      fetch: quickFetch,
      onLog: (m) => void logs.push(m),
    });
    assert.deepEqual(p.refetched, ["model.safetensors"]);
    assert.match(logs[0], /model\.safetensors: content does not match the Hub's hash/);
    assert.deepEqual(
      await Deno.readFile(`${to}/model.safetensors`),
      await Deno.readFile(`${dir}/model.safetensors`),
    );
    // a partial file left by an interrupted pull: the rest is fetched with a Range request
    const full = await Deno.readFile(`${dir}/optimizer.safetensors`);
    const to2 = await Deno.makeTempDir();
    await Deno.mkdir(`${to2}/.jikji-partial`, { recursive: true });
    await Deno.writeFile(
      `${to2}/.jikji-partial/optimizer.safetensors.part`,
      full.subarray(0, 7000),
    );
    const p2 = await pullRepo({
      repo: "jikji/dl",
      type: "model",
      to: to2,
      include: ["optimizer.*"],
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.deepEqual(p2.resumed, ["optimizer.safetensors"]);
    assert.equal(p2.bytes, full.length - 7000);
    assert.ok(hub.requests.some((q) => q.range === "bytes=7000-"));
    assert.deepEqual(await Deno.readFile(`${to2}/optimizer.safetensors`), full);
    assert.deepEqual([...Deno.readDirSync(to2)].map((e) => e.name), ["optimizer.safetensors"]);
  }));

Deno.test("a hand-written card on the Hub is kept unless overwriteCard is given", () =>
  withHub(async (hub) => {
    const first = await Deno.makeTempDir();
    await Deno.writeTextFile(`${first}/README.md`, "# My own card\n");
    await pushFolder({
      folder: first,
      repo: "jikji/card",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    const dir = await modelFolder();
    const r = await pushFolder({
      folder: dir,
      repo: "jikji/card",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.equal(r.card, "kept hand-written on the Hub");
    assert.equal(
      new TextDecoder().decode(hub.files("jikji/card").get("README.md")),
      "# My own card\n",
    );
    const r2 = await pushFolder({
      folder: dir,
      repo: "jikji/card",
      type: "model",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
      overwriteCard: true,
    });
    assert.equal(r2.card, "generated");
    assert.ok(
      new TextDecoder().decode(hub.files("jikji/card").get("README.md")).includes(CARD_MARKER),
    );
  }));

Deno.test("pushFolder() pushes to another branch and a dataset repo", () =>
  withHub(async (hub) => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/data.jsonl`, '{"id":"1","text":"안녕","meta":{}}\n');
    await pushFolder({
      folder: dir,
      repo: "jikji/ds",
      type: "dataset",
      revision: "v1",
      token,
      endpoint: hub.url,
      fetch: quickFetch,
    });
    assert.ok(hub.files("jikji/ds", "dataset", "v1").has("data.jsonl"));
    assert.ok(!hub.files("jikji/ds", "dataset", "main").has("data.jsonl"));
  }));

Deno.test("deno task hub push and pull never show the token in output, run folders or cards", () =>
  withHub(async (hub) => {
    const runs = `runs/test-tmp/hub-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${ROOT}/${runs}`, { recursive: true });
    const src = `${runs}/model`;
    await Deno.mkdir(`${ROOT}/${src}`);
    await Deno.writeTextFile(`${ROOT}/${src}/config.json`, JSON.stringify({ note: "x" }));
    await Deno.writeFile(`${ROOT}/${src}/model.safetensors`, tinySafetensors(100));
    const env = { HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url, NO_COLOR: "1" };
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "hub", ...args],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outputs: string[] = [];
    const push = await run(["push", src, "--repo", "jikji/task", "--runs-dir", runs]);
    outputs.push(new TextDecoder().decode(push.stdout), new TextDecoder().decode(push.stderr));
    assert.equal(push.code, 0, outputs.join("\n"));
    const pull = await run(["pull", "jikji/task", "--to", `${runs}/pulled`, "--runs-dir", runs]);
    outputs.push(new TextDecoder().decode(pull.stdout), new TextDecoder().decode(pull.stderr));
    assert.equal(pull.code, 0, outputs.join("\n"));
    assert.match(outputs[0], /pushed 3 file\(s\) in 1 commit\(s\)/);
    // a failing call (wrong repo) prints one line, without the token either
    const fail = await run(["pull", "jikji/missing", "--to", `${runs}/x`, "--runs-dir", runs]);
    const failErr = new TextDecoder().decode(fail.stderr).trim();
    assert.equal(fail.code, 2);
    assert.equal(failErr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
    outputs.push(failErr);
    for (const text of outputs) assert.ok(!text.includes(TOKEN), "token in output");
    const walk = async (dir: string): Promise<void> => {
      for await (const e of Deno.readDir(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else assert.ok(!(await Deno.readTextFile(p)).includes(TOKEN), `token in ${p}`);
      }
    };
    await walk(`${ROOT}/${runs}`);
    for (const bytes of hub.files("jikji/task").values()) {
      assert.ok(!new TextDecoder().decode(bytes).includes(TOKEN), "token in a pushed file");
    }
    await Deno.remove(`${ROOT}/${runs}`, { recursive: true });
  }));
