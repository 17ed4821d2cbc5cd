/**
 * Demo stage "posttrain": Thunder-LLM's SFT then DPO on the demo's continued Llama (the train
 * stage's `train.cpt`), in FP8, with small subsets of `../shared/posttrain` built by the same
 * builder as `deno task train posttrain-data` — Korean chit-chat and Korean/English multiple-choice
 * train sets (KoBEST, ARC) for SFT, and for DPO the English preference pairs of LLaMA-Factory's
 * DPO demo — and held-out records never trained on to score before and after.
 *
 * Why not the multiple-choice pairs for DPO (Thunder-LLM's recipe, which `posttrain-data` builds):
 * the demo's model (2 layers of 64) cannot know which option of a science or commonsense question
 * is right, so DPO on them left held-out preference accuracy at chance (0.519 → 0.519 with
 * thunder β 0.1, 0.519 → 0.475 with β 1, 160 held-out KoBEST pairs). The preference set differs
 * in how answers open (the rows hold each answer's first T tokens), which the model can learn. The byte-level demo tokenizer gets Llama's
 * chat template with its own special tokens (lib/posttrain/byte_chat.ts). Without
 * `../shared/posttrain` the stage says so and is skipped.
 *
 * @module
 */

import { join } from "node:path";
import type { DemoStage } from "../demo/stage.ts";
import { createRun } from "../run/run_folder.ts";
import { TOKENIZER_FILES } from "../model/hf_folder.ts";
import { writeByteLevelChatFiles } from "./byte_chat.ts";
import { buildPosttrainData } from "./build.ts";
import { writeConversations, writePairs } from "./records.ts";
import { DPO_OPTIONS, SFT_OPTIONS } from "./options.ts";
import { posttrain, type PosttrainOptions } from "./trainer.ts";

const SOURCE_DIR = "../shared/posttrain";
const SFT_SOURCES = ["sft_ko_chat_songys", "bench_ko_kobest_train", "bench_en_arc_train"];
const DPO_SOURCES = ["mix_en_llamafactory_demo"];

function _defaults(spec: Record<string, { default?: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default]));
}

/** The posttrain demo stage. */
export const posttrainStage: DemoStage = {
  name: "posttrain",
  summary: "SFT then DPO (Thunder-LLM's margin loss) on the continued Llama, in FP8",
  async run(ctx) {
    const cpt = ctx.artifacts.get("train.cpt");
    try {
      await Deno.stat(SOURCE_DIR);
    } catch {
      return {
        skipped: `${SOURCE_DIR} is not here (the post-training data lives beside the project)`,
      };
    }
    if (!cpt) return { skipped: "no train.cpt artifact: run the train stage first" };
    const out = ctx.run.path("posttrain");
    const base = join(out, "cpt-chat");
    await Deno.mkdir(base, { recursive: true });
    for (const f of ["config.json", "model.safetensors", ...TOKENIZER_FILES]) {
      await Deno.copyFile(join(cpt, f), join(base, f)).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
    await writeByteLevelChatFiles(base);
    const data = await buildPosttrainData({
      sourceDir: SOURCE_DIR,
      sources: SFT_SOURCES,
      maxPerSource: 400,
      heldoutFraction: 0.1,
      seed: 0,
    });
    const prefs = await buildPosttrainData({
      sourceDir: SOURCE_DIR,
      sources: DPO_SOURCES,
      heldoutFraction: 0.2,
      seed: 0,
    });
    const short = <X>(xs: X[]) => xs.filter((x) => JSON.stringify(x).length < 700);
    await writeConversations(`${out}/sft.jsonl`, short(data.sft));
    await writeConversations(`${out}/sft.heldout.jsonl`, short(data.sftHeldout).slice(0, 48));
    await writePairs(`${out}/dpo.jsonl`, prefs.dpo);
    await writePairs(`${out}/dpo.heldout.jsonl`, prefs.dpoHeldout);
    const common = {
      seq_len: 256,
      precision: "fp8",
      engine: "auto",
      ckpt_every: 0,
      warmup_steps: 5,
    };
    const sftOpts = {
      ..._defaults(SFT_OPTIONS),
      ...common,
      init_from: base,
      data: `${out}/sft.jsonl`,
      heldout: `${out}/sft.heldout.jsonl`,
      steps: 80,
      batch_size: 8,
      lr: 2e-3,
      eos_eval: 16,
    } as unknown as PosttrainOptions;
    const sftRun = await createRun({
      task: "train-sft",
      dir: `${out}/sft`,
      config: sftOpts as unknown as Record<string, unknown>,
      gpu: true,
      echo: !ctx.quiet,
    });
    const sft = await posttrain("sft", sftOpts, sftRun, { quiet: ctx.quiet });
    await sftRun.finish(sft as unknown as Record<string, unknown>);
    const dpoOpts = {
      ..._defaults(DPO_OPTIONS),
      ...common,
      init_from: sft.model_dir,
      data: `${out}/dpo.jsonl`,
      heldout: `${out}/dpo.heldout.jsonl`,
      steps: 60,
      batch_size: 8,
      lr: 3e-3,
      loss: "thunder",
      beta: 0.5,
    } as unknown as PosttrainOptions;
    const dpoRun = await createRun({
      task: "train-dpo",
      dir: `${out}/dpo`,
      config: dpoOpts as unknown as Record<string, unknown>,
      gpu: true,
      echo: !ctx.quiet,
    });
    const dpo = await posttrain("dpo", dpoOpts, dpoRun, { quiet: ctx.quiet });
    await dpoRun.finish(dpo as unknown as Record<string, unknown>);
    // the SFT model's preference accuracy is the DPO run's "before"
    ctx.artifacts.set("train.sft", sft.model_dir);
    ctx.artifacts.set("train.dpo", dpo.model_dir);
    const table = [
      "| held-out measure | before | after |",
      "|---|---|---|",
      `| SFT answer-token loss | ${sft.before.answer_loss.toFixed(4)} | ${
        sft.after.answer_loss.toFixed(4)
      } |`,
      `| SFT answers ending with EOS | ${sft.before.ends_with_eos.toFixed(3)} | ${
        sft.after.ends_with_eos.toFixed(3)
      } |`,
      `| DPO preference accuracy (vs the SFT model) | ${
        dpo.before.preference_accuracy.toFixed(3)
      } | ${dpo.after.preference_accuracy.toFixed(3)} |`,
      `| DPO log-prob margin chosen − rejected | ${dpo.before.logp_margin.toFixed(3)} | ${
        dpo.after.logp_margin.toFixed(3)
      } |`,
    ];
    await Deno.writeTextFile(`${out}/before_after.md`, table.join("\n") + "\n");
    return {
      records: {
        sft: data.sft.length,
        dpo: prefs.dpo.length,
        dpo_heldout: prefs.dpoHeldout.length,
      },
      sft: { before: sft.before, after: sft.after, steps: sft.steps, engine: sft.engine },
      dpo: { before: dpo.before, after: dpo.after, steps: dpo.steps, loss: "thunder", beta: 0.5 },
      table: `${out}/before_after.md`,
    };
  },
};
