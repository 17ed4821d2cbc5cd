/**
 * Demo stage "train": a tiny English base model trained from scratch, then its continual
 * pretraining on the bilingual mix (English:Korean 1:1) in FP8 — on the WebGPU engine when an
 * adapter exists (llvmpipe in CI), else on the CPU reference engine — with the presets
 * `data/configs/train-tiny-base.yaml` and `train-tiny-cpt.yaml`.
 *
 * Tokenizer: a byte-level BPE tokenizer.json (260 ids) for the base; before continual pretraining
 * it is extended with Korean merges learned from the Korean documents, and the model's
 * embeddings and LM head are extended by EEVE (new token = mean of its old pieces). The
 * tokenizer stage's Llama 3.1-sized vocabulary is far too large for a model trained on the CPU
 * within the demo's time, so it is not used here.
 *
 * Artifacts: `train.base`, `train.cpt` (Hugging Face model folders).
 *
 * @module
 */

import { parseCommand } from "../cli/options.ts";
import { readDocs } from "../io/jsonl.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { createRun } from "../run/run_folder.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import { TRAIN_OPTIONS } from "../train/options.ts";
import { train, type TrainOptions } from "../train/trainer.ts";
import { tokenizeToShard } from "../train/tokenize.ts";
import { byteLevelTokenizerJson, learnByteMerges, tokenizerFromJson } from "../train/tokenizer.ts";
import { extendVocabulary } from "../train/extend.ts";
import { generate } from "../model/generate.ts";
import { createLlama } from "../model/backend.ts";
import type { DemoStage } from "./stage.ts";

/** Documents per language tokenized for the demo. */
const DEMO_DOCS = 400;
/** Korean merges added to the byte-level tokenizer before continual pretraining. */
const KO_MERGES = 64;

function latest(artifacts: Map<string, string>, keys: string[]): string | undefined {
  for (const k of keys) if (artifacts.has(k)) return artifacts.get(k);
  return undefined;
}

async function presetOptions(preset: string, extra: string[]): Promise<TrainOptions> {
  const parsed = await parseCommand(
    { name: "train", summary: "", options: TRAIN_OPTIONS },
    ["--config", preset, ...extra],
  );
  return parsed.options as unknown as TrainOptions;
}

/** The train stage. */
export const trainStage: DemoStage = {
  name: "train",
  summary: "tiny Llama base (English), then continual pretraining on en:ko 1:1 in FP8 (WebGPU)",
  async run(ctx) {
    const out = ctx.run.path("train");
    await Deno.mkdir(`${out}/tok-base`, { recursive: true });
    await Deno.mkdir(`${out}/tok-cpt`, { recursive: true });
    const enDocs = latest(ctx.artifacts, ["corpus.en.docs"]);
    const koDocs = latest(ctx.artifacts, [
      "quality.ko.docs",
      "filter.ko.docs",
      "crawl.ko.docs",
      "corpus.ko.docs",
    ]);
    if (!enDocs || !koDocs) throw new Error("train stage needs the corpus stage's documents");
    const mode = ctx.quiet ? "quiet" as const : "plain" as const;

    // 1. byte-level tokenizer and English shard; the tiny base
    const baseTokJson = byteLevelTokenizerJson();
    await writeJsonAtomic(`${out}/tok-base/tokenizer.json`, baseTokJson);
    const baseTok = tokenizerFromJson(baseTokJson);
    const enBase = await tokenizeToShard(baseTok, [enDocs], `${out}/en-base.tok`, {
      mode,
      maxDocs: DEMO_DOCS,
    });
    const baseOpts = await presetOptions("data/configs/train-tiny-base.yaml", [
      "--tokenizer",
      `${out}/tok-base/tokenizer.json`,
      "--data",
      `en=${out}/en-base.tok`,
    ]);
    const baseRun = await createRun({
      task: "train",
      dir: `${out}/base`,
      config: baseOpts as unknown as Record<string, unknown>,
      seed: baseOpts.seed,
      gpu: true, // the engine is "auto": record the adapter it may use
      echo: !ctx.quiet,
    });
    const base = await train(baseOpts, baseRun, { quiet: ctx.quiet });
    await baseRun.finish(base as unknown as Record<string, unknown>);

    // 2. extend the tokenizer with Korean merges and the model by EEVE
    const koTexts: string[] = [];
    for await (const d of readDocs(koDocs)) {
      koTexts.push(d.text);
      if (koTexts.length >= DEMO_DOCS) break;
    }
    const cptTokJson = byteLevelTokenizerJson(learnByteMerges(koTexts.slice(0, 100), KO_MERGES));
    await writeJsonAtomic(`${out}/tok-cpt/tokenizer.json`, cptTokJson);
    const cptTok = tokenizerFromJson(cptTokJson);
    const { cfg, params } = await loadModel(base.model_dir);
    const ext = extendVocabulary(cfg, params, baseTok, cptTok, "eeve", 0);
    await saveModel(`${out}/base-extended`, ext.cfg, ext.params, {
      tokenizerDir: `${out}/tok-cpt`,
    });

    // 3. bilingual shards and continual pretraining in FP8
    const en = await tokenizeToShard(cptTok, [enDocs], `${out}/en.tok`, {
      mode,
      maxDocs: DEMO_DOCS,
    });
    const ko = await tokenizeToShard(cptTok, [koDocs], `${out}/ko.tok`, {
      mode,
      maxDocs: DEMO_DOCS,
    });
    const koBytes = await tokenizeToShard(baseTok, [koDocs], `${out}/ko-bytes.tok`, {
      mode: "quiet",
      maxDocs: DEMO_DOCS,
    });
    const cptOpts = await presetOptions("data/configs/train-tiny-cpt.yaml", [
      "--init-from",
      `${out}/base-extended`,
      "--tokenizer",
      `${out}/tok-cpt/tokenizer.json`,
      "--data",
      `en=${out}/en.tok`,
      "--data",
      `ko=${out}/ko.tok`,
    ]);
    const cptRun = await createRun({
      task: "train",
      dir: `${out}/cpt`,
      config: cptOpts as unknown as Record<string, unknown>,
      seed: cptOpts.seed,
      gpu: true, // the engine is "auto": record the adapter it may use
      echo: !ctx.quiet,
    });
    const cpt = await train(cptOpts, cptRun, { quiet: ctx.quiet });
    await cptRun.finish(cpt as unknown as Record<string, unknown>);

    const final = await loadModel(cpt.model_dir);
    const prompt = [cptTok.bosId!, ...cptTok.encode("LibreOffice ")];
    const sampler = await createLlama(final.cfg, final.params, { device: "auto" });
    const [gen] = await generate(sampler, [prompt], {
      maxNewTokens: 40,
      temperature: 0.8,
      topP: 0.9,
      seed: 0,
      stopIds: [cptTok.eosId!],
    });
    sampler.destroy();
    const sample = cptTok.decode(gen.ids);
    ctx.artifacts.set("train.base", base.model_dir);
    ctx.artifacts.set("train.cpt", cpt.model_dir);
    return {
      engine: cpt.engine,
      parameters: { base: base.parameters, cpt: cpt.parameters },
      tokens: { en_base: enBase.tokens, en: en.tokens, ko: ko.tokens },
      ko_tokens_saved_by_extension: `${((1 - ko.tokens / koBytes.tokens) * 100).toFixed(1)}%`,
      vocab: { base: cfg.vocab_size, cpt: ext.cfg.vocab_size, eeve_rows: ext.initialised },
      base: {
        steps: base.steps,
        loss: base.final_loss,
        val: base.val,
        tokens_per_s: base.tokens_per_s,
      },
      cpt: { steps: cpt.steps, loss: cpt.final_loss, val: cpt.val, tokens_per_s: cpt.tokens_per_s },
      sample: "LibreOffice " + sample,
      ignored_tokenizer: ctx.artifacts.get("tokenizer.json") ?? null,
    };
  },
};
