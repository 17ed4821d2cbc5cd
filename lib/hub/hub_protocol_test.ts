import assert from "node:assert/strict";
import { MockHub, type MockHubOptions } from "./mock_hub.ts";
import { pushFolder } from "./push.ts";
import { pullRepo } from "./pull.ts";
import { rateLimitResetMs, retryingFetch } from "./http.ts";
import { UserError } from "../io/errors.ts";
import type { HubToken } from "./auth.ts";

const TOKEN = "hf_JikjiProtoToken_" + crypto.randomUUID().replaceAll("-", "");
const token: HubToken = { token: TOKEN, source: "HF_TOKEN" };
const READER: HubToken = { token: "hf_reader_token_0123456789", source: "token file /r/token" };
const quick = retryingFetch({ baseDelayMs: 10 });

/** n bytes of a binary file (NULs in it), different per seed. */
function binary(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i % 7 ? (i * 31 + seed * 17) & 0xff : 0));
}

async function folder(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [path, content] of Object.entries(files)) {
    if (path.includes("/")) {
      await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    }
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${path}`, content);
    else await Deno.writeFile(`${dir}/${path}`, content);
  }
  return dir;
}

async function withHub(fn: (hub: MockHub) => Promise<void>, o: MockHubOptions = {}): Promise<void> {
  const hub = await MockHub.start(TOKEN, o);
  hub.addToken(READER.token, { user: "reader", write: false });
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

const push = (hub: MockHub, dir: string, extra: Partial<Parameters<typeof pushFolder>[0]> = {}) =>
  pushFolder({
    folder: dir,
    repo: "jikji/m",
    type: "model",
    token,
    endpoint: hub.url,
    fetch: quick,
    ...extra,
  });

const pull = (hub: MockHub, extra: Partial<Parameters<typeof pullRepo>[0]> = {}) =>
  Deno.makeTempDir().then((to) =>
    pullRepo({
      repo: "jikji/m",
      type: "model",
      to,
      token,
      endpoint: hub.url,
      fetch: quick,
      ...extra,
    })
      .then((r) => ({ ...r, to }))
  );

Deno.test("pullRepo() follows the 302 to the CDN host and sends it no token", () =>
  withHub(async (hub) => {
    await push(hub, await folder({ "model.safetensors": binary(3000), "config.json": "{}" }));
    const before = hub.requests.length;
    const p = await pull(hub);
    assert.deepEqual(await Deno.readFile(`${p.to}/model.safetensors`), binary(3000));
    const seen = hub.requests.slice(before);
    assert.ok(
      seen.some((q) =>
        q.origin === "hub" && q.status === 302 && q.path.endsWith("/model.safetensors")
      ),
    );
    const cdn = seen.filter((q) => q.origin === "cdn");
    assert.equal(cdn.length, 1);
    assert.equal(cdn[0].auth, false, "the CDN got the token");
    assert.equal(cdn[0].status, 200);
  }));

Deno.test("pushFolder() uploads a file above the single-part limit in parts, resending only a dropped part", () =>
  withHub(async (hub) => {
    const big = binary(20_000, 3); // 5 parts of 4096 bytes (the last 3616)
    hub.faults.dropUploads = 1;
    hub.faults.dropPart = 3;
    const r = await push(hub, await folder({ "model.safetensors": big }));
    assert.ok(r.uploaded.includes("model.safetensors"));
    const parts = hub.requests.filter((q) => q.origin === "cdn" && q.path.startsWith("/lfs-part/"));
    const count = (n: number) => parts.filter((q) => q.path.split("?")[0].endsWith(`/${n}`)).length;
    assert.deepEqual([1, 2, 3, 4, 5].map(count), [1, 1, 2, 1, 1]);
    assert.ok(parts.some((q) => q.status === 0), "part 3 was dropped once");
    assert.ok(
      hub.requests.some((q) => q.path.startsWith("/api/complete_multipart") && q.status === 200),
    );
    assert.ok(!hub.requests.some((q) => q.path.startsWith("/lfs-upload/")), "no single-part PUT");
    assert.deepEqual(hub.files("jikji/m").get("model.safetensors"), big);
  }, { singlePartLimit: 10_000, partSize: 4096 }));

Deno.test("pullRepo() reads a public repo anonymously, sending no Authorization anywhere", () =>
  withHub(async (hub) => {
    hub.seedRepo("others/public", {
      files: { "w.safetensors": binary(2048), "config.json": "{}" },
    });
    const before = hub.requests.length;
    const p = await pull(hub, { repo: "others/public", token: null });
    assert.deepEqual(p.downloaded.sort(), [".gitattributes", "config.json", "w.safetensors"]);
    assert.ok(hub.requests.slice(before).every((q) => !q.auth));
  }));

Deno.test("push and pull work on a branch with '/' and pull takes a commit id", () =>
  withHub(async (hub) => {
    const dir = await folder({ "config.json": '{"a":1}' });
    await push(hub, dir);
    const first = hub.head("jikji/m")!;
    await Deno.writeTextFile(`${dir}/config.json`, '{"a":2}');
    await push(hub, dir, { revision: "exp/lr-1e-4" });
    assert.equal(
      new TextDecoder().decode(hub.files("jikji/m", "model", "exp/lr-1e-4").get("config.json")),
      '{"a":2}',
    );
    assert.equal(new TextDecoder().decode(hub.files("jikji/m").get("config.json")), '{"a":1}');
    const onBranch = await pull(hub, { revision: "exp/lr-1e-4" });
    assert.equal(await Deno.readTextFile(`${onBranch.to}/config.json`), '{"a":2}');
    const atCommit = await pull(hub, { revision: first });
    assert.equal(await Deno.readTextFile(`${atCommit.to}/config.json`), '{"a":1}');
    assert.ok(hub.requests.some((q) => q.path.includes("/tree/exp%2Flr-1e-4")));
  }));

Deno.test("pushing to a new branch sends only what the Hub lacks", () =>
  withHub(async (hub) => {
    const dir = await folder({
      "model.safetensors": binary(5000),
      "config.json": "{}",
      "tok/tokenizer.json": '{"model":{}}',
    });
    await push(hub, dir);
    await Deno.writeTextFile(`${dir}/tok/tokenizer.json`, '{"model":{"changed":true}}');
    const before = hub.requests.length;
    const r = await push(hub, dir, { revision: "run-2" });
    assert.deepEqual(r.uploaded, ["tok/tokenizer.json"]);
    assert.deepEqual(r.skipped.sort(), ["config.json", "model.safetensors"]);
    assert.ok(!hub.requests.slice(before).some((q) => q.origin === "cdn"), "no LFS upload");
    assert.equal(hub.files("jikji/m", "model", "run-2").size, 4);
  }));

Deno.test("Hub refusals become one line by X-Error-Code: gated, private, missing revision, read-only token", () =>
  withHub(async (hub) => {
    hub.seedRepo("others/gated", { gated: "manual", files: { "config.json": "{}" } });
    hub.seedRepo("others/private", { private: true, files: { "config.json": "{}" } });
    hub.seedRepo("reader/notes", { files: { "a.txt": "a" } });
    const rejects = (p: Promise<unknown>, re: RegExp) =>
      assert.rejects(p, (err: Error) => {
        assert.ok(err instanceof UserError, String(err));
        assert.match(err.message, re);
        assert.ok(!err.message.includes("\n"));
        return true;
      });
    await rejects(
      pull(hub, { repo: "others/gated", token: READER }),
      /others\/gated is gated: accept the licence on the Hub \(http:\/\/127\.0\.0\.1:\d+\/others\/gated\) with the account of the token from token file \/r\/token$/,
    );
    await rejects(
      pull(hub, { repo: "others/gated", token: null }),
      /is gated: accept the licence on the Hub .* while logged in, then set HF_TOKEN/,
    );
    await rejects(
      pull(hub, { repo: "others/private", token: null }),
      /others\/private was not found on .* \(or it is private: set HF_TOKEN or run `huggingface-cli login`\)$/,
    );
    await rejects(
      pull(hub, { repo: "others/private", token: READER }),
      /or it is private and the token from token file \/r\/token has no access to it/,
    );
    await rejects(
      pull(hub, { repo: "reader/notes", revision: "nope/x" }),
      /reader\/notes has no revision "nope\/x" \(check --revision/,
    );
    await rejects(
      push(hub, await folder({ "a.txt": "b" }), { repo: "reader/notes", token: READER }),
      /the token from token file \/r\/token may not write to reader\/notes \(403 Forbidden: .*\): use a write token/,
    );
    await rejects(
      push(hub, await folder({ "a.txt": "b" }), { repo: "others/private" }),
      /^creating the repo: the token from HF_TOKEN may not write to others\/private \(403 Forbidden: You don't have the rights to create a model under the namespace "others"\)/,
    );
  }));

Deno.test("rateLimitResetMs() reads the Hub's RateLimit header only when no requests are left", () => {
  assert.equal(rateLimitResetMs('"api";r=0;t=55'), 55_000);
  assert.equal(rateLimitResetMs('"api";r=12;t=55'), undefined);
  assert.equal(rateLimitResetMs(null), undefined);
});

Deno.test("retryingFetch() waits as the RateLimit header says, retries 5xx and stalls, survives a dropped connection", () =>
  withHub(async (hub) => {
    await push(hub, await folder({ "config.json": "{}" }));
    const waits: { delayMs: number; reason: string }[] = [];
    const f = retryingFetch({
      baseDelayMs: 10,
      timeoutMs: 300,
      onRetry: (r) => void waits.push(r),
    });
    hub.faults = {
      rateLimit: 1,
      rateLimitReset: 1,
      serverErrors: 1,
      stall: 1,
      stallMs: 2000,
      dropRequests: 1,
    };
    const p = await pull(hub, { fetch: f });
    assert.ok(p.downloaded.includes("config.json"));
    assert.ok(
      waits.some((w) => w.delayMs === 1000 && w.reason === "HTTP 429"),
      JSON.stringify(waits),
    );
    assert.ok(waits.some((w) => w.reason === "HTTP 503"));
    assert.ok(waits.some((w) => w.reason === "no answer within 300 ms"));
    // (a dropped keep-alive connection may be retried by the runtime's own client first)
    assert.ok(hub.requests.some((q) => q.status === 0), "a connection was dropped");
  }));

Deno.test("the test Hub refuses a commit to an unknown branch, on a bogus or stale parent, and opens PRs off main", () =>
  withHub(async (hub) => {
    hub.seedRepo("jikji/c", { files: { "a.txt": "a" } });
    const head = hub.head("jikji/c")!;
    const commit = (rev: string, header: Record<string, unknown>, query = "") =>
      fetch(`${hub.url}/api/models/jikji/c/commit/${encodeURIComponent(rev)}${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-ndjson" },
        body: [
          { key: "header", value: { summary: "s", ...header } },
          { key: "file", value: { path: "b.txt", content: btoa("b"), encoding: "base64" } },
        ].map((l) => JSON.stringify(l)).join("\n"),
      }).then(async (r) => ({
        status: r.status,
        code: r.headers.get("x-error-code"),
        body: await r.json(),
      }));
    assert.deepEqual((await commit("nope", {})).code, "RevisionNotFound");
    assert.equal((await commit("main", { parentCommit: "f".repeat(40) })).code, "RevisionNotFound");
    const first = hub.repos.get("model:jikji/c")!.commits.get(head)!.parents[0];
    assert.equal((await commit("main", { parentCommit: first })).status, 412);
    const pr = await commit("main", { parentCommit: head }, "?create_pr=1");
    assert.equal(pr.status, 200);
    assert.match(pr.body.pullRequestUrl, /\/jikji\/c\/discussions\/1$/);
    assert.equal(hub.head("jikji/c"), head, "main did not move");
    assert.ok(hub.files("jikji/c", "model", "refs/pr/1").has("b.txt"));
    const ok = await commit("main", { parentCommit: head });
    assert.match(ok.body.commitOid, /^[0-9a-f]{40}$/);
    // paths-info and a non-recursive listing with folders
    const info = await fetch(`${hub.url}/api/models/jikji/c/paths-info/main`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ paths: ["a.txt", "missing"] }),
    }).then((r) => r.json());
    assert.deepEqual(info.map((e: { path: string }) => e.path), ["a.txt"]);
  }));
