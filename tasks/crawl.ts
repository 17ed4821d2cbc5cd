/**
 * `deno task crawl`: a polite, resumable Korean web crawler (see lib/crawl/crawler.ts).
 *
 * - `crawl [run] --config data/configs/crawl.yaml --seeds URL…` crawls into a run folder;
 *   `--out runs/crawl-…` on an existing folder resumes it with the config saved there.
 * - `crawl run --out OUT --world N [--executor slurm]` splits the hosts among N ranks (a stable
 *   hash), each crawling into `OUT/rank-RRRRR/`; `crawl merge --out OUT --world N` joins them.
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
import { mergeCrawlRanks, rankDir, rankDone } from "../lib/crawl/ranks.ts";
import { parseShard } from "../lib/executor/split.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import {
  EXECUTOR_OPTIONS,
  launchStage,
  mergeRankLogs,
  slurmSettings,
} from "../lib/executor/slurm.ts";

const RUN_SPEC = {
  ...CRAWL_SPEC,
  options: {
    ...CRAWL_SPEC.options,
    shard: {
      type: "string",
      description: "i/N: crawl only the hosts of rank i of N, into OUT/rank-0000i (needs --out)",
    },
    world: {
      type: "integer",
      min: 1,
      description: "split the hosts among N ranks (stable hash), each into OUT/rank-RRRRR",
    },
    ...EXECUTOR_OPTIONS,
  },
  subcommands: { run: CRAWL_SPEC.summary, merge: "join the ranks of a crawl split by --world" },
} as const;

const MERGE_SPEC = {
  name: "crawl merge",
  summary: "join the ranks of a crawl split by --world: docs/ links, one per-host summary",
  options: {
    out: { type: "string", required: true, description: "the crawl's --out folder" },
    world: { type: "integer", required: true, min: 1, description: "its number of ranks" },
  },
} as const;

/** The crawl settings of parsed run options (without the rank and executor options). */
function _crawlOptions(o: Record<string, unknown>): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k in EXECUTOR_OPTIONS || k === "shard" || k === "world") continue;
    rest[k] = v;
  }
  return rest;
}

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
  // `crawl` runs `crawl run`: the help names the task and its subcommands
  const spec = {
    ...RUN_SPEC,
    name: "crawl",
    subcommands: { ...RUN_SPEC.subcommands, extract: EXTRACT_SPEC.summary },
  };
  let parsed = await parseOrHelp(spec, args);
  if (!parsed) return;
  // `--out RUN` on a run folder resumes with the config saved there (flags still override it)
  const saved = `${parsed.options.out}/config.json`;
  if (parsed.options.out && parsed.configPath === undefined && await _isFile(saved)) {
    parsed = (await parseOrHelp(spec, [...args, "--config", saved]))!;
  }
  const { options, quiet } = parsed;
  const crawlOptions = _crawlOptions(options as unknown as Record<string, unknown>);
  const config = crawlConfigOf(crawlOptions);
  if (config.seeds.length === 0 && config.sitemaps.length === 0) {
    throw new UserError(
      "nothing to crawl: give --seeds URL or --sitemaps URL (or seeds:/sitemaps: in --config)",
    );
  }
  const shard = options.shard ? parseShard(options.shard) : undefined;
  if ((shard || options.world || options.executor === "slurm") && !options.out) {
    throw new UserError("--shard, --world and --executor slurm need --out (the job's folder)");
  }
  if (shard && options.world !== undefined && options.world !== shard.count) {
    throw new UserError(`--world ${options.world} and --shard ${options.shard} disagree`);
  }
  const out = options.out.replace(/\/$/, "");
  if (options.executor === "slurm") {
    if (shard) throw new UserError("--executor slurm runs every rank; drop --shard");
    const world = options.world ?? 1;
    const run = await createRun({
      task: "crawl",
      config: { ...options },
      dir: out,
      gpu: false,
      echo: !quiet,
    });
    // every rank reads the resolved crawl settings from one file (JSON is YAML)
    await Deno.mkdir(`${out}/slurm`, { recursive: true });
    const cfg = `${out}/slurm/crawl.json`;
    const { out: _o, runs_dir: _r, config: _c, quiet: _q, help: _h, ...settingsOnly } =
      crawlOptions;
    await writeJsonAtomic(cfg, settingsOnly);
    const { submission, unfinished } = await launchStage(
      {
        name: "crawl",
        world,
        dir: `${out}/slurm`,
        task: ["crawl", "run", "--config", cfg, "--out", out, "--shard", `{rank}/${world}`, "-q"],
        merge: ["crawl", "merge", "--out", out, "--world", String(world), "-q"],
        done: (r) => rankDone(out, r),
      },
      slurmSettings(options),
      { wait: options.slurm_wait, log: (m) => run.log(m) },
    );
    console.log(JSON.stringify(submission));
    run.close();
    return unfinished && unfinished.length > 0 ? 1 : 0;
  }
  if (!shard && options.world !== undefined) {
    // every rank in this process, one after another, then the merge
    for (let r = 0; r < options.world; r++) {
      if (await rankDone(out, r)) continue;
      const code = await runCrawl([...args, "--shard", `${r}/${options.world}`]);
      if (code) return code;
    }
    return await runMerge([
      "--out",
      out,
      "--world",
      String(options.world),
      ...(quiet ? ["-q"] : []),
    ]);
  }
  const run = await createRun({
    task: "crawl",
    config: { ...options },
    runsDir: options.runs_dir,
    dir: shard ? rankDir(out, shard.index) : options.out || undefined,
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
      hostShard: shard,
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

async function runMerge(args: string[]): Promise<number | void> {
  const parsed = await parseOrHelp(MERGE_SPEC, args);
  if (!parsed) return;
  const { options, quiet } = parsed;
  const out = options.out.replace(/\/$/, "");
  const summary = await mergeCrawlRanks(out, options.world);
  const run = await createRun({
    task: "crawl",
    config: { merge: out, world: options.world },
    dir: out,
    gpu: false,
    echo: !quiet,
  });
  const logs = await mergeRankLogs(`${out}/slurm`, "crawl");
  if (logs) run.log(`per-rank logs of the Slurm jobs: ${logs}`);
  await run.finish({ ...summary });
  if (!quiet) {
    console.log(hostTable(summary));
    console.log(`${summary.pages} pages, ${summary.docs} documents from ${options.world} ranks`);
    console.log(`documents: ${out}/docs`);
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
    if (sub === "merge") return await runMerge(rest);
    return await runCrawl(Deno.args);
  });
}
