/**
 * A generated evaluation set for PII scrubbing: Korean sentences carrying one PII item of a known
 * type and span (positives), and sentences carrying near-misses that look alike — dates, prices,
 * version numbers, section numbers, US ZIP+4 codes, ISBNs, times, RRN-shaped numbers without a
 * real birth date or gender digit, invalid card checksums, same-shaped numbers without account
 * context (negatives); and {@linkcode readLabelledPii}, hand-labelled lines shaped like real pages
 * (`testdata/pii_labelled.jsonl`). {@linkcode evaluatePii} reports precision and recall per type.
 *
 * @module
 */

import { findPii, luhnValid, type PiiType } from "./pii.ts";
import { UserError } from "../io/errors.ts";

/** One example: text and the PII spans it really holds. */
export interface PiiExample {
  text: string;
  spans: { start: number; end: number; type: PiiType }[];
  /** For negatives: what kind of near-miss it is. */
  nearMiss?: string;
}

/** A small seeded PRNG (mulberry32), so the set is the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates `perType` positives of every type and `perType` negatives of every near-miss kind. */
export function generatePiiSet(seed = 1, perType = 50): PiiExample[] {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const digits = (n: number) => Array.from({ length: n }, () => int(0, 9)).join("");
  const pick = <T>(xs: T[]) => xs[int(0, xs.length - 1)];
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  // Numbers issued before October 2020 end in a check digit, later ones in a random digit.
  const rrnDigits = () => {
    const g = int(1, 8), yy = g % 4 === 1 || g % 4 === 2 ? int(30, 99) : int(0, 19);
    const base = pad(yy) + pad(int(1, 12)) + pad(int(1, 28)) + String(g) + digits(5);
    if (rnd() < 0.5) return base + digits(1);
    const w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(base[i]) * w[i];
    return base + String((11 - (sum % 11)) % 10);
  };
  // The same shape without a real birth: month 13+, 30/31 February, gender digit 0 or 9, or a
  // 2000s birth date still to come.
  const badRrnDigits = () =>
    pick([
      () => pad(int(0, 99)) + pad(int(13, 99)) + pad(int(1, 28)) + String(int(1, 4)) + digits(6),
      () => pad(int(1, 99)) + "02" + pad(int(30, 31)) + String(int(1, 2)) + digits(6),
      () => pad(int(0, 99)) + pad(int(1, 12)) + pad(int(1, 28)) + pick(["0", "9"]) + digits(6),
      () => pad(int(60, 99)) + pad(int(1, 12)) + pad(int(1, 28)) + pick(["3", "4"]) + digits(6),
    ])();
  const cardDigits = (valid: boolean) => {
    const [prefix, len] = pick<[string, number]>([["4", 16], ["51", 16], ["55", 16], ["37", 15], [
      "35",
      16,
    ], ["62", 16]]);
    let body = prefix + digits(len - prefix.length - 1);
    for (let c = 0; c < 10; c++) {
      if (luhnValid(body + c) === valid) return body + c;
    }
    body = body.slice(0, -1) + "0";
    return body + "0";
  };
  const group = (d: string, sizes: number[], sep: string) => {
    const out: string[] = [];
    let at = 0;
    for (const s of sizes) out.push(d.slice(at, at += s));
    return out.join(sep);
  };
  const positives: Record<PiiType, () => string> = {
    email: () =>
      `${pick(["kim", "lee.park", "jikji_01", "hong+news", "user99"])}${int(1, 999)}@${
        pick(["naver.com", "gmail.com", "kakao.com", "snu.ac.kr", "daum.net"])
      }`,
    phone: () =>
      pick([
        () => `010-${digits(4)}-${digits(4)}`,
        () => `010${digits(8)}`,
        () => `010 ${digits(4)} ${digits(4)}`,
        () => `010.${digits(4)}.${digits(4)}`,
        () => `02-${digits(3)}-${digits(4)}`,
        () => `031-${digits(4)}-${digits(4)}`,
        () => `051-${digits(3)}-${digits(4)}`,
        () => `070-${digits(4)}-${digits(4)}`,
        () => `+82-10-${digits(4)}-${digits(4)}`,
        () => `+82 2 ${digits(4)} ${digits(4)}`,
        () => `1588-${digits(4)}`,
      ])(),
    rrn: () => {
      const d = rrnDigits();
      return rnd() < 0.8 ? `${d.slice(0, 6)}-${d.slice(6)}` : d;
    },
    card: () => {
      const d = cardDigits(true);
      const sizes = d.length === 15 ? [4, 6, 5] : [4, 4, 4, 4];
      return pick([group(d, sizes, "-"), group(d, sizes, " "), d]);
    },
    account: () =>
      pick([
        () => `${int(100, 999)}-${digits(3)}-${digits(6)}`,
        () => `${int(1000, 1002)}-${digits(3)}-${digits(6)}`,
        () => `${digits(6)}-${digits(2)}-${digits(6)}`,
        () => digits(12).replace(/^0/, "1"),
      ])(),
    ip: () =>
      pick([
        () => `${int(1, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
        () => `2001:db8:${int(0, 65535).toString(16)}::${int(1, 65535).toString(16)}`,
        () =>
          Array.from({ length: 8 }, () => int(0, 65535).toString(16).padStart(4, "0")).join(":"),
        () => `fe80::${int(1, 65535).toString(16)}:${int(1, 65535).toString(16)}`,
      ])(),
  };
  const frames: Record<PiiType, string[]> = {
    email: ["문의는 {} 로 보내 주세요.", "담당자 이메일: {}", "연락처({})를 남겼습니다."],
    phone: ["전화번호는 {} 입니다.", "고객센터 {} 로 연락 바랍니다.", "휴대폰: {}"],
    rrn: ["주민등록번호 {} 를 입력하세요.", "신청인 {} 확인 완료.", "등록번호: {}"],
    card: ["카드 번호 {} 로 결제했습니다.", "결제 수단: {}", "카드({}) 승인"],
    account: [
      "입금 계좌: {} 로 보내 주세요.",
      "계좌번호 {} 예금주 홍길동",
      "국민은행 {} 으로 이체",
      "회비는 {} (신한은행) 으로 부탁드립니다.",
    ],
    ip: [
      "서버 주소는 {} 입니다.",
      "접속 IP {} 에서 로그인했습니다.",
      "게이트웨이({}) 설정",
      "Server {} 응답 없음",
    ],
  };
  const negatives: Record<string, () => string> = {
    date: () =>
      pick([
        () => `${int(1990, 2030)}-${pad(int(1, 12))}-${pad(int(1, 28))}`,
        () => `${int(1990, 2030)}.${pad(int(1, 12))}.${pad(int(1, 28))}`,
        () => `${int(1990, 2030)}${pad(int(1, 12))}${pad(int(1, 28))}`,
        () => `${int(1990, 2030)}년 ${int(1, 12)}월 ${int(1, 28)}일`,
        () => `${int(1990, 2030)}. ${int(1, 12)}. ${int(1, 28)}.`,
        () => `${int(1990, 2030)}.${pad(int(1, 12))}.${pad(int(1, 28))}. ${pad(int(0, 23))}:00`,
        () => `${pad(int(1, 12))}/${pad(int(1, 28))}/${int(1990, 2030)}`,
      ])(),
    price: () =>
      pick([
        () => `${int(1, 999)},${digits(3)},${digits(3)}원`,
        () => `₩${int(1, 99)},${digits(3)}`,
        () => `${int(1, 9)},${digits(3)},${digits(3)},${digits(3)}원`,
      ])(),
    version: () =>
      pick([
        () => `버전 ${int(1, 24)}.${int(0, 9)}.${int(0, 9)}.${int(0, 9)}`,
        () => `v${int(1, 9)}.${int(0, 20)}.${int(0, 30)}`,
        () => `LibreOffice ${int(5, 24)}.${int(0, 9)}.${int(0, 9)}.${int(1, 9)} 버전`,
        () => `${int(1, 9)}.${int(0, 20)}.${int(0, 9)}.${int(0, 99)}-beta`,
      ])(),
    section_number: () =>
      pick([
        () => `\n${int(1, 9)}.${int(1, 9)}.${int(1, 9)}.${int(1, 9)}. 개요\n`,
        () => `\n${int(1, 12)}.${int(1, 9)}.${int(1, 9)}.${int(1, 20)} 설치 방법\n`,
        () => `${int(1, 9)}.${int(1, 9)}.${int(1, 9)}.1. 설정 ${int(1, 9)}.${int(1, 9)}.2.1. 실행`,
        () => `절 ${int(1, 9)}.${int(1, 9)}.${int(1, 9)}.${int(1, 9)} 참조`,
        () => `(section ${int(1, 9)}.${int(1, 9)}.${int(1, 9)}.${int(1, 9)})`,
      ])(),
    zip4: () =>
      pick([
        () => `Cambridge, MA 0${digits(4)}-${digits(4)}`,
        () => `ZIP ${digits(5)}-${digits(4)}`,
        () => `${pick(["CA", "NY", "NJ", "CT"])} 0${digits(4)}-${digits(4)} USA`,
      ])(),
    isbn: () =>
      pick([
        () => `ISBN 978-89-${digits(4)}-${digits(3)}-${int(0, 9)}`,
        () => `ISBN ${pick(["978", "979"])}${digits(10)}`,
        () => `ISBN ${pick(["978", "979"])}-0-${digits(3)}-${digits(5)}-${int(0, 9)}`,
        () => `ISBN 89-${digits(4)}-${digits(3)}-${int(0, 9)}`,
      ])(),
    time: () => `${pad(int(0, 23))}:${pad(int(0, 59))}:${pad(int(0, 59))}`,
    bad_rrn: () => {
      const d = badRrnDigits();
      return `${d.slice(0, 6)}-${d.slice(6)}`;
    },
    bad_card: () => group(cardDigits(false), [4, 4, 4, 4], "-"),
    order_number: () => `주문번호 ${int(100, 999)}-${digits(3)}-${digits(6)}`,
  };
  const negFrames = ["{} 기준으로 작성했습니다.", "참고: {}", "표에 {} 를 적었다."];
  const out: PiiExample[] = [];
  for (const type of Object.keys(positives) as PiiType[]) {
    for (let i = 0; i < perType; i++) {
      const value = positives[type]();
      const [pre, post] = pick(frames[type]).split("{}");
      out.push({
        text: pre + value + post,
        spans: [{ start: pre.length, end: pre.length + value.length, type }],
      });
    }
  }
  for (const [kind, gen] of Object.entries(negatives)) {
    for (let i = 0; i < perType; i++) {
      const [pre, post] = pick(negFrames).split("{}");
      out.push({ text: pre + gen() + post, spans: [], nearMiss: kind });
    }
  }
  return out;
}

/** The hand-labelled lines shipped with the filter stage. */
export const LABELLED_PII_PATH = new URL("./testdata/pii_labelled.jsonl", import.meta.url).pathname;

/**
 * Reads hand-labelled lines: one `{"text": …, "pii": [[type, value], …]}` object per line, each
 * value found in the text in order (after the previous one). Lines without PII are negatives.
 */
export async function readLabelledPii(path = LABELLED_PII_PATH): Promise<PiiExample[]> {
  const out: PiiExample[] = [];
  const lines = (await Deno.readTextFile(path)).split("\n");
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${path}:${i + 1}`;
    let rec: { text: string; pii: [PiiType, string][] };
    try {
      rec = JSON.parse(line);
    } catch {
      throw new UserError(`${where}: not JSON`);
    }
    let from = 0;
    const spans = rec.pii.map(([type, value]) => {
      const start = rec.text.indexOf(value, from);
      if (start < 0) throw new UserError(`${where}: "${value}" is not in the text`);
      from = start + value.length;
      return { start, end: from, type };
    });
    out.push({ text: rec.text, spans, nearMiss: spans.length ? undefined : `line_${i + 1}` });
  });
  return out;
}

/** Precision and recall of one type (or all). */
export interface PrScore {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

/**
 * Runs {@linkcode findPii} on the set; a detection counts when its type and span match exactly.
 * Returns scores per type and `all`, and the false positives by near-miss kind.
 */
export function evaluatePii(
  set: PiiExample[],
): { scores: Record<string, PrScore>; falsePositives: Record<string, number> } {
  const counts: Record<string, { tp: number; fp: number; fn: number }> = {};
  const bump = (type: string, k: "tp" | "fp" | "fn") => {
    for (const t of [type, "all"]) {
      counts[t] ??= { tp: 0, fp: 0, fn: 0 };
      counts[t][k]++;
    }
  };
  const falsePositives: Record<string, number> = {};
  for (const ex of set) {
    const found = findPii(ex.text);
    const key = (s: { start: number; end: number; type: string }) =>
      `${s.start}:${s.end}:${s.type}`;
    const truth = new Set(ex.spans.map(key));
    const got = new Set(found.map(key));
    for (const s of found) {
      if (truth.has(key(s))) bump(s.type, "tp");
      else {
        bump(s.type, "fp");
        const kind = ex.nearMiss ?? `wrong_span_${ex.spans[0]?.type}`;
        falsePositives[kind] = (falsePositives[kind] ?? 0) + 1;
      }
    }
    for (const s of ex.spans) if (!got.has(key(s))) bump(s.type, "fn");
  }
  const scores: Record<string, PrScore> = {};
  for (const [t, c] of Object.entries(counts)) {
    scores[t] = {
      ...c,
      precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
      recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
    };
  }
  return { scores, falsePositives };
}
