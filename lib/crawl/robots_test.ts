import assert from "node:assert/strict";
import { parseRobots, ROBOTS_MAX_BYTES, ROBOTS_TTL_MS, RobotsCache } from "./robots.ts";

const UA = "JikjiBot/0.1 (+https://example.org/bot)";

Deno.test("parseRobots() lets the longest match win and Allow win ties", () => {
  const r = parseRobots(
    [
      "User-agent: *",
      "Disallow: /private",
      "Allow: /private/open",
      "Disallow: /tie",
      "Allow: /tie",
      "Disallow: /*.pdf$",
      "Disallow: /q?*secret",
      "Disallow:",
    ].join("\n"),
    UA,
  );
  assert.equal(r.isAllowed("/private/x"), false);
  assert.equal(r.isAllowed("/private/open/x"), true);
  assert.equal(r.isAllowed("/tie"), true);
  assert.equal(r.isAllowed("/a/b.pdf"), false);
  assert.equal(r.isAllowed("/a/b.pdf?x=1"), true);
  assert.equal(r.isAllowed("/q?a=secret"), false);
  assert.equal(r.isAllowed("/public"), true);
  assert.equal(r.isAllowed("/robots.txt"), true);
});

Deno.test("parseRobots() picks our agent's groups, merged, over *", () => {
  const text = [
    "User-agent: *",
    "Disallow: /",
    "",
    "User-agent: OtherBot",
    "User-agent: jikjibot",
    "Disallow: /a",
    "Crawl-delay: 2",
    "",
    "User-agent: JikjiBot",
    "Disallow: /b # comment",
    "Sitemap: http://h/sitemap.xml",
  ].join("\r\n");
  const r = parseRobots(text, UA);
  assert.equal(r.isAllowed("/a"), false);
  assert.equal(r.isAllowed("/b"), false);
  assert.equal(r.isAllowed("/c"), true);
  assert.equal(r.crawlDelay, 2);
  assert.deepEqual(r.sitemaps, ["http://h/sitemap.xml"]);
  assert.equal(parseRobots(text, "SomeoneElse/1").isAllowed("/c"), false);
});

Deno.test("parseRobots() matches non-ASCII patterns against percent-encoded paths", () => {
  const r = parseRobots("User-agent: *\nDisallow: /비밀", UA);
  assert.equal(r.isAllowed(new URL("http://h/비밀/글").pathname), false);
  assert.equal(r.isAllowed(new URL("http://h/공개").pathname), true);
});

Deno.test("RobotsCache.isAllowed() applies status rules and caches for 24 h", async () => {
  let now = 1_000_000;
  const calls: string[] = [];
  const replies: Record<string, { status: number; body?: Uint8Array }> = {
    "http://ok/robots.txt": {
      status: 200,
      body: new TextEncoder().encode("User-agent: *\nDisallow: /x"),
    },
    "http://gone/robots.txt": { status: 404 },
    "http://err/robots.txt": { status: 503 },
    "http://slow/robots.txt": { status: 429 },
  };
  const cache = new RobotsCache(UA, (url) => {
    calls.push(url);
    if (url === "http://down/robots.txt") return Promise.reject(new Error("refused"));
    return Promise.resolve(replies[url]);
  }, { now: () => now });
  assert.equal(await cache.isAllowed("http://ok/x/1"), false);
  assert.equal(await cache.isAllowed("http://ok/y"), true);
  assert.equal(await cache.isAllowed("http://gone/anything"), true);
  assert.equal(await cache.isAllowed("http://err/anything"), false);
  assert.equal(await cache.isAllowed("http://slow/anything"), false);
  assert.equal(await cache.isAllowed("http://down/anything"), false);
  assert.equal(calls.filter((c) => c === "http://ok/robots.txt").length, 1);
  now += ROBOTS_TTL_MS;
  await cache.isAllowed("http://ok/y");
  assert.equal(calls.filter((c) => c === "http://ok/robots.txt").length, 2);
});

Deno.test("RobotsCache reads at most 500 KiB of a robots.txt", async () => {
  const filler = "# " + "x".repeat(ROBOTS_MAX_BYTES) + "\n";
  const body = new TextEncoder().encode(`User-agent: *\n${filler}Disallow: /late\n`);
  const cache = new RobotsCache(UA, () => Promise.resolve({ status: 200, body }));
  assert.equal(await cache.isAllowed("http://h/late"), true);
});
