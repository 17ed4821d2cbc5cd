/**
 * Test support: the official Python client's HTTP exchanges with the test Hub, recorded once and
 * replayed in CI (where `huggingface_hub` is not installed).
 *
 * {@linkcode fidelityHub} starts the test Hub as the fidelity script
 * (`python/hf_client_fidelity.py`) expects it; {@linkcode runFidelity} runs that script against
 * it; {@linkcode replayTrace} sends each recorded request to a fresh hub and reports every
 * answer that differs from the recorded one (status, protocol headers, body). Addresses are
 * written as `{HUB}` and `{CDN}` in the trace.
 *
 * Record (needs `huggingface_hub` for the python given):
 *
 *     deno run --allow-net=127.0.0.1,localhost --allow-run --allow-read --allow-write=lib/hub/testdata,/tmp \
 *       --allow-env lib/hub/mock_hub_trace.ts /path/to/python lib/hub/testdata/hf_client_trace.json
 *
 * Not used by product code.
 *
 * @module
 */

import { MockHub, type RecordedExchange, RESPONSE_HEADERS } from "./mock_hub.ts";

/** The write token of user "jikji" in the fidelity run. */
export const FIDELITY_TOKEN = "hf_fidelityWriteToken0123456789";
/** A read-only token of user "reader" (no grants). */
export const FIDELITY_READ_TOKEN = "hf_fidelityReadToken0123456789";

/** A recorded run: who made it and the exchanges. */
export interface Trace {
  client: string;
  exchanges: RecordedExchange[];
}

/** Starts the test Hub set up for the fidelity script. */
export async function fidelityHub(): Promise<MockHub> {
  const hub = await MockHub.start(FIDELITY_TOKEN, {
    treePageSize: 3,
    singlePartLimit: 16_000,
    partSize: 8192,
  });
  hub.addToken(FIDELITY_READ_TOKEN, { user: "reader", write: false });
  hub.seedRepo("others/public", {
    files: { "weights.safetensors": new Uint8Array(4096).fill(7), "config.json": "{}" },
  });
  hub.seedRepo("others/private", { private: true, files: { "config.json": "{}" } });
  hub.seedRepo("others/gated", { gated: "manual", files: { "config.json": "{}" } });
  hub.seedRepo("reader/notes", { files: { "notes.txt": "hello" } });
  return hub;
}

/**
 * The first Python (`JIKJI_HF_PYTHON` when set, else python3 or /usr/bin/python3) where every
 * module of `modules` imports, with the version of the first; undefined when none.
 */
export async function findPython(
  modules: string[],
  candidates = Deno.env.get("JIKJI_HF_PYTHON")
    ? [Deno.env.get("JIKJI_HF_PYTHON")!]
    : ["python3", "/usr/bin/python3"],
): Promise<{ python: string; version: string } | undefined> {
  const code = `import ${modules.join(", ")}; print(${modules[0]}.__version__)`;
  for (const python of candidates.filter((c) => c)) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", code],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) return { python, version: new TextDecoder().decode(out.stdout).trim() };
    } catch { /* not installed */ }
  }
  return undefined;
}

/** The Python where `huggingface_hub` imports, if any. */
export function pythonWithHubClient(
  candidates?: string[],
): Promise<{ python: string; version: string } | undefined> {
  return findPython(["huggingface_hub"], candidates);
}

/** Runs the fidelity script with `python` against `hub`; its JSON report and exit status. */
export async function runFidelity(
  python: string,
  hub: MockHub,
): Promise<{ ok: boolean; report: string; stderr: string }> {
  const work = await Deno.makeTempDir({ prefix: "jikji-fidelity-" });
  try {
    const out = await new Deno.Command(python, {
      args: [new URL("./python/hf_client_fidelity.py", import.meta.url).pathname],
      env: {
        HF_ENDPOINT: hub.url,
        HF_TOKEN: FIDELITY_TOKEN,
        FIDELITY_READ_TOKEN,
        FIDELITY_WORK: work,
        HF_HOME: `${work}/home`,
        HF_HUB_DISABLE_TELEMETRY: "1",
        HF_HUB_DISABLE_PROGRESS_BARS: "1",
        HF_HUB_DISABLE_XET: "1", // the test Hub speaks LFS, not Xet (as Jikji does)
        NO_PROXY: "127.0.0.1,localhost",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      report: dec.decode(out.stdout).trim(),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

function _placeholders(text: string, hub: MockHub): string {
  return text.replaceAll(hub.url, "{HUB}").replaceAll(hub.cdnUrl, "{CDN}");
}

function _fill(text: string, hub: MockHub): string {
  return text.replaceAll("{HUB}", hub.url).replaceAll("{CDN}", hub.cdnUrl);
}

function _b64ToBytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function _bytesToB64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A body with the hub's addresses replaced (text bodies only; binary ones unchanged). */
function _mapBody(b64: string | undefined, f: (s: string) => string): string | undefined {
  if (!b64) return b64;
  const bytes = _b64ToBytes(b64);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return b64;
  }
  return _bytesToB64(new TextEncoder().encode(f(text)));
}

/** The hub's recording as a portable trace (addresses as placeholders). */
export function toTrace(hub: MockHub, client: string): Trace {
  const p = (s: string) => _placeholders(s, hub);
  return {
    client,
    exchanges: hub.recorded.map((x) => ({
      ...x,
      url: p(x.url),
      headers: Object.fromEntries(Object.entries(x.headers).map(([k, v]) => [k, p(v)])),
      body: _mapBody(x.body, p),
      responseHeaders: Object.fromEntries(
        Object.entries(x.responseHeaders).map(([k, v]) => [k, p(v)]),
      ),
      responseBody: _mapBody(x.responseBody, p),
    })),
  };
}

/** `ratelimit`'s remaining count depends on the order of concurrent requests: compared by shape. */
function _comparable(name: string, value: string): string {
  return name === "ratelimit" ? value.replace(/;r=\d+;/, ";r=N;") : value;
}

/**
 * Replays `trace` against a fresh hub from {@linkcode fidelityHub}; returns one line per
 * difference (empty when every answer matches).
 */
export async function replayTrace(trace: Trace): Promise<string[]> {
  const hub = await fidelityHub();
  const diffs: string[] = [];
  try {
    for (const [i, x] of trace.exchanges.entries()) {
      const base = x.origin === "hub" ? hub.url : hub.cdnUrl;
      const url = _fill(x.url, hub);
      const body = _mapBody(x.body, (s) => _fill(s, hub));
      const res = await fetch(url.startsWith("http") ? url : base + url, {
        method: x.method,
        headers: Object.fromEntries(Object.entries(x.headers).map(([k, v]) => [k, _fill(v, hub)])),
        body: body ? _b64ToBytes(body) as Uint8Array<ArrayBuffer> : undefined,
        redirect: "manual",
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const what = `#${i} ${x.method} ${x.url}`;
      if (res.status !== x.status) {
        diffs.push(`${what}: status ${res.status}, recorded ${x.status}`);
      }
      for (const name of RESPONSE_HEADERS) {
        const got = res.headers.get(name);
        const want = x.responseHeaders[name];
        // the server adds content-length when it sends a body; the recording has it where set
        if (name === "content-length" && want === undefined) continue;
        const g = got === null ? undefined : _comparable(name, _placeholders(got, hub));
        const w = want === undefined ? undefined : _comparable(name, want);
        if (g !== w) diffs.push(`${what}: header ${name} ${g}, recorded ${w}`);
      }
      const got = bytes.length
        ? _mapBody(_bytesToB64(bytes), (s) => _placeholders(s, hub))
        : undefined;
      if (x.method !== "HEAD" && got !== x.responseBody) diffs.push(`${what}: the body differs`);
    }
  } finally {
    await hub.close();
  }
  return diffs;
}

if (import.meta.main) {
  const [python, out] = Deno.args;
  if (!python || !out) {
    console.error("usage: mock_hub_trace.ts PYTHON OUT.json");
    Deno.exit(2);
  }
  const found = await pythonWithHubClient([python]);
  if (!found) {
    console.error(`${python}: huggingface_hub does not import there (pip install huggingface_hub)`);
    Deno.exit(2);
  }
  const hub = await fidelityHub();
  hub.recording = true;
  const run = await runFidelity(python, hub);
  await hub.close();
  if (!run.ok) {
    console.error(run.report, run.stderr.split("\n").slice(-30).join("\n"));
    Deno.exit(1);
  }
  const trace = toTrace(hub, `huggingface_hub ${found.version}`);
  await Deno.writeTextFile(out, JSON.stringify(trace, null, 2) + "\n");
  console.log(`${run.report}\nwrote ${out}: ${trace.exchanges.length} exchanges`);
}
