/**
 * The demo's `summary.md`: one row per stage with its status, time and headline figures written
 * out as numbers with units, and a link to the run's `report.html` (the same figures as plots).
 *
 * @module
 */

import { formatDuration } from "../cli/progress.ts";
import type { StageResult } from "./run_demo.ts";

type Rec = Record<string, unknown>;
type Fmt = (f: Rec) => string[];

/** A number for a sentence: thousands separators, 3 significant digits for fractions. */
export function fmtNum(x: unknown, digits = 3): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  if (Number.isInteger(x) && Math.abs(x) < 1e12) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a >= 1e6 || (a !== 0 && a < 1e-3)) return x.toExponential(2);
  if (a >= 100) return Math.round(x).toLocaleString("en-US");
  return Number(x.toPrecision(digits)).toString();
}

const pct = (a: unknown, b: unknown) =>
  typeof a === "number" && typeof b === "number" && b > 0 ? `${fmtNum((100 * a) / b)} %` : "—";

const sub = (f: Rec, k: string): Rec => (f[k] && typeof f[k] === "object" ? f[k] as Rec : {});

function _counts(r: Rec): string {
  return Object.entries(r).map(([k, n]) => `${k} ${fmtNum(n)}`).join(", ");
}

/** Headline figures per stage, with units; stages not listed fall back to their top-level numbers. */
const STAGE_FIGURES: Record<string, Fmt> = {
  corpus: (f) =>
    ["ko", "en"].filter((l) => f[l]).map((l) => {
      const c = sub(f, l);
      return `${l}: ${fmtNum(c.docs)} docs, ${fmtNum(c.chars)} chars, ${
        fmtNum(c.hangul_syllables)
      } Hangul syllables`;
    }),
  crawl: (f) => [
    `${fmtNum(f.pages)} pages, ${fmtNum(f.docs)} docs, ${fmtNum(f.requests)} requests`,
    `${fmtNum(f.pages_per_second)} pages/s`,
  ],
  filter: (f) => [
    `${fmtNum(f.docs_in)} → ${fmtNum(f.docs_out)} docs (${pct(f.docs_out, f.docs_in)} kept)`,
    `${fmtNum(f.chars_in)} → ${fmtNum(f.chars_out)} chars`,
    ...(Object.keys(sub(f, "removed")).length ? [`removed: ${_counts(sub(f, "removed"))}`] : []),
  ],
  quality: (f) => [
    `${fmtNum(f.docs_in)} docs in`,
    `perplexity filter kept ${fmtNum(sub(f, "perplexity").kept)}`,
    `educational-quality filter kept ${fmtNum(sub(f, "edu_quality").kept)}`,
  ],
  tokenizer: (f) => {
    const ko = sub(f, "korean_tokens_per_syllable"), en = sub(f, "english_tokens");
    const enw = sub(f, "english_tokens_per_word");
    return [
      `vocabulary ${fmtNum(f.vocab_size)} tokens (+${
        fmtNum(sub(f, "added").pieces)
      } Korean pieces)`,
      `Korean: ${fmtNum(ko.llama31)} → ${fmtNum(ko.merged)} tokens/syllable (Llama 3.1 → merged)`,
      enw.llama31 !== undefined
        ? `English: ${fmtNum(enw.llama31)} → ${fmtNum(enw.merged)} tokens/word`
        : `English: ${fmtNum(en.llama31)} → ${fmtNum(en.merged)} tokens`,
    ];
  },
  train: (f) =>
    ["base", "cpt"].filter((k) => f[k]).map((k) => {
      const t = sub(f, k);
      const val = Object.entries(sub(t, "val")).map(([s, v]) => `${s} ${fmtNum((v as Rec).loss)}`)
        .join(", ");
      return `${k}: ${fmtNum(t.steps)} steps, loss ${fmtNum(t.loss)} nats/token, validation ${
        val || "—"
      }, ${fmtNum(t.tokens_per_s)} tokens/s`;
    }).concat(
      f.ko_tokens_saved_by_extension
        ? [`Korean tokens saved by the vocabulary extension: ${f.ko_tokens_saved_by_extension}`]
        : [],
    ),
  posttrain: (f) => {
    const sft = sub(f, "sft"), dpo = sub(f, "dpo");
    const out: string[] = [];
    if (f.sft) {
      out.push(
        `SFT ${fmtNum(sft.steps)} steps: answer loss ${fmtNum(sub(sft, "before").answer_loss)} → ${
          fmtNum(sub(sft, "after").answer_loss)
        } nats/token`,
      );
    }
    if (f.dpo) {
      out.push(
        `DPO ${fmtNum(dpo.steps)} steps: preference accuracy ${
          pct(sub(dpo, "before").preference_accuracy, 1)
        } → ${pct(sub(dpo, "after").preference_accuracy, 1)}`,
      );
    }
    return out;
  },
  eval: (f) => {
    const per = sub(f, "per_task");
    return Object.entries(per).map(([model, tasks]) =>
      `${model}: ` + Object.entries(tasks as Rec).map(([task, r]) => {
        const m = sub(r as Rec, "metrics");
        const key = "acc_norm" in m ? "acc_norm" : "acc";
        return `${task} ${key} ${key in m ? pct(m[key], 1) : "—"}`;
      }).join(", ")
    );
  },
};

function _fallback(f: Rec): string[] {
  return Object.entries(f).filter(([, v]) => typeof v === "number").map(([k, v]) =>
    `${k.replace(/_/g, " ")} ${fmtNum(v)}`
  );
}

/** The headline figures of one stage as short phrases. */
export function stageFigures(stage: string, figures: Rec): string[] {
  if (typeof figures.skipped === "string") return [`skipped: ${figures.skipped}`];
  try {
    return (STAGE_FIGURES[stage] ?? _fallback)(figures);
  } catch {
    return _fallback(figures);
  }
}

/** The human summary of a demo run (Markdown). */
export function summaryMarkdown(dir: string, results: StageResult[]): string {
  const lines = [
    `# Jikji demo — ${dir}`,
    "",
    "Plots of every figure (loss curves, filter funnel, tokens per syllable, evaluation with " +
    "standard errors): [report.html](report.html)",
    "",
    "| stage | status | time | figures |",
    "|---|---|---|---|",
  ];
  for (const r of results) {
    const time = r.seconds !== undefined ? formatDuration(r.seconds) : "";
    const figs = r.figures ? stageFigures(r.stage, r.figures).join("; ") : "";
    lines.push(`| ${r.stage} | ${r.status} | ${time} | ${figs.replace(/\|/g, "\\|")} |`);
  }
  return lines.join("\n") + "\n";
}
