/**
 * Model cards written from a run folder: a README.md with the Hub's YAML front matter (license,
 * language [ko, en], base_model, datasets, tags, pipeline_tag) and a summary of the training
 * config, data statistics and evaluation results the folder holds. A generated card carries a
 * marker, so a hand-written card (one without it) is never overwritten unless asked.
 *
 * @module
 */

import { stringify as toYaml } from "yaml";

/** The marker every generated card carries. */
export const CARD_MARKER = "<!-- jikji:generated-model-card -->";

/** What the front matter says beyond what the run folder holds. */
export interface CardOptions {
  repo: string;
  type: "model" | "dataset";
  license?: string;
  baseModel?: string;
  datasets?: string[];
}

/** True when `text` is a card Jikji generated (so it may be replaced). */
export function isGeneratedCard(text: string): boolean {
  return text.includes(CARD_MARKER);
}

async function _readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

function _table(obj: Record<string, unknown>, limit = 40): string {
  const rows = Object.entries(obj)
    .filter(([, v]) => v === null || ["string", "number", "boolean"].includes(typeof v))
    .slice(0, limit)
    .map(([k, v]) => `| ${k} | ${String(v).replaceAll("|", "\\|")} |`);
  return rows.length ? ["| field | value |", "|---|---|", ...rows].join("\n") : "";
}

/**
 * Builds the card for `folder`: it reads `config.json` (a model config or the run's resolved
 * config), `manifest.json`, `summary.json` and `eval_results.json`/`results.json` when present.
 */
export async function buildModelCard(folder: string, options: CardOptions): Promise<string> {
  const config = await _readJson(`${folder}/config.json`);
  const manifest = await _readJson(`${folder}/manifest.json`);
  const summary = await _readJson(`${folder}/summary.json`);
  const results = (await _readJson(`${folder}/eval_results.json`)) ??
    (await _readJson(`${folder}/results.json`));
  const baseModel = options.baseModel ?? (config?.base_model as string | undefined) ??
    (config?._name_or_path as string | undefined);
  const front: Record<string, unknown> = {
    license: options.license ?? "apache-2.0",
    language: ["ko", "en"],
    ...(baseModel ? { base_model: baseModel } : {}),
    ...(options.datasets?.length ? { datasets: options.datasets } : {}),
    tags: ["jikji", "korean", options.type === "model" ? "llama" : "text"],
    ...(options.type === "model" ? { pipeline_tag: "text-generation" } : {}),
  };
  const parts = [
    "---",
    toYaml(front).trim(),
    "---",
    CARD_MARKER,
    "",
    `# ${options.repo.split("/").pop()}`,
    "",
    options.type === "model"
      ? "A Korean-adapted Llama-architecture model made with Jikji (vocabulary extension and continual pretraining on a Korean:English mix)."
      : "A Korean dataset prepared with Jikji's crawl and filter pipeline.",
  ];
  if (config) parts.push("", "## Configuration", "", _table(config));
  if (summary) parts.push("", "## Run summary", "", _table(summary));
  if (results) {
    parts.push(
      "",
      "## Evaluation",
      "",
      "```json",
      JSON.stringify(results, null, 2).slice(0, 4000),
      "```",
    );
  }
  if (manifest) {
    parts.push(
      "",
      "## Provenance",
      "",
      `Jikji ${manifest.jikji_version ?? "?"}, git commit ${
        manifest.git_commit ?? "unknown"
      }, Deno ${manifest.deno_version ?? "?"}.`,
    );
  }
  return parts.join("\n") + "\n";
}
