/**
 * `deno task report RUN_DIR`: writes `RUN_DIR/report.html`, one self-contained page with the run's
 * figures as plots (every task also writes it when it finishes). See lib/report/report.ts.
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { UserError } from "../lib/io/errors.ts";
import { writeReport } from "../lib/report/report.ts";
import { join, sep } from "node:path";

const spec = {
  name: "report",
  summary: "write RUN_DIR/report.html: the run's curves, tables, config and manifest on one page",
  positionals: "RUN_DIR",
  options: {},
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const parsed = await parseOrHelp(spec, Deno.args);
    if (!parsed) return;
    const [dir, ...rest] = parsed.positionals;
    if (!dir || rest.length) {
      throw new UserError("give one run folder: deno task report runs/demo-<time>");
    }
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new UserError(`${dir}: no such run folder (check the path)`);
      }
      throw new UserError(
        `${dir}: outside the folders the report task may write (./runs, ./data); copy the run there`,
      );
    }
    const cwd = await Deno.realPath(".");
    if (![join(cwd, "runs"), join(cwd, "data")].some((d) => real.startsWith(d + sep))) {
      throw new UserError(
        `${dir}: outside the folders the report task may write (./runs, ./data); copy the run there`,
      );
    }
    if (!(await Deno.stat(real)).isDirectory) {
      throw new UserError(`${dir}: not a folder; give a run folder such as runs/demo-<time>`);
    }
    console.log(await writeReport(dir));
  });
}
