import assert from "node:assert/strict";
import { fetchPage, type FetchSettings, retryAfterMs } from "./fetcher.ts";
import { HostGate } from "./politeness.ts";

const SETTINGS: FetchSettings = {
  userAgent: "JikjiBot/0.1",
  timeoutMs: 2000,
  maxBytes: 1000,
  maxRedirects: 2,
  retries: 2,
  backoffMs: 1,
  maxRetryAfterMs: 5000,
  acceptTypes: ["text/html"],
};

function serve(handler: (req: Request, n: number) => Response | Promise<Response>) {
  const counts = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const p = new URL(req.url).pathname;
    const n = (counts.get(p) ?? 0) + 1;
    counts.set(p, n);
    return handler(req, n);
  });
  return { origin: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`, counts, server };
}

Deno.test("retryAfterMs() reads seconds and HTTP dates", () => {
  assert.equal(retryAfterMs("3"), 3000);
  const now = Date.parse("Sun, 23 Nov 2025 00:00:00 GMT");
  assert.equal(retryAfterMs("Sun, 23 Nov 2025 00:00:10 GMT", now), 10_000);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

Deno.test("fetchPage() enforces the redirect limit, the size cap and the content type", async () => {
  const { origin, server } = serve((req) => {
    const p = new URL(req.url).pathname;
    const m = /^\/hop([1-3])$/.exec(p);
    if (m) return new Response(null, { status: 302, headers: { location: `/hop${+m[1] + 1}` } });
    if (p === "/big") {
      return new Response("가".repeat(1000), { headers: { "content-type": "text/html" } });
    }
    if (p === "/declared") {
      return new Response("x".repeat(2000), {
        headers: { "content-type": "text/html", "content-length": "2000" },
      });
    }
    if (p === "/json") {
      return new Response("{}", { headers: { "content-type": "application/json" } });
    }
    if (p === "/slow") return new Promise((r) => setTimeout(() => r(new Response("late")), 500));
    return new Response("<p>ok</p>", { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  const gate = new HostGate(0);
  try {
    const hops = await fetchPage(`${origin}/hop1`, SETTINGS, { gate });
    assert.equal(hops.outcome, "too_many_redirects");
    assert.equal(hops.requests, 3);
    const ok = await fetchPage(`${origin}/hop1`, { ...SETTINGS, maxRedirects: 3 }, { gate });
    assert.equal(ok.outcome, "ok");
    assert.equal(ok.finalUrl, `${origin}/hop4`);
    assert.deepEqual(ok.redirects, [2, 3, 4].map((i) => `${origin}/hop${i}`));
    assert.equal((await fetchPage(`${origin}/big`, SETTINGS, { gate })).outcome, "too_large");
    assert.equal((await fetchPage(`${origin}/declared`, SETTINGS, { gate })).outcome, "too_large");
    const cut = await fetchPage(`${origin}/big`, { ...SETTINGS, truncate: true }, { gate });
    assert.equal(cut.outcome, "ok");
    assert.equal(cut.body!.length, 1000);
    const json = await fetchPage(`${origin}/json`, SETTINGS, { gate });
    assert.equal(json.outcome, "bad_content_type");
    const slow = await fetchPage(`${origin}/slow`, { ...SETTINGS, timeoutMs: 100, retries: 0 }, {
      gate,
    });
    assert.equal(slow.outcome, "timeout");
    const page = await fetchPage(`${origin}/page`, SETTINGS, { gate });
    assert.equal(page.outcome, "ok");
    assert.equal(new TextDecoder().decode(page.body), "<p>ok</p>");
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetchPage() retries 5xx with backoff and gives up on a long Retry-After", async () => {
  const { origin, counts, server } = serve((req, n) => {
    const p = new URL(req.url).pathname;
    if (p === "/down") return new Response("no", { status: 503 });
    if (p === "/later") {
      return new Response("no", { status: 429, headers: { "retry-after": "3600" } });
    }
    if (p === "/flaky" && n < 3) return new Response("no", { status: 500 });
    return new Response("<p>ok</p>", { headers: { "content-type": "text/html" } });
  });
  const gate = new HostGate(0);
  const sleeps: number[] = [];
  const sleep = (ms: number) => (sleeps.push(ms), Promise.resolve());
  try {
    const down = await fetchPage(`${origin}/down`, SETTINGS, { gate, sleep });
    assert.equal(down.outcome, "http_error");
    assert.equal(down.status, 503);
    assert.equal(counts.get("/down"), 3);
    assert.deepEqual(sleeps, [1, 2]); // exponential backoff
    const flaky = await fetchPage(`${origin}/flaky`, SETTINGS, { gate, sleep });
    assert.equal(flaky.outcome, "ok");
    assert.equal(flaky.requests, 3);
    const later = await fetchPage(`${origin}/later`, SETTINGS, { gate, sleep });
    assert.equal(later.outcome, "retry_after_too_long");
    assert.equal(counts.get("/later"), 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetchPage() asks before every redirect hop and detects loops", async () => {
  const { origin, counts, server } = serve((req) => {
    const p = new URL(req.url).pathname;
    if (p === "/a") return new Response(null, { status: 301, headers: { location: "/b" } });
    if (p === "/b") return new Response(null, { status: 301, headers: { location: "/a#x" } });
    if (p === "/to-secret") {
      return new Response(null, { status: 302, headers: { location: "/secret" } });
    }
    return new Response("<p>secret</p>", { headers: { "content-type": "text/html" } });
  });
  const gate = new HostGate(0);
  try {
    const loop = await fetchPage(`${origin}/a`, SETTINGS, { gate });
    assert.equal(loop.outcome, "redirect_loop");
    const refused = await fetchPage(`${origin}/to-secret`, SETTINGS, {
      gate,
      check: (u) => Promise.resolve(u.endsWith("/secret") ? "robots" : undefined),
    });
    assert.equal(refused.outcome, "refused");
    assert.equal(refused.detail, "robots");
    assert.equal(counts.get("/secret"), undefined);
  } finally {
    await server.shutdown();
  }
});
