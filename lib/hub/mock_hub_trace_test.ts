import assert from "node:assert/strict";
import {
  fidelityHub,
  pythonWithHubClient,
  replayTrace,
  runFidelity,
  type Trace,
} from "./mock_hub_trace.ts";

const TRACE = new URL("./testdata/hf_client_trace.json", import.meta.url);

Deno.test("replayTrace(): the test Hub answers the official Python client's recorded exchanges exactly", async () => {
  const trace: Trace = JSON.parse(await Deno.readTextFile(TRACE));
  assert.match(trace.client, /^huggingface_hub \d/);
  // the recording covers the protocol's paths: a multipart upload, a paginated tree, a CDN
  // redirect followed without the token, and each error code
  const x = trace.exchanges;
  assert.ok(x.some((e) => e.url.startsWith("/api/complete_multipart") && e.status === 200));
  assert.ok(x.some((e) => e.responseHeaders.link?.includes('rel="next"')));
  assert.ok(x.some((e) => e.status === 302 && e.responseHeaders.location?.startsWith("{CDN}/")));
  assert.ok(x.filter((e) => e.origin === "cdn").every((e) => !e.headers.authorization));
  for (const code of ["RepoNotFound", "GatedRepo", "RevisionNotFound", "EntryNotFound"]) {
    assert.ok(x.some((e) => e.responseHeaders["x-error-code"] === code), code);
  }
  assert.ok(x.some((e) => e.status === 412) && x.some((e) => e.url.includes("create_pr=1")));
  assert.deepEqual(await replayTrace(trace), []);
});

Deno.test("replayTrace() reports an answer that differs from the recording", async () => {
  const trace: Trace = JSON.parse(await Deno.readTextFile(TRACE));
  const i = trace.exchanges.findIndex((e) => e.responseHeaders["x-repo-commit"]);
  trace.exchanges[i] = {
    ...trace.exchanges[i],
    responseHeaders: { ...trace.exchanges[i].responseHeaders, "x-repo-commit": "0".repeat(40) },
  };
  const diffs = await replayTrace({ ...trace, exchanges: trace.exchanges.slice(0, i + 1) });
  assert.equal(diffs.length, 1);
  assert.match(diffs[0], /header x-repo-commit [0-9a-f]{40}, recorded 0{40}/);
});

const found = await pythonWithHubClient();
Deno.test({
  name:
    "the official Python client (huggingface_hub) passes the fidelity script against the test Hub",
  ignore: !found,
  fn: async () => {
    const hub = await fidelityHub();
    try {
      const run = await runFidelity(found!.python, hub);
      assert.ok(run.ok, `${run.report}\n${run.stderr.split("\n").slice(-20).join("\n")}`);
    } finally {
      await hub.close();
    }
  },
});
if (!found) {
  console.error(
    "mock_hub_trace_test: huggingface_hub is not installed: the live run is skipped; the recorded trace is replayed (set JIKJI_HF_PYTHON to a python that has it)",
  );
}
