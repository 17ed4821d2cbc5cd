/**
 * `deno task crawl` end to end, through the task's own command line from deno.json: a crawl of the
 * test site killed with SIGKILL mid-crawl and restarted must request no finished page again, lose
 * no page and write every document exactly once.
 */

import assert from "node:assert/strict";
import { resolve } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { readDocsFrom } from "../lib/io/jsonl.ts";
import { readJournal } from "../lib/crawl/journal.ts";
import { CP949_BYTES, CP949_TEXT, minGap, startTestSite } from "../lib/crawl/testing.ts";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const PAGES = 60;

function taskCommand(): string[] {
  const line = (denoJson as { tasks: Record<string, string> }).tasks.crawl;
  const words = line.split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1);
}

async function waitForPages(
  journal: string,
  n: number,
  timeoutMs: number,
  child: Deno.ChildProcess,
): Promise<number> {
  let exited = false;
  child.status.then(() => exited = true);
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (exited) {
      const err = await new Response(child.stderr).text();
      throw new Error(`the crawl exited early: ${err}`);
    }
    try {
      const text = await Deno.readTextFile(journal);
      const count = text.split("\n").filter((l) => l.startsWith('{"k":"page"')).length;
      if (count >= n) return count;
    } catch { /* not there yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the crawl did not reach ${n} pages in ${timeoutMs} ms`);
}

Deno.test("deno task crawl survives kill -9: no refetch, no loss, no duplicate", async () => {
  const site = await startTestSite({ chainPages: PAGES });
  const rel = `data/cache/crawl-test-${crypto.randomUUID().slice(0, 8)}`;
  const out = `${ROOT}/${rel}`;
  // the task may read only the repository, so its config lives there too
  const configPath = `${out}.yaml`;
  await Deno.mkdir(`${ROOT}/data/cache`, { recursive: true });
  await Deno.writeTextFile(
    configPath,
    [
      `seeds: ["${site.origin}/p/0.html"]`,
      `include: ["/p/\\\\d+\\\\.html$"]`,
      "max_depth: 100",
      "delay: 0.03",
      "docs_per_shard: 7",
      "concurrency: 4",
    ].join("\n") + "\n",
  );
  const args = [...taskCommand(), "--config", configPath, "--out", rel, "--quiet"];
  try {
    // first run: killed with SIGKILL once a third of the pages are done
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitForPages(`${out}/journal.jsonl`, PAGES / 3, 60_000, child);
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", "the crawl finished before it could be killed");
    await child.stderr.cancel().catch(() => {});
    const doneAtKill = new Set(
      (await readJournal(`${out}/journal.jsonl`)).flatMap((e) => e.k === "page" ? [e.url] : []),
    );
    assert.ok(doneAtKill.size < PAGES, "the kill came too late to test anything");
    const requestsBeforeRestart = site.log.length;

    // second run: the run folder alone resumes it, with the config saved there
    const rerun = await new Deno.Command(Deno.execPath(), {
      args: [...taskCommand(), "--out", rel, "--quiet"],
      cwd: ROOT,
    }).output();
    assert.equal(rerun.code, 0, new TextDecoder().decode(rerun.stderr));

    const paths = site.log.map((r) => r.path);
    assert.equal(paths.filter((p) => p === "/robots.txt").length, 1, "robots.txt fetched again");
    const counts = new Map<string, number>();
    for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
    for (const [p, n] of counts) {
      const url = site.origin + p;
      // a page journaled before the kill is never requested again; only the page in flight at
      // the moment of the kill (not journaled, so not kept) may be requested a second time
      if (doneAtKill.has(url)) assert.equal(n, 1, `${p} refetched after resume`);
      else assert.ok(n <= 2, `${p} requested ${n} times`);
    }
    // …and that page was indeed requested before the kill without reaching the journal
    const inFlight = new Set(
      site.log.slice(0, requestsBeforeRestart).map((r) => site.origin + r.path)
        .filter((u) => !doneAtKill.has(u) && !u.endsWith("/robots.txt")),
    );
    const refetched = [...counts].filter(([, n]) => n > 1).map(([p]) => site.origin + p);
    assert.ok(inFlight.size <= 1, `in flight at the kill: ${[...inFlight]}`);
    assert.ok(refetched.every((u) => inFlight.has(u)), `refetched: ${refetched}`);
    assert.ok(site.log.length > requestsBeforeRestart);
    assert.ok(minGap(site.log) >= 30, `requests ${minGap(site.log)} ms apart`);

    const shards: string[] = [];
    for await (const e of Deno.readDir(`${out}/docs`)) shards.push(`${out}/docs/${e.name}`);
    assert.ok(shards.every((s) => /\/part-\d{5}\.jsonl\.gz$/.test(s)), `stray files: ${shards}`);
    const urls: string[] = [];
    for await (const d of readDocsFrom(shards.sort())) urls.push(d.meta.url as string);
    assert.equal(urls.length, PAGES, "documents lost or duplicated");
    assert.equal(new Set(urls).size, PAGES, "duplicate documents");
    const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
    assert.equal(summary.pages, PAGES);
    assert.equal(summary.resumed, true);
  } finally {
    await site.close();
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(configPath).catch(() => {});
  }
});

async function runTask(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [...taskCommand(), ...args],
    cwd: ROOT,
  })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("deno task crawl --help lists its options; bad input is one line naming the field", async () => {
  const help = await runTask(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: deno task crawl \[SUBCOMMAND\] \[OPTIONS\]$/m);
  for (const flag of ["--seeds", "--sitemaps", "--delay", "--max-pages", "--warc", "--out"]) {
    assert.ok(help.out.includes(flag), `--help lacks ${flag}`);
  }
  const none = await runTask(["--quiet"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /^error: nothing to crawl/);
  // a second seed without its flag is refused, not silently left out
  const stray = await runTask(["--seeds", "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]);
  assert.equal(stray.code, 2);
  assert.match(stray.err, /unexpected argument "http:\/\/127\.0\.0\.1:9\/b".*--seeds A --seeds B/);
  const rel = `data/cache/crawl-test-${crypto.randomUUID().slice(0, 8)}.yaml`;
  await Deno.writeTextFile(`${ROOT}/${rel}`, "seeds: [http://127.0.0.1:9/]\nmax_page: 3\n");
  try {
    const bad = await runTask(["--config", rel]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
    assert.match(bad.err, /max_page/);
    assert.ok(bad.err.includes(rel));
  } finally {
    await Deno.remove(`${ROOT}/${rel}`);
  }
  const page = `${rel}.html`;
  const enc = new TextEncoder();
  await Deno.writeFile(
    `${ROOT}/${page}`,
    new Uint8Array([
      ...enc.encode("<html><body><nav><a href='/'>home</a></nav><p>"),
      ...CP949_BYTES,
      ...enc.encode("</p></body></html>"),
    ]),
  );
  try {
    const extract = await runTask(["extract", page, "--charset", "euc-kr"]);
    assert.equal(extract.code, 0, extract.err);
    assert.ok(extract.out.includes(CP949_TEXT), extract.out);
    assert.ok(!extract.out.includes("home"));
  } finally {
    await Deno.remove(`${ROOT}/${page}`);
  }
});
