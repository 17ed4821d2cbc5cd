/**
 * Builds post-training records (lib/posttrain/records.ts) from the read-only source folder
 * `../shared/posttrain`, whose README.md table names every source, its repository and licence.
 *
 * - Multiple-choice train sets (ARC-Easy/Challenge, KoBEST BoolQ/COPA/SentiNeg/WiC, StrategyQA,
 *   KorSTS as yes/no, Korean hate speech as a three-way choice) follow Thunder-LLM's recipe: the
 *   question with its lettered options is the user turn and the correct option ("B. …") the
 *   assistant turn (SFT); for DPO the correct option is chosen and each wrong option rejected, one
 *   pair per wrong option.
 * - Worked answers (GSM8K, the Korean AddSub/MultiArith/SingleEq translations, KMWP's Python
 *   solutions) become conversations ending with GSM8K's `#### n` line, the format the eval's
 *   strict filter reads.
 * - Instruction sets (alpaca-style JSON, songys Q/A, HRC, GPTeacher, Code Alpaca, LLaMA-Factory's
 *   demo) become conversations; preference sets (SQuARe acceptable vs non-acceptable,
 *   LLaMA-Factory's DPO demo) become pairs.
 *
 * Every record's `meta` names its source, subset, licence (from the README table), file and line.
 * A row that cannot be used is counted and reported with `file:line`, never thrown. Rows are
 * shuffled per source with a seeded generator (independent of which other sources are chosen),
 * capped per source, and a fraction of them is held out: a row's conversation and all of its
 * pairs land on the same side, so no held-out question was trained on in another form.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { readJsonl } from "../io/jsonl.ts";
import { csvRecords } from "../io/csv.ts";
import { Rng } from "../model/params.ts";
import {
  type Conversation,
  type Message,
  type PreferencePair,
  validateConversation,
  validatePair,
} from "./records.ts";

/** How a source becomes records. */
export type SourceKind = "multiple_choice" | "worked_answer" | "instruction" | "preference";

/** A row that could not be used, with where it came from. */
export interface MalformedRow {
  file: string;
  line: number;
  reason: string;
}

/** A source's row of the README table. */
export interface SourceLicence {
  /** `owner/repo@commit` as the README gives it. */
  repo: string;
  what: string;
  rows: string;
  licence: string;
}

/** What one source gave. */
export interface SourceStats {
  kind: SourceKind;
  language: "ko" | "en";
  licence: string;
  repo: string;
  /** Files read, relative to the source folder. */
  files: string[];
  /** Rows read (usable or not). */
  rows: number;
  malformed: number;
  /** Usable rows (one row → one conversation and/or its pairs). */
  usable: number;
  /** Usable rows per subset (file). */
  subsets: Record<string, number>;
  /** Rows kept after `maxPerSource`. */
  selected: number;
  /** Of those, held out. */
  heldout: number;
  sft: { train: number; heldout: number };
  dpo: { train: number; heldout: number };
}

/** Options of {@linkcode buildPosttrainData}. */
export interface BuildOptions {
  /** The source folder (with README.md). */
  sourceDir: string;
  /** Source names (folder names); default: every source Jikji knows. */
  sources?: string[];
  /** Rows kept per source after shuffling; 0 or undefined keeps all. */
  maxPerSource?: number;
  /** Seed of the shuffles (default 0). */
  seed?: number;
  /** Fraction of each source's kept rows held out (default 0). */
  heldoutFraction?: number;
  /** Called after each file with the files done and the total. */
  onFile?: (file: string, done: number, total: number) => void;
}

/** What {@linkcode buildPosttrainData} returns. */
export interface BuildResult {
  sft: Conversation[];
  sftHeldout: Conversation[];
  dpo: PreferencePair[];
  dpoHeldout: PreferencePair[];
  sources: Record<string, SourceStats>;
  malformed: MalformedRow[];
}

/** One usable row: its conversation and/or preference pairs. */
interface _Item {
  key: string;
  subset: string;
  file: string;
  line: number;
  messages?: Message[];
  pairs?: { tag: string; prompt: Message[]; chosen: Message[]; rejected: Message[] }[];
  meta?: Record<string, unknown>;
}

type _Row = Record<string, unknown>;
/** A row parser: the item, or the reason the row cannot be used. */
type _Parse = (row: _Row, line: number) => Omit<_Item, "subset" | "file" | "line"> | string;

interface _FileDef {
  path: string;
  subset: string;
  format: "jsonl" | "json" | "csv" | "tsv";
  /** Column names of a headerless CSV/TSV. */
  columns?: string[];
  parse: _Parse;
  /** Combines the parsed rows of the file (SQuARe pairs two rows of one question). */
  combine?: (items: _Item[]) => { items: _Item[]; bad: MalformedRow[] };
}

interface _SourceDef {
  kind: SourceKind;
  language: "ko" | "en";
  files: _FileDef[];
}

const LETTERS = "ABCDEFGHIJ";

const MC_INSTRUCTION = {
  ko: "다음 질문을 읽고 보기 중에서 정답을 고르세요.",
  en: "Read the question and choose the correct option.",
};

/**
 * Thunder-LLM's multiple-choice recipe: the user turn is an instruction, the question and its
 * lettered options; the assistant turn is the correct option as "B. …"; each wrong option gives
 * one preference pair (correct chosen, wrong rejected).
 *
 * @example
 * ```ts
 * import { multipleChoice } from "./build.ts";
 * const r = multipleChoice("2+2?", ["3", "4"], 1, "en");
 * r.messages[1].content; // "B. 4"
 * r.pairs[0].rejected[0].content; // "A. 3"
 * ```
 */
export function multipleChoice(
  question: string,
  options: string[],
  answer: number,
  language: "ko" | "en",
): {
  messages: Message[];
  pairs: { tag: string; prompt: Message[]; chosen: Message[]; rejected: Message[] }[];
} {
  if (options.length < 2 || options.length > LETTERS.length) {
    throw new Error(`${options.length} options (need 2…${LETTERS.length})`);
  }
  if (!Number.isInteger(answer) || answer < 0 || answer >= options.length) {
    throw new Error(`answer ${answer} is not one of the ${options.length} options`);
  }
  const lettered = options.map((o, i) => `${LETTERS[i]}. ${o}`);
  const prompt: Message[] = [{
    role: "user",
    content: `${MC_INSTRUCTION[language]}\n\n${question.trim()}\n\n${lettered.join("\n")}`,
  }];
  const chosen: Message[] = [{ role: "assistant", content: lettered[answer] }];
  return {
    messages: [...prompt, ...chosen],
    pairs: lettered.flatMap((text, i) =>
      i === answer ? [] : [{
        tag: `vs-${LETTERS[i]}`,
        prompt,
        chosen,
        rejected: [{ role: "assistant", content: text }],
      }]
    ),
  };
}

/** A multiple-choice item, or the reason it is not one. */
function _mc(
  key: unknown,
  question: unknown,
  options: unknown[],
  answer: number,
  language: "ko" | "en",
): ReturnType<_Parse> {
  if (typeof question !== "string" || question.trim() === "") return "empty question";
  const opts = options.map((o) => (typeof o === "string" ? o.trim() : ""));
  const empty = opts.findIndex((o) => o === "");
  if (empty >= 0) return `option ${empty + 1} is empty`;
  if (new Set(opts).size !== opts.length) return "two options have the same text";
  if (!(answer >= 0 && answer < opts.length)) return "no valid answer";
  const r = multipleChoice(question, opts, answer, language);
  return {
    key: String(key),
    messages: r.messages,
    pairs: r.pairs,
    meta: { answer: LETTERS[answer] },
  };
}

/** A two-turn conversation, or the reason the row has none. */
function _qa(key: unknown, user: unknown, assistant: unknown): ReturnType<_Parse> {
  if (typeof user !== "string" || user.trim() === "") return "empty question/instruction";
  if (typeof assistant !== "string" || assistant.trim() === "") return "empty answer";
  return {
    key: String(key),
    messages: [{ role: "user", content: user.trim() }, {
      role: "assistant",
      content: assistant.trim(),
    }],
  };
}

function _str(v: unknown): string {
  return typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : "";
}

/** An alpaca-style row: instruction (+ input) → output. */
function _alpaca(outputField: string): _Parse {
  return (row, line) => {
    const instruction = _str(row.instruction);
    const input = _str(row.input);
    if (typeof row.instruction !== "string") return 'no "instruction" string';
    return _qa(`L${line}`, input ? `${instruction}\n\n${input}` : instruction, row[outputField]);
  };
}

/** GSM8K-style worked answer: calculator annotations `<<48/2=24>>` dropped, `#### n` kept. */
export function gsm8kAnswer(answer: string): string | undefined {
  const clean = answer.replace(/<<[^<>]*>>/g, "").trim();
  return /\n#### \S/.test(clean) ? clean : undefined;
}

function _bool(v: unknown, yes: string, no: string): boolean | undefined {
  const s = _str(v).toLowerCase();
  if (s === yes.toLowerCase()) return true;
  if (s === no.toLowerCase()) return false;
  return undefined;
}

/** Every source Jikji knows: folder name → how to read it. */
const SOURCES: Record<string, _SourceDef> = {
  bench_en_arc_train: {
    kind: "multiple_choice",
    language: "en",
    files: ["ARC-Easy", "ARC-Challenge"].map((subset) => ({
      path: `${subset}-Train.jsonl`,
      subset,
      format: "jsonl" as const,
      parse: (row: _Row, line: number) => {
        const q = row.question as { stem?: unknown; choices?: unknown } | undefined;
        if (!q || typeof q !== "object" || !Array.isArray(q.choices)) {
          return 'no "question.choices" list';
        }
        const choices = q.choices as { text?: unknown; label?: unknown }[];
        const answer = choices.findIndex((c) => String(c?.label) === _str(row.answerKey));
        if (answer < 0) return `answerKey ${JSON.stringify(row.answerKey)} is not a choice label`;
        return _mc(row.id ?? `L${line}`, q.stem, choices.map((c) => c?.text), answer, "en");
      },
    })),
  },
  bench_ko_kobest_train: {
    kind: "multiple_choice",
    language: "ko",
    files: [
      {
        path: "BoolQ/train.tsv",
        subset: "BoolQ",
        format: "tsv",
        parse: (row, line) => {
          const yes = _bool(row.Answer, "TRUE", "FALSE");
          if (yes === undefined) return `Answer ${JSON.stringify(row.Answer)} is not TRUE or FALSE`;
          if (_str(row.Text) === "") return "empty Text";
          const q = `지문: ${_str(row.Text)}\n\n위 지문에 따르면 다음 문장은 참입니까?\n${
            _str(row.Question)
          }`;
          return _mc(
            row.ID || `L${line}`,
            _str(row.Question) && q,
            ["예", "아니요"],
            yes ? 0 : 1,
            "ko",
          );
        },
      },
      {
        path: "COPA/train.tsv",
        subset: "COPA",
        format: "tsv",
        parse: (row, line) => {
          const kind = _str(row.question);
          if (kind !== "원인" && kind !== "결과") {
            return `question ${JSON.stringify(row.question)} is not 원인 or 결과`;
          }
          const ask = kind === "원인"
            ? "이 일의 원인으로 알맞은 것은?"
            : "이 일의 결과로 알맞은 것은?";
          const answer = Number(_str(row.Answer)) - 1;
          return _mc(
            row.ID || `L${line}`,
            _str(row.sentence) && `${_str(row.sentence)}\n\n${ask}`,
            [
              row["1"],
              row["2"],
            ],
            answer,
            "ko",
          );
        },
      },
      {
        path: "SentiNeg/train.tsv",
        subset: "SentiNeg",
        format: "tsv",
        parse: (row, line) => {
          const label = _str(row.Label);
          if (label !== "0" && label !== "1") {
            return `Label ${JSON.stringify(row.Label)} is not 0 or 1`;
          }
          const q = `다음 문장의 감정은 긍정입니까, 부정입니까?\n\n${_str(row.Text)}`;
          return _mc(
            row.ID || `L${line}`,
            _str(row.Text) && q,
            ["부정", "긍정"],
            Number(label),
            "ko",
          );
        },
      },
      {
        path: "WiC/train.tsv",
        subset: "WiC",
        format: "tsv",
        parse: (row, line) => {
          const same = _bool(row.ANSWER, "true", "false");
          if (same === undefined) {
            return `ANSWER ${JSON.stringify(row.ANSWER)} is not True or False`;
          }
          const [t, s1, s2] = [_str(row.Target), _str(row.SENTENCE1), _str(row.SENTENCE2)];
          if (!t || !s1 || !s2) return "empty Target or sentence";
          const q = `다음 두 문장에서 단어 "${t}"의 뜻이 같습니까?\n\n문장 1: ${s1}\n문장 2: ${s2}`;
          return _mc(row.ID || `L${line}`, q, ["아니요", "예"], same ? 1 : 0, "ko");
        },
      },
    ],
  },
  bench_ko_strategyqa_train: {
    kind: "multiple_choice",
    language: "ko",
    files: [{
      path: "ko-strategyqa-train-v2.csv",
      subset: "StrategyQA",
      format: "csv",
      columns: ["prompt", "answer"],
      parse: (row, line) => {
        const answer = ["사실", "거짓"].indexOf(_str(row.answer));
        if (answer < 0) return `answer ${JSON.stringify(row.answer)} is not 사실 or 거짓`;
        const q = _str(row.prompt).replace(/\s*답변\s*:\s*$/, "");
        return _mc(`L${line}`, q, ["사실", "거짓"], answer, "ko");
      },
    }],
  },
  bench_ko_korsts_train: {
    kind: "multiple_choice",
    language: "ko",
    files: [{
      path: "sts-train.tsv",
      subset: "KorSTS",
      format: "tsv",
      // The eval's korsts task (eval/bench/korsts.yaml): similar when the 0–5 score is ≥ 3.
      parse: (row, line) => {
        const score = Number(_str(row.score));
        if (_str(row.score) === "" || !Number.isFinite(score)) {
          return `score ${JSON.stringify(row.score)} is not a number`;
        }
        const [s1, s2] = [_str(row.sentence1), _str(row.sentence2)];
        if (!s1 || !s2) return "empty sentence";
        const q = `문장 1: ${s1}\n문장 2: ${s2}\n\n두 문장의 의미가 비슷합니까?`;
        const r = _mc(`L${line}`, q, ["아니요", "예"], score >= 3 ? 1 : 0, "ko");
        if (typeof r !== "string") r.meta = { ...r.meta, score };
        return r;
      },
    }],
  },
  sft_ko_safety_hatespeech_train: {
    kind: "multiple_choice",
    language: "ko",
    files: [{
      path: "train.tsv",
      subset: "hate",
      format: "tsv",
      parse: (row, line) => {
        const answer = ["hate", "offensive", "none"].indexOf(_str(row.hate));
        if (answer < 0) return `hate ${JSON.stringify(row.hate)} is not hate, offensive or none`;
        const q = `다음 댓글은 혐오 표현, 공격적 표현, 해당 없음 중 무엇에 해당합니까?\n\n댓글: ${
          _str(row.comments)
        }`;
        const r = _mc(
          `L${line}`,
          _str(row.comments) && q,
          ["혐오 표현", "공격적 표현", "해당 없음"],
          answer,
          "ko",
        );
        if (typeof r !== "string") {
          r.meta = { ...r.meta, bias: _str(row.bias), gender_bias: _str(row.contain_gender_bias) };
        }
        return r;
      },
    }],
  },
  bench_en_gsm8k_train: {
    kind: "worked_answer",
    language: "en",
    files: [{
      path: "train.jsonl",
      subset: "GSM8K",
      format: "jsonl",
      parse: (row, line) => {
        if (typeof row.answer !== "string") return 'no "answer" string';
        const answer = gsm8kAnswer(row.answer);
        if (!answer) return 'answer has no final "#### n" line';
        return _qa(`L${line}`, row.question, answer);
      },
    }],
  },
  sft_ko_math_translated_train: {
    kind: "worked_answer",
    language: "ko",
    files: ["addsub", "multiarith", "single_eq"].map((subset) => ({
      path: `kor-D_${subset}-train.json`,
      subset,
      format: "jsonl" as const, // JSON Lines despite the name (README)
      parse: (row: _Row, line: number) => {
        const final = _str(row.answer);
        if (!final) return 'no "answer"';
        const sol = _str(row.kor_answer);
        const key = row.sample_index !== undefined
          ? `${row.sample_index}-${row.completion_index ?? 0}`
          : `L${line}`;
        return _qa(key, row.kor_question, sol && `${sol}\n#### ${final}`);
      },
    })),
  },
  sft_ko_math_kmwp_train: {
    kind: "worked_answer",
    language: "ko",
    files: [{
      path: "train.csv",
      subset: "KMWP",
      format: "csv",
      parse: (row, line) => {
        const code = typeof row.code === "string" ? row.code.trim() : "";
        const answer = _str(row.answer);
        if (!code || !answer) return "empty code or answer";
        const r = _qa(`L${line}`, row.problem, `\`\`\`python\n${code}\n\`\`\`\n#### ${answer}`);
        if (typeof r !== "string") r.meta = { class: _str(row.class) };
        return r;
      },
    }],
  },
  sft_ko_chat_songys: {
    kind: "instruction",
    language: "ko",
    files: [{
      path: "ChatbotData.csv",
      subset: "Chatbot",
      format: "csv",
      parse: (row, line) => {
        const r = _qa(`L${line}`, row.Q, row.A);
        if (typeof r !== "string") r.meta = { label: _str(row.label) };
        return r;
      },
    }],
  },
  sft_ko_humanrights_hrc: {
    kind: "instruction",
    language: "ko",
    files: [{
      path: "humane_right_copus_v1.jsonl.json",
      subset: "HRC",
      format: "jsonl", // JSON Lines (README)
      // The answer grounded in counselling cases and decisions, not the plain ChatGPT one.
      parse: (row, line) => {
        const r = _qa(row["번호"] ?? `L${line}`, row["질의"], row["상담례, 결정례 기반 답변"]);
        if (typeof r !== "string") r.meta = { type: _str(row["종류"]) };
        return r;
      },
    }],
  },
  sft_en_gpteacher: {
    kind: "instruction",
    language: "en",
    files: [
      {
        path: "codegen-instruct.json",
        subset: "codegen",
        format: "json",
        parse: _alpaca("response"),
      },
      {
        path: "roleplay-simple-deduped-roleplay-instruct.json",
        subset: "roleplay",
        format: "json",
        parse: _alpaca("response"),
      },
    ],
  },
  sft_en_code_alpaca_2k: {
    kind: "instruction",
    language: "en",
    files: [{
      path: "code_alpaca_2k.json",
      subset: "code_alpaca",
      format: "json",
      parse: _alpaca("output"),
    }],
  },
  mix_en_llamafactory_demo: {
    kind: "instruction",
    language: "en",
    files: [
      {
        path: "alpaca_en_demo.json",
        subset: "alpaca_en_demo",
        format: "json",
        parse: _alpaca("output"),
      },
      { path: "dpo_en_demo.json", subset: "dpo_en_demo", format: "json", parse: _sharegptPair },
    ],
  },
  pref_ko_safety_square_demo: {
    kind: "preference",
    language: "ko",
    files: [{
      path: "square_response_iter0.json",
      subset: "SQuARe",
      format: "json",
      parse: (row, line) => {
        const ok = row["acceptable?"];
        if (ok !== 0 && ok !== 1) return `"acceptable?" ${JSON.stringify(ok)} is not 0 or 1`;
        const [q, a] = [_str(row.question), _str(row.response)];
        if (!q || !a) return "empty question or response";
        return {
          key: `L${line}`,
          meta: { question: q, response: a, acceptable: ok === 1, category: row.question_category },
        };
      },
      combine: _squarePairs,
    }],
  },
};

/** The names of every source Jikji can build from. */
export const SOURCE_NAMES: readonly string[] = Object.keys(SOURCES);

/** The kind and language of a source, for listings and `--help`. */
export function sourceKind(name: string): { kind: SourceKind; language: "ko" | "en" } | undefined {
  const d = SOURCES[name];
  return d && { kind: d.kind, language: d.language };
}

/** LLaMA-Factory's ShareGPT-style DPO row: conversations + chosen/rejected {from, value}. */
function _sharegptPair(row: _Row, line: number): ReturnType<_Parse> {
  const roles: Record<string, Message["role"]> = {
    human: "user",
    user: "user",
    gpt: "assistant",
    assistant: "assistant",
    system: "system",
  };
  if (!Array.isArray(row.conversations)) return 'no "conversations" list';
  const prompt: Message[] = [];
  for (const [i, m] of (row.conversations as { from?: unknown; value?: unknown }[]).entries()) {
    const role = roles[String(m?.from)];
    if (!role) {
      return `conversations[${i}].from ${JSON.stringify(m?.from)} is not human, gpt or system`;
    }
    if (typeof m.value !== "string" || m.value.trim() === "") return `conversations[${i}] is empty`;
    prompt.push({ role, content: m.value.trim() });
  }
  const side = (v: unknown): Message[] | string => {
    const m = v as { from?: unknown; value?: unknown } | undefined;
    if (!m || typeof m.value !== "string" || m.value.trim() === "") return "an empty answer";
    if (roles[String(m.from)] !== "assistant") return `an answer from ${JSON.stringify(m.from)}`;
    return [{ role: "assistant", content: m.value.trim() }];
  };
  const chosen = side(row.chosen), rejected = side(row.rejected);
  if (typeof chosen === "string") return `chosen is ${chosen}`;
  if (typeof rejected === "string") return `rejected is ${rejected}`;
  return { key: `L${line}`, pairs: [{ tag: "pair", prompt, chosen, rejected }] };
}

/** SQuARe: each question's acceptable answer chosen over each of its non-acceptable ones. */
function _squarePairs(items: _Item[]): { items: _Item[]; bad: MalformedRow[] } {
  const byQ = new Map<string, _Item[]>();
  for (const it of items) {
    const q = it.meta!.question as string;
    if (!byQ.has(q)) byQ.set(q, []);
    byQ.get(q)!.push(it);
  }
  const out: _Item[] = [];
  const bad: MalformedRow[] = [];
  for (const [q, rows] of byQ) {
    const good = rows.filter((r) => r.meta!.acceptable);
    const poor = rows.filter((r) => !r.meta!.acceptable);
    if (!good.length || !poor.length) {
      for (const r of rows) {
        bad.push({
          file: r.file,
          line: r.line,
          reason: `question has no ${good.length ? "non-" : ""}acceptable answer to pair with`,
        });
      }
      continue;
    }
    const prompt: Message[] = [{ role: "user", content: q }];
    const first = rows[0];
    out.push({
      ...first,
      key: `L${first.line}`,
      meta: { category: first.meta!.category, lines: rows.map((r) => r.line) },
      pairs: good.flatMap((g) =>
        poor.map((p) => ({
          tag: `vs-L${p.line}`,
          prompt,
          chosen: [{ role: "assistant" as const, content: g.meta!.response as string }],
          rejected: [{ role: "assistant" as const, content: p.meta!.response as string }],
        }))
      ),
    });
  }
  return { items: out, bad };
}

/**
 * Reads the source table of the folder's README.md: `dir | repo@commit | what | rows | licence`.
 * A missing README is a {@linkcode UserError} (every record must name its licence).
 */
export async function readSourceTable(sourceDir: string): Promise<Map<string, SourceLicence>> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(sourceDir, "README.md"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${sourceDir}: no README.md with the source table (is this the post-training data folder?)`,
      );
    }
    throw err;
  }
  const table = new Map<string, SourceLicence>();
  for (const line of text.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(cells[0]) || cells[0] === "dir") {
      continue;
    }
    const [dir, repo, what, rows, ...rest] = cells;
    table.set(dir, { repo, what, rows, licence: rest.join(" | ").trim() });
  }
  return table;
}

/** Seeded in-place Fisher–Yates shuffle. */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** FNV-1a of a string (u32), to give each source its own seeded stream. */
function _fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Builds SFT conversations and preference pairs from the chosen sources.
 *
 * @example
 * ```ts ignore
 * import { buildPosttrainData } from "./build.ts";
 * const r = await buildPosttrainData({ sourceDir: "../shared/posttrain", sources: ["bench_en_arc_train"],
 *   maxPerSource: 100, heldoutFraction: 0.1, seed: 1 });
 * r.sft.length; // 90
 * ```
 */
export async function buildPosttrainData(options: BuildOptions): Promise<BuildResult> {
  const names = options.sources?.length ? options.sources : [...SOURCE_NAMES];
  for (const n of names) {
    if (!SOURCES[n]) {
      throw new UserError(`--sources: unknown source "${n}" (known: ${SOURCE_NAMES.join(", ")})`);
    }
  }
  const frac = options.heldoutFraction ?? 0;
  if (!(frac >= 0 && frac < 1)) throw new UserError(`--heldout-fraction: ${frac} is not in [0, 1)`);
  const table = await readSourceTable(options.sourceDir);
  const result: BuildResult = {
    sft: [],
    sftHeldout: [],
    dpo: [],
    dpoHeldout: [],
    sources: {},
    malformed: [],
  };
  const total = names.reduce((n, s) => n + SOURCES[s].files.length, 0);
  let done = 0;
  for (const name of [...new Set(names)]) {
    const def = SOURCES[name];
    const lic = table.get(name);
    if (!lic) {
      throw new UserError(
        `${
          join(options.sourceDir, "README.md")
        }: no row for source "${name}" in the table, so its licence is unknown`,
      );
    }
    const stats: SourceStats = {
      kind: def.kind,
      language: def.language,
      licence: lic.licence,
      repo: lic.repo,
      files: def.files.map((f) => f.path),
      rows: 0,
      malformed: 0,
      usable: 0,
      subsets: {},
      selected: 0,
      heldout: 0,
      sft: { train: 0, heldout: 0 },
      dpo: { train: 0, heldout: 0 },
    };
    result.sources[name] = stats;
    const items: _Item[] = [];
    for (const f of def.files) {
      const file = join(options.sourceDir, name, f.path);
      const bad = (line: number, reason: string) => {
        stats.malformed++;
        result.malformed.push({ file, line, reason });
      };
      let parsed: _Item[] = [];
      for await (const { line, row } of _rows(file, f, bad)) {
        stats.rows++;
        let r: ReturnType<_Parse>;
        try {
          r = f.parse(row, line);
        } catch (err) {
          r = (err as Error).message;
        }
        if (typeof r === "string") bad(line, r);
        else parsed.push({ ...r, subset: f.subset, file, line });
      }
      if (f.combine) {
        const c = f.combine(parsed);
        for (const b of c.bad) bad(b.line, b.reason);
        parsed = c.items;
      }
      // Each record must pass the record checks; a row whose record fails is malformed.
      parsed = parsed.filter((it) => {
        const reason = _itemProblem(it);
        if (reason) bad(it.line, reason);
        return !reason;
      });
      stats.subsets[f.subset] = parsed.length;
      items.push(...parsed);
      options.onFile?.(file, ++done, total);
    }
    stats.usable = items.length;
    shuffle(items, new Rng((options.seed ?? 0) ^ _fnv(name)));
    const kept = options.maxPerSource ? items.slice(0, options.maxPerSource) : items;
    const nHeld = Math.round(kept.length * frac);
    stats.selected = kept.length;
    stats.heldout = nHeld;
    const seen = new Set<string>();
    kept.forEach((it, i) => {
      const held = i < nHeld;
      let key = `${name}/${it.subset}/${it.key}`;
      if (seen.has(key)) key += `@L${it.line}`;
      seen.add(key);
      const meta = {
        source: name,
        subset: it.subset,
        language: def.language,
        kind: def.kind,
        licence: lic.licence,
        repo: lic.repo,
        file: `${name}/${def.files.find((f) => f.subset === it.subset)!.path}`,
        line: it.line,
        ...it.meta,
      };
      if (it.messages) {
        (held ? result.sftHeldout : result.sft).push({ id: key, messages: it.messages, meta });
        stats.sft[held ? "heldout" : "train"]++;
      }
      for (const p of it.pairs ?? []) {
        const pair = {
          id: `${key}/${p.tag}`,
          prompt: p.prompt,
          chosen: p.chosen,
          rejected: p.rejected,
          meta,
        };
        (held ? result.dpoHeldout : result.dpo).push(pair);
        stats.dpo[held ? "heldout" : "train"]++;
      }
    });
  }
  // One seeded order over all sources, so a stream of the file mixes them.
  const rng = new Rng(options.seed ?? 0);
  for (const xs of [result.sft, result.sftHeldout, result.dpo, result.dpoHeldout]) {
    shuffle(xs as unknown[], rng);
  }
  return result;
}

function _itemProblem(it: _Item): string | undefined {
  if (it.messages) {
    const r = validateConversation({ id: it.key, messages: it.messages });
    if (r) return r;
  }
  for (const p of it.pairs ?? []) {
    const r = validatePair({
      id: it.key,
      prompt: p.prompt,
      chosen: p.chosen,
      rejected: p.rejected,
    });
    if (r) return r;
  }
  if (!it.messages && !it.pairs?.length) return "gives neither a conversation nor a pair";
  return undefined;
}

/** The rows of one source file with their 1-based line numbers; bad rows go to `bad`. */
async function* _rows(
  file: string,
  f: _FileDef,
  bad: (line: number, reason: string) => void,
): AsyncGenerator<{ line: number; row: _Row }> {
  try {
    await Deno.stat(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${file}: missing (the source folder is incomplete; check --source-dir)`);
    }
    throw err;
  }
  if (f.format === "jsonl") {
    for await (
      const { line, value } of readJsonl(file, { onBadLine: (b) => bad(b.line, b.reason) })
    ) {
      yield { line, row: value };
    }
    return;
  }
  const text = (await Deno.readTextFile(file)).replace(/^\uFEFF/, "");
  if (f.format === "json") {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      const line = pos ? text.slice(0, Number(pos[1])).split("\n").length : 1;
      bad(line, `invalid JSON (${msg}); the whole file was skipped`);
      return;
    }
    if (!Array.isArray(v)) {
      bad(1, "expected a JSON array of rows; the whole file was skipped");
      return;
    }
    const lines = jsonArrayElementLines(text);
    for (let i = 0; i < v.length; i++) {
      const line = lines[i] ?? 1;
      const row = v[i];
      if (row === null || typeof row !== "object" || Array.isArray(row)) {
        bad(line, "expected a JSON object");
      } else yield { line, row: row as _Row };
    }
    return;
  }
  const records = f.format === "csv" ? csvRecords(text) : tsvRecords(text);
  let header = f.columns;
  for (const { line, cells } of records) {
    if (!header) {
      header = cells.map((c) => c.trim());
      continue;
    }
    if (cells.length === 1 && cells[0].trim() === "") continue;
    if (cells.length !== header.length) {
      bad(line, `${cells.length} fields, expected ${header.length} (${header.join(", ")})`);
      continue;
    }
    yield { line, row: Object.fromEntries(header.map((h, j) => [h, cells[j]])) };
  }
}

/**
 * The 1-based line on which each top-level element of a JSON array starts (so that a bad row of
 * a JSON file can be named `file:line`).
 *
 * @example
 * ```ts
 * import { jsonArrayElementLines } from "./build.ts";
 * jsonArrayElementLines('[\n  {"a": "x,y"},\n  {"b": [1,\n 2]}\n]'); // [2, 3]
 * ```
 */
export function jsonArrayElementLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0, line = 1, inStr = false, esc = false, expect = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (inStr) {
      if (esc) esc = false;
      else if (c === "\\") esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === " " || c === "\t" || c === "\n" || c === "\r") continue;
    if (depth === 1 && expect && c !== "]") {
      out.push(line);
      expect = false;
    }
    if (c === '"') inStr = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) expect = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expect = true;
  }
  return out;
}

/** Splits TSV text on tabs only (no quoting, as KoBEST's and KorSTS's files need). */
export function tsvRecords(text: string): { line: number; cells: string[] }[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l, i) => ({ line: i + 1, cells: l.replace(/\r$/, "").split("\t") }));
}
