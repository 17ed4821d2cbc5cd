/**
 * The formats Jikji reads, each with a small valid example built by Jikji itself (or by the task
 * that writes it) and the real task command that reads it. The fuzz runner copies the example
 * folder per case, mutates one file and runs the command.
 *
 * @module
 */

import { writeDocs } from "../io/jsonl.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { saveTinyLlama } from "../posttrain/testing.ts";
import { byteLevelTokenizerJson } from "../train/tokenizer.ts";
import type { Shape } from "./mutate.ts";

/** Runs `deno task ARGS…` for building an example; throws with its stderr when it fails. */
export type TaskRunner = (args: string[]) => Promise<void>;

/** One fuzzed format. */
export interface FuzzFormat {
  name: string;
  shape: Shape;
  /** The file mutated, inside the case folder. */
  file: string;
  /** Writes the valid example files into `dir` (`rel`: the same folder, project-relative). */
  seed(dir: string, rel: string, task: TaskRunner): Promise<void>;
  /** The task's arguments (after `deno task`) for the case folder `rel`. */
  args(rel: string): string[];
  /** For a case the task accepted: what it did with the damage (e.g. lines sent to rejects/). */
  explain?(rel: string): Promise<string>;
}

/** How many lines a filter run sent to `rejects/`, and the first reason. */
async function rejected(rel: string): Promise<string> {
  let n = 0;
  let first = "";
  try {
    for await (const e of Deno.readDir(`${rel}/out/rejects`)) {
      const text = await Deno.readTextFile(`${rel}/out/rejects/${e.name}`);
      for (const line of text.split("\n").filter((l) => l)) {
        n++;
        first ||= String(JSON.parse(line).reason ?? "");
      }
    }
  } catch { /* no rejects folder: nothing rejected */ }
  return n ? `${n} line(s) to rejects/ (${first.slice(0, 80)})` : "nothing rejected";
}

const SENTENCES = [
  "한국어 문장을 읽고 씁니다.",
  "오늘은 날씨가 맑고 바람이 시원합니다.",
  "도서관에서 책을 빌려 읽었습니다.",
  "The quick brown fox jumps over the lazy dog.",
  "학생들은 수업이 끝난 뒤 운동장에서 축구를 했습니다.",
];

function docs(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    text: Array.from({ length: 3 + (i % 4) }, (_, k) => SENTENCES[(i + k) % SENTENCES.length])
      .join(" "),
    meta: { n: i },
  }));
}

async function copyConfig(name: string, dir: string): Promise<void> {
  await Deno.copyFile(`data/configs/${name}`, `${dir}/${name}`);
}

const modelSeed = async (dir: string) => {
  await saveTinyLlama(dir);
};
const sampleArgs = (rel: string) => [
  "train",
  "sample",
  "--model",
  rel,
  "--prompt",
  "안녕",
  "--max-new-tokens",
  "2",
  "--device",
  "cpu",
];

const trainArgs = (rel: string, config: string) => [
  "train",
  "--quiet",
  "--config",
  config,
  "--data",
  `en=${rel}/en.tok`,
  "--steps",
  "1",
  "--eval-every",
  "0",
  "--eval-batches",
  "1",
  "--ckpt-every",
  "1000",
  "--engine",
  "cpu",
  "--runs-dir",
  `${rel}/runs`,
];

const shardSeed = async (dir: string, rel: string, task: TaskRunner) => {
  await writeDocs(`${dir}/docs.jsonl`, docs(40));
  await writeJsonAtomic(`${dir}/tokenizer.json`, byteLevelTokenizerJson());
  await task([
    "train",
    "tokenize",
    "--quiet",
    "--tokenizer",
    `${rel}/tokenizer.json`,
    "--output",
    `${rel}/en.tok`,
    `${rel}/docs.jsonl`,
  ]);
  await copyConfig("train-tiny-base.yaml", dir);
};

const filterConfig =
  "steps:\n  - normalize: {}\n  - rules: {min_words: 3, min_hangul_ratio: 0.2}\n" +
  "  - exact_dedup: {}\n";

const scoreArgs = (rel: string, extra: string[]) => [
  "filter",
  "score",
  "--quiet",
  `${rel}/docs.jsonl`,
  `${rel}/out.jsonl`,
  ...extra,
];

/** Every fuzzed format. */
export const FORMATS: readonly FuzzFormat[] = [
  {
    name: "safetensors",
    shape: "safetensors",
    file: "model.safetensors",
    seed: modelSeed,
    args: sampleArgs,
  },
  { name: "config.json", shape: "json", file: "config.json", seed: modelSeed, args: sampleArgs },
  {
    name: "tokenizer.json",
    shape: "json",
    file: "tokenizer.json",
    seed: async (dir) => {
      await writeJsonAtomic(`${dir}/tokenizer.json`, byteLevelTokenizerJson());
      await writeDocs(`${dir}/docs.jsonl`, docs(10));
    },
    args: (rel) => [
      "train",
      "tokenize",
      "--quiet",
      "--tokenizer",
      `${rel}/tokenizer.json`,
      "--output",
      `${rel}/out.tok`,
      `${rel}/docs.jsonl`,
    ],
  },
  {
    name: "arpa",
    shape: "text",
    file: "model.arpa",
    seed: async (dir, rel, task) => {
      await writeDocs(`${dir}/docs.jsonl`, docs(40));
      await task([
        "filter",
        "train-lm",
        "--quiet",
        "--order",
        "3",
        "--holdout-every",
        "4",
        "--discount-fallback",
        `${rel}/docs.jsonl`,
        `${rel}/model.arpa`,
      ]);
    },
    args: (rel) => scoreArgs(rel, ["--lm", `${rel}/model.arpa`]),
  },
  {
    name: "fasttext.bin",
    shape: "binary",
    file: "edu.bin",
    seed: async (dir, rel, task) => {
      await writeDocs(`${dir}/docs.jsonl`, docs(10));
      const lines = docs(60).map((d, i) => `__label__${i % 3 ? "edu" : "not_edu"} ${d.text}`);
      await Deno.writeTextFile(`${dir}/train.txt`, lines.join("\n") + "\n");
      await task([
        "filter",
        "train-classifier",
        "--quiet",
        "--rounds",
        "1",
        "--epoch",
        "1",
        "--dim",
        "4",
        "--bucket",
        "500",
        `${rel}/train.txt`,
        `${rel}/edu.bin`,
      ]);
    },
    args: (rel) => scoreArgs(rel, ["--classifier", `${rel}/edu.bin`, "--threshold", "0.5"]),
  },
  {
    name: "jsonl",
    shape: "jsonl",
    file: "docs.jsonl",
    seed: async (dir) => {
      await writeDocs(`${dir}/docs.jsonl`, docs(20));
      await Deno.writeTextFile(`${dir}/filter.yaml`, filterConfig);
    },
    args: (rel) => [
      "filter",
      "run",
      "--quiet",
      "--config",
      `${rel}/filter.yaml`,
      "--input",
      `${rel}/docs.jsonl`,
      "--output",
      `${rel}/out`,
    ],
    explain: rejected,
  },
  {
    name: "jsonl.gz",
    shape: "gzip",
    file: "docs.jsonl.gz",
    seed: async (dir) => {
      await writeDocs(`${dir}/docs.jsonl.gz`, docs(20));
      await Deno.writeTextFile(`${dir}/filter.yaml`, filterConfig);
    },
    args: (rel) => [
      "filter",
      "run",
      "--quiet",
      "--config",
      `${rel}/filter.yaml`,
      "--input",
      `${rel}/docs.jsonl.gz`,
      "--output",
      `${rel}/out`,
    ],
    explain: rejected,
  },
  {
    name: "crawl.yaml",
    shape: "yaml",
    file: "crawl.yaml",
    seed: (dir) => copyConfig("crawl.yaml", dir),
    // the only seed is a closed local port: nothing leaves the machine
    args: (rel) => [
      "crawl",
      "--quiet",
      "--config",
      `${rel}/crawl.yaml`,
      "--seeds",
      "http://127.0.0.1:9/",
      "--retries",
      "0",
      "--max-pages",
      "1",
      "--out",
      `${rel}/out`,
    ],
  },
  {
    name: "filter.yaml",
    shape: "yaml",
    file: "filter.yaml",
    seed: async (dir) => {
      await copyConfig("filter.yaml", dir);
      await writeDocs(`${dir}/docs.jsonl`, docs(20));
    },
    args: (rel) => [
      "filter",
      "run",
      "--quiet",
      "--config",
      `${rel}/filter.yaml`,
      "--input",
      `${rel}/docs.jsonl`,
      "--output",
      `${rel}/out`,
    ],
  },
  {
    name: "train.yaml",
    shape: "yaml",
    file: "train-tiny-base.yaml",
    seed: shardSeed,
    args: (rel) => trainArgs(rel, `${rel}/train-tiny-base.yaml`),
  },
  {
    name: "token shard",
    shape: "binary",
    file: "en.tok",
    seed: shardSeed,
    args: (rel) => trainArgs(rel, `${rel}/train-tiny-base.yaml`),
  },
  {
    name: "html",
    shape: "html",
    file: "page.html",
    seed: (dir) => Deno.copyFile("data/fixtures/libreoffice_page.html", `${dir}/page.html`),
    args: (rel) => ["crawl", "extract", `${rel}/page.html`],
  },
  {
    name: "eval task",
    shape: "yaml",
    file: "mc.yaml",
    seed: async (dir) => {
      await Deno.writeTextFile(
        `${dir}/mc.jsonl`,
        [
          { q: "하늘은", choices: ["파랗다", "푸르다"], gold: 0 },
          { q: "풀은", choices: ["파랗다", "푸르다"], gold: 1 },
        ].map((x) => JSON.stringify(x)).join("\n") + "\n",
      );
      await Deno.writeTextFile(`${dir}/train.txt`, "하늘은 파랗다. 풀은 푸르다.\n");
      await Deno.writeTextFile(
        `${dir}/mc.yaml`,
        [
          "task: mc",
          "dataset_path: mc.jsonl",
          "output_type: multiple_choice",
          'doc_to_text: "{{ q }}"',
          'doc_to_choice: "{{ choices }}"',
          'doc_to_target: "{{ gold }}"',
          "num_fewshot: 1",
          "metric_list:",
          "  - metric: acc",
          "  - metric: acc_norm",
          "",
        ].join("\n"),
      );
    },
    args: (rel) => [
      "eval",
      "run",
      "--quiet",
      `${rel}/mc.yaml`,
      "--backend",
      "ngram",
      "--ngram-order",
      "3",
      "--train-text",
      `${rel}/train.txt`,
      "--data-root",
      rel,
      "--runs-dir",
      `${rel}/runs`,
    ],
  },
];
