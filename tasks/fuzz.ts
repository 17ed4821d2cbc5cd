/**
 * `deno task fuzz FORMAT|all --cases N --seed S`: mutates a valid file of each format Jikji reads,
 * runs the real task on every case under its own permissions with a timeout, and prints one row
 * per format: clean exit 2 / stack trace / hang / OOM / accepted. See lib/fuzz/run.ts.
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { UserError } from "../lib/io/errors.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import { timestamp } from "../lib/run/run_folder.ts";
import { FORMATS } from "../lib/fuzz/formats.ts";
import { type CaseResult, fuzzFormat, outcomeTable } from "../lib/fuzz/run.ts";

const spec = {
  name: "fuzz",
  summary: "mutate valid files of a format, run the real task on each, count how each case ends",
  positionals: `FORMAT… | all  (${FORMATS.map((f) => f.name).join(", ")})`,
  options: {
    cases: { type: "integer", default: 20, min: 1, description: "cases per format" },
    seed: { type: "integer", default: 1, min: 0, description: "seed of the mutations" },
    timeout: { type: "number", default: 30, min: 1, description: "seconds a case may run" },
    jobs: { type: "integer", default: 2, min: 1, max: 64, description: "cases run at once" },
    heap_mb: { type: "integer", default: 2048, min: 64, description: "V8 heap limit of a case" },
    keep: { type: "boolean", default: false, description: "keep every case folder" },
    only: { type: "integer", default: -1, min: -1, description: "run only case N (reproduce it)" },
    runs_dir: { type: "string", default: "runs", description: "parent of the fuzz folder" },
  },
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const p = await parseOrHelp(spec, Deno.args);
    if (!p) return;
    const o = p.options;
    const names = p.positionals.includes("all") ? FORMATS.map((f) => f.name) : p.positionals;
    if (!names.length) throw new UserError("fuzz: name a FORMAT or all (see --help)");
    const formats = names.map((n) => {
      const f = FORMATS.find((f) => f.name === n);
      if (!f) {
        throw new UserError(
          `fuzz: unknown format "${n}" (${FORMATS.map((f) => f.name).join(", ")})`,
        );
      }
      return f;
    });
    const dir = `${o.runs_dir}/fuzz-${timestamp()}`;
    const all: CaseResult[] = [];
    for (const f of formats) {
      const base = `${dir}/${f.name.replace(/[^\w.-]+/g, "_")}`;
      const t0 = performance.now();
      const rs = await fuzzFormat(f, {
        cases: o.cases,
        seed: o.seed,
        timeoutMs: o.timeout * 1000,
        jobs: o.jobs,
        base,
        heapMb: o.heap_mb,
        keepAll: o.keep || o.only >= 0,
        only: o.only >= 0 ? o.only : undefined,
        onCase: (r) => {
          if (!p.quiet && r.outcome !== "clean") {
            console.error(`${r.format} #${r.index} ${r.outcome}: ${r.what} → ${r.line}`);
          }
        },
      });
      if (!p.quiet) {
        console.error(
          `${f.name}: ${rs.length} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
        );
      }
      all.push(...rs);
    }
    await writeJsonAtomic(`${dir}/fuzz.json`, { seed: o.seed, cases: o.cases, results: all });
    console.log(outcomeTable(all));
    const accepted = all.filter((r) => r.outcome === "accepted");
    if (accepted.length) {
      console.log("\naccepted (the task ran to the end on these):");
      for (const r of accepted) {
        console.log(`- ${r.format} #${r.index}: ${r.what}${r.note ? ` → ${r.note}` : ""}`);
      }
    }
    const bad = all.filter((r) => !["clean", "accepted"].includes(r.outcome));
    if (bad.length) {
      console.log("\nnot refused cleanly:");
      for (const r of bad) {
        console.log(`- ${r.format} #${r.index} ${r.outcome}: ${r.what} → ${r.line} (${r.dir})`);
      }
    }
    console.log(`\nfolder: ${dir}`);
    return bad.length ? 1 : 0;
  });
}
