/** `deno task bench [SUITE…] [--json]`: benchmarks that print figures. See lib/bench/harness.ts. */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { UserError } from "../lib/io/errors.ts";
import { type BenchResult, resultsTable, withRatio } from "../lib/bench/harness.ts";
import { BENCH_SUITES } from "../lib/bench/suites.ts";
import { createRun } from "../lib/run/run_folder.ts";

const spec = {
  name: "bench",
  summary: "speed and memory benchmarks, against a peer in the same run where one exists",
  positionals: "[SUITE…]",
  subcommands: Object.fromEntries(BENCH_SUITES.map((s) => [s.name, s.summary])),
  options: {
    json: {
      type: "boolean",
      default: false,
      description: "one JSON object per result line on stdout",
    },
    quick: { type: "boolean", default: false, description: "smaller sizes, fewer repeats" },
    size: {
      type: "string",
      default: "small",
      choices: ["small", "full"],
      description:
        "gpu suite: small (llvmpipe, a minute or two) or full (an H200, under 8 minutes)",
    },
    cache_dir: { type: "string", default: "data/cache", description: "where downloads are kept" },
  },
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const parsed = await parseOrHelp(spec, Deno.args);
    if (!parsed) return;
    const { options, positionals, quiet } = parsed;
    const names = positionals.length ? positionals : BENCH_SUITES.map((s) => s.name);
    const suites = names.map((n) => {
      const s = BENCH_SUITES.find((s) => s.name === n);
      if (!s) {
        throw new UserError(
          `unknown benchmark suite "${n}" (known: ${BENCH_SUITES.map((s) => s.name).join(", ")})`,
        );
      }
      return s;
    });
    const run = await createRun({
      task: "bench",
      config: { ...options, suites: names },
      echo: false,
    });
    const all: BenchResult[] = [];
    for (const suite of suites) {
      const ctx = {
        quick: options.quick,
        size: options.size,
        cacheDir: options.cache_dir,
        log: (m: string) => quiet || console.error(m),
      };
      for await (const raw of suite.run(ctx)) {
        const r = { suite: suite.name, ...withRatio(raw) };
        all.push(r);
        run.metric(r);
        if (options.json) console.log(JSON.stringify(withRatio(raw)));
        else if (!quiet) {
          console.error(`${suite.name}: ${r.name}: ${r.value.toPrecision(4)} ${r.unit}`);
        }
      }
    }
    await run.writeText("results.md", resultsTable(all) + "\n");
    await run.finish({ results: all });
    if (!options.json) console.log(resultsTable(all));
  });
}
