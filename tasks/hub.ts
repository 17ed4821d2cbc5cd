/**
 * `deno task hub push FOLDER --repo OWNER/NAME …` and `deno task hub pull OWNER/NAME --to DIR …`:
 * Hugging Face Hub sync. See lib/hub/.
 */

import { parseOrHelp, runMain } from "../lib/cli/main.ts";
import { helpText } from "../lib/cli/options.ts";
import { Progress, progressMode } from "../lib/cli/progress.ts";
import { UserError } from "../lib/io/errors.ts";
import { createRun } from "../lib/run/run_folder.ts";
import { findToken, hubEndpoint } from "../lib/hub/auth.ts";
import { pushFolder } from "../lib/hub/push.ts";
import { pullRepo } from "../lib/hub/pull.ts";
import { retryingFetch } from "../lib/hub/http.ts";
import { redact, redactValue } from "../lib/hub/redact.ts";

const common = {
  type: {
    type: "string",
    default: "model",
    choices: ["model", "dataset"],
    description: "repo type",
  },
  revision: {
    type: "string",
    default: "main",
    description:
      "branch (may contain /; push creates it from main), or for pull a tag or commit id",
  },
  runs_dir: { type: "string", default: "runs", description: "parent of the run folder" },
} as const;

const pushSpec = {
  name: "hub push",
  summary: "upload a folder (a run's checkpoint, tokenizer or dataset) to a Hub repo",
  positionals: "FOLDER",
  options: {
    ...common,
    repo: { type: "string", required: true, description: "OWNER/NAME" },
    private: { type: "boolean", default: false, description: "create the repo private" },
    message: { type: "string", description: "commit message" },
    overwrite_card: {
      type: "boolean",
      default: false,
      description: "replace a hand-written README.md on the Hub",
    },
    license: { type: "string", default: "apache-2.0", description: "licence in the model card" },
    base_model: { type: "string", description: "base_model in the model card" },
    datasets: { type: "string[]", description: "datasets in the model card" },
  },
} as const;

const pullSpec = {
  name: "hub pull",
  summary: "download a snapshot of a Hub repo, verified and resumable",
  positionals: "OWNER/NAME",
  options: {
    ...common,
    include: {
      type: "string[]",
      description: "only paths matching these globs (*.json,**/*.safetensors)",
    },
    to: { type: "string", required: true, description: "destination folder" },
  },
} as const;

const topSpec = {
  name: "hub",
  summary: "push and pull tokenizers, checkpoints and datasets to the Hugging Face Hub",
  subcommands: { push: pushSpec.summary, pull: pullSpec.summary },
  options: {},
} as const;

async function main(): Promise<void> {
  const [sub, ...args] = Deno.args;
  const endpoint = hubEndpoint();
  const token = await findToken();
  const say = (msg: string) => console.error(redact(msg));
  const hubFetch = retryingFetch({
    onRetry: (r) => say(`retrying in ${(r.delayMs / 1000).toFixed(1)} s: ${r.reason}`),
  });
  if (sub === "push") {
    const parsed = await parseOrHelp(pushSpec, args);
    if (!parsed) return;
    const { options: o, positionals, quiet } = parsed;
    if (positionals.length !== 1) {
      throw new UserError("hub push: give exactly one FOLDER (see --help)");
    }
    const run = await createRun({
      task: "hub-push",
      config: redactValue({ ...o, folder: positionals[0], endpoint }),
      runsDir: o.runs_dir,
      gpu: false,
      echo: false,
    });
    const bar = new Progress({ label: `push ${o.repo}`, unit: "bytes", mode: progressMode(quiet) });
    const result = await pushFolder({
      folder: positionals[0],
      repo: o.repo,
      type: o.type as "model" | "dataset",
      private: o.private,
      revision: o.revision,
      message: o.message,
      token,
      endpoint,
      fetch: hubFetch,
      overwriteCard: o.overwrite_card,
      license: o.license,
      baseModel: o.base_model,
      datasets: o.datasets,
      onProgress: (sent, total) => {
        bar.total = total;
        bar.set(sent);
      },
      onLog: (m) => run.log(redact(m)),
    });
    bar.done();
    await run.finish(redactValue({ ...result }));
    console.log(
      `pushed ${result.uploaded.length} file(s) in ${result.commits} commit(s), skipped ${result.skipped.length} already on the Hub; model card: ${result.card}`,
    );
  } else if (sub === "pull") {
    const parsed = await parseOrHelp(pullSpec, args);
    if (!parsed) return;
    const { options: o, positionals, quiet } = parsed;
    if (positionals.length !== 1) {
      throw new UserError("hub pull: give exactly one OWNER/NAME (see --help)");
    }
    const run = await createRun({
      task: "hub-pull",
      config: redactValue({ ...o, repo: positionals[0], endpoint }),
      runsDir: o.runs_dir,
      gpu: false,
      echo: false,
    });
    const bar = new Progress({
      label: `pull ${positionals[0]}`,
      unit: "bytes",
      mode: progressMode(quiet),
    });
    const result = await pullRepo({
      repo: positionals[0],
      type: o.type as "model" | "dataset",
      revision: o.revision,
      include: o.include,
      to: o.to,
      token,
      endpoint,
      fetch: hubFetch,
      onProgress: (done, total) => {
        bar.total = total;
        bar.set(done);
      },
      onLog: (m) => {
        run.log(redact(m));
        say(m);
      },
    });
    bar.done();
    await run.finish(redactValue({ ...result }));
    console.log(
      `pulled ${result.downloaded.length} file(s) (${result.resumed.length} resumed, ${result.refetched.length} refetched after a bad hash), ${result.skipped.length} already intact`,
    );
  } else if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(helpText(topSpec));
  } else {
    throw new UserError(`hub: unknown subcommand "${sub}" (push or pull)`);
  }
}

if (import.meta.main) {
  await runMain(async () => {
    try {
      await main();
    } catch (err) {
      // nothing leaves this task unredacted, errors included
      if (err instanceof UserError) throw new UserError(redact(err.message));
      throw new Error(redact(String((err as Error)?.stack ?? err)));
    }
  });
}
