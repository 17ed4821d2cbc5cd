/**
 * The educational-quality workflow of FineWeb-Edu (Penedo et al. 2024) as Kanana (Kakao 2025)
 * applies it to Korean: an annotator gives each document an additive 0–5 educational score; a
 * fastText-style classifier learns "score ≥ threshold" from those annotations, with the minority
 * class oversampled, over several retraining rounds; a filter keeps documents the classifier finds
 * educational.
 *
 * Annotators: {@linkcode LlmAnnotator} asks an LLM through an OpenAI-compatible endpoint;
 * {@linkcode heuristicEduScore} is a HEURISTIC stand-in (no LLM) for demos and tests, and every
 * score it gives is marked as such in the document's metadata.
 *
 * Retraining rounds: round 1 trains on the annotated documents; each later round adds the
 * unannotated documents the previous round's classifier labels with probability ≥ `confidence`
 * (pseudo-labels) and retrains from scratch. This is our reading of Kanana's "iterative" training;
 * with no unannotated pool the rounds only reshuffle.
 *
 * @module
 */

import type { Doc } from "../../io/jsonl.ts";
import { UserError } from "../../io/errors.ts";
import type { ChatClient } from "./llm_client.ts";
import {
  type Example,
  type FastText,
  type FastTextArgs,
  mulberry32,
  testFastText,
  trainFastText,
} from "./fasttext.ts";
import { hangulRatio } from "./hangul_task.ts";

/** Label of documents at or above the threshold. */
export const EDU = "edu";
/** Label of the others. */
export const NOT_EDU = "not_edu";

/** The annotation prompt (an additive 0–5 scale in the manner of FineWeb-Edu; our wording). */
export const EDU_PROMPT =
  `Below is an extract from a web page. Judge whether it would be useful for teaching at primary to
secondary school level, adding points on this scale:
- 1 point if it gives some basic information relevant to an educational topic, even mixed with
  ads or unrelated material.
- 2 points if it addresses elements pertinent to education but does not align closely with
  educational standards, or is superficial.
- 3 points if it is appropriate for educational use and introduces key concepts of a curriculum,
  coherently, even if incomplete.
- 4 points if it is highly relevant and beneficial for educational purposes at school level, with
  a clear and consistent writing style, like a chapter of a textbook or a tutorial.
- 5 points if it is outstanding in its educational value, perfectly suited to teaching.
The extract may be in Korean. Examine it, justify your total in at most 100 words, and conclude
with "Educational score: <total points>".

Extract:
`;

/** Reads the score from an annotator's reply: "Educational score: N", else undefined. */
export function parseEduScore(reply: string): number | undefined {
  const m = /educational score:\s*\**\s*([0-5])(?![0-9])/i.exec(reply);
  return m ? Number(m[1]) : undefined;
}

/** Something that scores documents 0–5. */
export interface EduAnnotator {
  /** Recorded with every score, e.g. "llm:qwen2.5-7b" or "heuristic (not an LLM)". */
  readonly name: string;
  score(text: string): Promise<number | undefined>;
}

/** Asks an LLM for the educational score of each document. */
export class LlmAnnotator implements EduAnnotator {
  readonly name: string;
  readonly #client: ChatClient;
  readonly #maxChars: number;

  constructor(client: ChatClient, model: string, maxChars = 4000) {
    this.#client = client;
    this.name = `llm:${model}`;
    this.#maxChars = maxChars;
  }

  /** The score the LLM gives, or undefined when its reply has none. */
  async score(text: string): Promise<number | undefined> {
    const reply = await this.#client.complete([
      { role: "user", content: EDU_PROMPT + text.slice(0, this.#maxChars) },
    ]);
    return parseEduScore(reply);
  }
}

const _EXPLAINING =
  /예를 들어|예:|방법|때문|설명|다음|참고|사용하여|사용할 수|경우|하려면|입니다|합니다/g;

/**
 * HEURISTIC educational score, 0–5, with no LLM — for the demo and tests only. One point each for:
 * at least 40 words; mostly Hangul letters; at least three sentence-like lines; at least three
 * explanatory phrases (예를 들어, 방법, 때문, 설명, 하려면, …); digits and symbols under 10 % of the
 * characters.
 */
export function heuristicEduScore(text: string): number {
  const words = text.split(/\s+/).filter((w) => w !== "").length;
  const sentences = text.split("\n").filter((l) => /[.!?다요]\s*$/.test(l.trim())).length;
  const explaining = (text.match(_EXPLAINING) ?? []).length;
  let symbols = 0, chars = 0;
  for (const ch of text) {
    if (/\s/.test(ch)) continue;
    chars++;
    if (/[\p{N}\p{S}\p{P}]/u.test(ch)) symbols++;
  }
  return (words >= 40 ? 1 : 0) + (hangulRatio(text) > 0.5 ? 1 : 0) + (sentences >= 3 ? 1 : 0) +
    (explaining >= 3 ? 1 : 0) + (chars > 0 && symbols / chars < 0.1 ? 1 : 0);
}

/** The heuristic as an annotator; its name says it is not an LLM. */
export const heuristicAnnotator: EduAnnotator = {
  name: "heuristic (not an LLM)",
  score: (text) => Promise.resolve(heuristicEduScore(text)),
};

/** Characters of a document the classifier reads (its beginning), in training and filtering. */
export const EDU_MAX_CHARS = 2000;

/** A document's text as one classifier line: whitespace collapsed, the first EDU_MAX_CHARS. */
export function docLine(text: string): string {
  return text.slice(0, EDU_MAX_CHARS).replace(/\s+/g, " ").trim();
}

/** Duplicates examples of the smaller classes (cycling through them) until every class is as large as the largest. */
export function oversample(examples: Example[], seed = 1): Example[] {
  const by = new Map<string, Example[]>();
  for (const e of examples) {
    const l = e.labels[0];
    if (!by.has(l)) by.set(l, []);
    by.get(l)!.push(e);
  }
  const max = Math.max(...[...by.values()].map((v) => v.length));
  const out = examples.slice();
  for (const group of by.values()) {
    for (let i = group.length; i < max; i++) out.push(group[i % group.length]);
  }
  const rnd = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Options of {@linkcode trainEduClassifier}. */
export interface EduTrainOptions {
  /** Metadata field holding the annotator's score (default "edu_score"). */
  scoreField?: string;
  /** Scores at or above are "edu" (FineWeb-Edu uses 3). */
  threshold?: number;
  /** Retraining rounds (default 2). */
  rounds?: number;
  /** Pseudo-label confidence for later rounds (default 0.9). */
  confidence?: number;
  /** Share of annotated documents held out for validation (default 0.1). */
  validFraction?: number;
  oversample?: boolean;
  args?: Partial<FastTextArgs>;
  seed?: number;
  /** Unannotated documents for the later rounds. */
  unlabeled?: Doc[];
}

/** What each round did. */
export interface EduRound {
  round: number;
  train_examples: number;
  pseudo_labeled: number;
  valid_p1: number;
  class_counts: Record<string, number>;
}

/** Trains the educational classifier; returns the last round's model and every round's figures. */
export function trainEduClassifier(
  docs: Doc[],
  options: EduTrainOptions = {},
): { model: FastText; rounds: EduRound[] } {
  const field = options.scoreField ?? "edu_score";
  const threshold = options.threshold ?? 3;
  const seed = options.seed ?? 1;
  const labeled: Example[] = [];
  for (const d of docs) {
    const s = d.meta?.[field];
    if (s === undefined || s === null) continue;
    if (typeof s !== "number" || !Number.isFinite(s)) {
      throw new UserError(
        `document ${d.id}: meta.${field} must be a number, got ${JSON.stringify(s)}`,
      );
    }
    labeled.push({ labels: [s >= threshold ? EDU : NOT_EDU], text: docLine(d.text) });
  }
  if (labeled.length < 2) {
    throw new UserError(`fewer than 2 documents have meta.${field}; annotate them first`);
  }
  const rnd = mulberry32(seed);
  const shuffled = labeled.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const nValid = Math.floor(shuffled.length * (options.validFraction ?? 0.1));
  const valid = shuffled.slice(0, nValid), train = shuffled.slice(nValid);
  const pool = (options.unlabeled ?? []).map((d) => docLine(d.text));
  const rounds: EduRound[] = [];
  let model: FastText | undefined;
  let pseudo: Example[] = [];
  const nRounds = Math.max(1, options.rounds ?? 2);
  for (let r = 1; r <= nRounds; r++) {
    if (r > 1 && model) {
      pseudo = [];
      const conf = options.confidence ?? 0.9;
      for (const text of pool) {
        const top = model.predict(text, 1)[0];
        if (top && top.prob >= conf) pseudo.push({ labels: [top.label], text });
      }
    }
    const base = [...train, ...pseudo];
    const data = options.oversample === false ? base : oversample(base, seed + r);
    model = trainFastText(data, { seed: seed + r, ...options.args });
    const counts: Record<string, number> = {};
    for (const e of data) counts[e.labels[0]] = (counts[e.labels[0]] ?? 0) + 1;
    rounds.push({
      round: r,
      train_examples: data.length,
      pseudo_labeled: pseudo.length,
      valid_p1: valid.length ? testFastText(model, valid).p1 : NaN,
      class_counts: counts,
    });
  }
  return { model: model!, rounds };
}

/** Probability of the "edu" label for `text` (0 when the model has no such label). */
export function eduProbability(model: FastText, text: string): number {
  const i = model.labels.indexOf(EDU);
  if (i < 0) return 0;
  return model.probabilities(model.features(docLine(text)))[i];
}
