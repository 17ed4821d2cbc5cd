/**
 * `deno task quality SUBCOMMAND …`: train and apply the model-based quality filters (a KenLM-style
 * 5-gram perplexity filter, a fastText-style educational classifier). See lib/quality/commands.ts.
 */

import { runMain } from "../lib/cli/main.ts";
import { helpText } from "../lib/cli/options.ts";
import { UserError } from "../lib/io/errors.ts";
import { QUALITY_COMMANDS } from "../lib/quality/commands.ts";

const SPEC = {
  name: "quality",
  summary: "model-based quality filters: n-gram perplexity and educational classifier",
  positionals: "SUBCOMMAND …",
  subcommands: Object.fromEntries(
    Object.entries(QUALITY_COMMANDS).map(([n, c]) => [n, c.spec.summary]),
  ),
  options: {},
};

if (import.meta.main) {
  await runMain(async () => {
    const [name, ...rest] = Deno.args;
    if (name === undefined || name === "--help" || name === "-h") {
      console.log(helpText(SPEC));
      return;
    }
    const cmd = QUALITY_COMMANDS[name];
    if (!cmd) {
      throw new UserError(
        `unknown subcommand "${name}" (known: ${Object.keys(QUALITY_COMMANDS).join(", ")})`,
      );
    }
    const result = await cmd.run(rest);
    if (result) console.log(JSON.stringify(result, null, 2));
  });
}
