/**
 * How much of a corpus's Korean the default filter keeps: the Hangul syllables left in the
 * documents that come out of the per-document steps of the default pipeline (normalize →
 * line_punctuation → rules; PII scrubbing and dedup left out, as they judge something else),
 * over the Hangul syllables of the source pages.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { countHangulSyllables } from "../data/hangul.ts";
import { buildStep } from "../pipeline/registry.ts";
import { chainSteps } from "../pipeline/step.ts";
import { DEFAULT_PIPELINE } from "./pipeline.ts";
import { registerFilterSteps } from "./steps.ts";

/** The per-document steps of the default pipeline. */
export const SURVIVAL_STEPS = ["normalize", "line_punctuation", "rules"];

/** Hangul syllables in `docs` and in what the default filter keeps of them. */
export async function hangulKept(
  docs: Doc[],
  overrides: Record<string, Record<string, unknown>> = {},
): Promise<{ docs: number; kept_docs: number; syllables: number; kept_syllables: number }> {
  registerFilterSteps();
  const steps = [];
  for (const spec of DEFAULT_PIPELINE) {
    const [name, params] = Object.entries(spec)[0];
    if (!SURVIVAL_STEPS.includes(name)) continue;
    steps.push(await buildStep(name, { ...params, ...overrides[name] }, `default: ${name}`));
  }
  const source = async function* () {
    yield* docs;
  };
  let keptDocs = 0, kept = 0;
  for await (const d of chainSteps(steps, source(), { rank: 0, worldSize: 1 })) {
    keptDocs++;
    kept += countHangulSyllables(d.text);
  }
  const syllables = docs.reduce((s, d) => s + countHangulSyllables(d.text), 0);
  return { docs: docs.length, kept_docs: keptDocs, syllables, kept_syllables: kept };
}
