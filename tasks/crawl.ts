/**
 * `deno task crawl`: a polite, resumable Korean web crawler (see lib/crawl/crawler.ts).
 *
 * - `crawl [run] --config data/configs/crawl.yaml --seeds URL…` crawls into a run folder;
 *   `--out runs/crawl-…` on an existing folder resumes it with the config saved there.
 * - `crawl extract FILE.html [--url URL]` prints the main text the crawler would keep.
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { progressMode } from "../lib/cli/progress.ts";
import { UserError } from "../lib/io/errors.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { crawl, hostTable } from "../lib/crawl/crawler.ts";
import { decodeBody } from "../lib/crawl/charset.ts";
import { extractPage } from "../lib/crawl/extract.ts";
import { CRAWL_SPEC, crawlConfigOf } from "../lib/crawl/spec.ts";

const EXTRACT_SPEC = {
  name: "crawl extract",
  summary: "print the title, Hangul share and main text the crawler extracts from an HTML file",
  positionals: "FILE.html",
  options: {
    url: { type: "string", default: "http://localhost/", description: "the page's URL" },
    charset: { type: "string", default: "", description: "Content-Type charset, if known" },
  },
} as const;

async function runCrawl(args: string[]): Promise<number | void> {
  // `crawl` runs `crawl run`: the help names the task and both subcommands
  const spec = {
    ...CRAWL_SPEC,
    name: "crawl",
    subcommands: { run: CRAWL_SPEC.summary, extract: EXTRACT_SPEC.summary },
  };
  let parsed = await parseOrHelp(spec, args);
  if (!parsed) return;
  // `--out RUN` on a run folder resumes with the config saved there (flags still override it)
  const saved = `${parsed.options.out}/config.json`;
  if (parsed.options.out && parsed.configPath === undefined && await _isFile(saved)) {
    parsed = (await parseOrHelp(spec, [...args, "--config", saved]))!;
  }
  const { options, quiet } = parsed;
  const config = crawlConfigOf(options as unknown as Record<string, unknown>);
  if (config.seeds.length === 0 && config.sitemaps.length === 0) {
    throw new UserError(
      "nothing to crawl: give --seeds URL or --sitemaps URL (or seeds:/sitemaps: in --config)",
    );
  }
  const run = await createRun({
    task: "crawl",
    config: { ...options },
    runsDir: options.runs_dir,
    dir: options.out || undefined,
    gpu: false,
    echo: !quiet,
  });
  run.log(`crawl into ${run.dir}`);
  let summary;
  try {
    summary = await crawl(config, {
      out: run.dir,
      progress: progressMode(quiet),
      log: (m) => run.log(m),
    });
  } catch (err) {
    if (err instanceof Error && /is not an http\(s\) URL/.test(err.message)) {
      throw new UserError(`${parsed.configPath ?? "flags"}: ${err.message}`);
    }
    throw err;
  }
  run.metric({
    pages: summary.pages,
    docs: summary.docs,
    pages_per_second: summary.pages_per_second,
  });
  await run.finish({ ...summary });
  if (!quiet) {
    console.log(hostTable(summary));
    console.log(
      `${summary.pages} pages, ${summary.docs} documents, ${summary.requests} requests in ` +
        `${summary.seconds.toFixed(1)} s; ${summary.queue_left} URLs left in the queue`,
    );
    console.log(`documents: ${run.dir}/docs`);
  }
}

async function _isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function runExtract(args: string[]): Promise<void> {
  const parsed = await parseOrHelp(EXTRACT_SPEC, args);
  if (!parsed) return;
  const [file] = parsed.positionals;
  if (!file) throw new UserError("crawl extract: give an HTML file (see --help)");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    throw new UserError(`${file}: cannot read the file`);
  }
  const ct = parsed.options.charset ? `text/html; charset=${parsed.options.charset}` : undefined;
  const { text, encoding } = decodeBody(bytes, ct);
  const page = extractPage(text, parsed.options.url);
  console.log(`title: ${page.title}`);
  console.log(
    `encoding: ${encoding}  hangul_ratio: ${
      page.hangulRatio.toFixed(3)
    }  links: ${page.links.length}`,
  );
  if (page.skip) console.log(`skipped: ${page.skip}`);
  console.log("");
  console.log(page.text);
}

if (import.meta.main) {
  await runMain(async () => {
    const [sub, ...rest] = Deno.args;
    if (sub === "extract") return await runExtract(rest);
    if (sub === "run") return await runCrawl(rest);
    return await runCrawl(Deno.args);
  });
}
