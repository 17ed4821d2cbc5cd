/** `deno task demo`: the whole pipeline on the embedded default corpus. See lib/demo/run_demo.ts. */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { runDemo } from "../lib/demo/run_demo.ts";
import { summaryMarkdown } from "../lib/demo/summary.ts";
import { DEMO_STAGES } from "../lib/demo/stages.ts";
import { UserError } from "../lib/io/errors.ts";

const spec = {
  name: "demo",
  summary: "run every pipeline stage that exists on the embedded default corpus",
  options: {
    cache_dir: { type: "string", default: "data/cache", description: "where downloads are kept" },
    runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
    only: {
      type: "string[]",
      description: `run only these stages (comma-separated: ${
        DEMO_STAGES.map((s) => s.name).join(",")
      })`,
    },
  },
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const parsed = await parseOrHelp(spec, Deno.args);
    if (!parsed) return;
    const { options, quiet } = parsed;
    const names = DEMO_STAGES.map((s) => s.name);
    for (const name of options.only ?? []) {
      if (!names.includes(name)) {
        throw new UserError(`--only: unknown stage "${name}" (stages: ${names.join(", ")})`);
      }
    }
    const { dir, results } = await runDemo({
      cacheDir: options.cache_dir,
      runsDir: options.runs_dir,
      quiet,
      only: options.only,
      config: options,
    });
    console.log(summaryMarkdown(dir, results));
    const ran = results.filter((r) => r.status === "ran").map((r) => r.stage);
    const missing = results.filter((r) => r.status === "not built yet").map((r) => r.stage);
    console.log(`ran: ${ran.join(", ") || "none"}; not built yet: ${missing.join(", ") || "none"}`);
    console.log(`run folder: ${dir}`);
    console.log(`report: ${dir}/report.html`);
  });
}
