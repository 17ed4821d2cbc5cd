/**
 * PII scrubbing in the manner of Kanana (Kakao 2025): e-mail addresses, Korean phone numbers
 * (mobile, landline with area codes, representative 15xx/16xx/18xx numbers, +82 forms), resident
 * registration numbers (주민등록번호: a real birth date and gender digit; no checksum, since numbers
 * issued from October 2020 on have none), card numbers (Luhn-validated,
 * known issuer prefixes), account-like numbers in context (계좌, 입금, 은행, account … within a
 * few words before) and IPv4/IPv6 addresses are replaced by typed placeholders such as `[EMAIL]`.
 *
 * Detectors are written to pass near-misses that look alike: dates, prices, version numbers
 * (`버전 7.3.4.2` is not an IP), section numbers (`1.2.2.1. 개요` is not one either), US ZIP+4
 * codes (`02139-4307` is no Seoul number), ISBNs (they fail the card prefix and the RRN date check:
 * 978/979 make month 8x/9x), times. `pii_eval.ts` measures precision and recall on a generated set
 * and on the hand-labelled lines of `testdata/pii_labelled.jsonl`.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { BaseTransform } from "../pipeline/step.ts";

/** The PII types and their placeholders. */
export const PII_TYPES = {
  email: "[EMAIL]",
  phone: "[PHONE]",
  rrn: "[RRN]",
  card: "[CARD]",
  account: "[ACCOUNT]",
  ip: "[IP]",
} as const;

/** A PII type. */
export type PiiType = keyof typeof PII_TYPES;

/** A detected span `[start, end)` of `text`. */
export interface PiiSpan {
  start: number;
  end: number;
  type: PiiType;
}

const _EMAIL =
  /[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// Digit runs with separators; boundaries checked in code (no digit, dot-digit or comma-digit next).
const _RRN = /\d{6}[- ]?\d{7}/g;
// Unseparated, or grouped as printed on cards: 4-4-4-4(-1…3) or Amex/Diners 4-6-4/5.
const _CARD = /\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}|\d{13,19}/g;
const _PHONE =
  /(?:\+82[ -]?(?:\(0\))?[ -]?|\b0)(?:1[016789]|2|[3-6][1-5]|70|50\d)[ .)-]?\d{3,4}[ .-]?\d{4}|\b1[568]\d{2}-\d{4}/g;
const _ACCOUNT = /\d{2,6}(?:-\d{2,8}){1,4}|\d{10,14}/g;
const _ACCOUNT_CONTEXT =
  /(계좌|입금|송금|이체|은행|예금주|농협|국민|신한|우리|하나|기업|account|IBAN)/i;
const _ACCOUNT_AFTER = /^\s*[(（]?\s*(?:[가-힣]{1,6}은행|농협|예금주|신협|우체국|새마을금고)/;
const _IPV4 = /(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}/g;
const _IPV6 = /[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d+){0,3}/g;
// A product name right before a dotted quad makes it a version: "LibreOffice 7.4.1.2", not an IP
// (network words excepted: "Server 10.0.0.1" stays an address).
const _PRODUCT_BEFORE =
  /(?:^|[^A-Za-z])(?!(?:IP|IPv4|Server|Host|Address|Gateway|DNS|Proxy|Router|Client)\s)[A-Z][A-Za-z]*[a-z][A-Za-z]*\s+$/;
// RFC 2606 / 6761 reserved example domains are never anyone's address.
const _EXAMPLE_DOMAIN = /@(?:[^@\s]*\.)?example(?:\.(?:com|org|net))?$/i;
// a version word after, or a pre-release or build suffix ("7.4.1.2-beta", "1.2.3.4+git")
const _VERSION_AFTER = /^(?:\s*(?:버전|version|판)|-[A-Za-z]|\+[0-9A-Za-z])/i;
// Words that make a dotted quad a section number ("절 3.1.4.2", "section 1.2.2.1") …
const _SECTION_BEFORE = /(?:section|sect\.|chapter|§|절|장|항|조|단원|목차)\s*$/i;
// … and words that keep it an address even where it looks like one ("서버 주소는 10.0.0.1.").
const _NETWORK_BEFORE =
  /(?:\b(?:IP|IPv4|server|host|address|gateway|DNS|proxy|router|client)\b|서버|주소|게이트웨이|호스트|접속)[^\n]*$/i;
/** A line's leading markup before a heading number: spaces, bullets, `#`, an opening bracket. */
const _LINE_LEAD = /^[\s#*•·\-–([]*$/;
const _VERSION_CONTEXT = /(?:버전|릴리스|(?:^|[^A-Za-z])(?:version|ver\.?|release|v))\s*$/i;

/**
 * Resident registration number check: YYMMDD-GNNNNNN where G is 1–4 (citizens born in the 1900s:
 * 1/2, 2000s: 3/4) or 5–8 (foreign residents, the same centuries) and YYMMDD is a real date of
 * that century, not in the future. The last digit is not checked: numbers issued before October
 * 2020 end in a check digit, those issued since end in random digits.
 */
export function isValidRrn(digits: string, now = new Date()): boolean {
  const d = digits.replace(/[- ]/g, "");
  if (!/^\d{13}$/.test(d)) return false;
  const g = Number(d[6]);
  if (g < 1 || g > 8) return false;
  const year = (g % 4 === 1 || g % 4 === 2 ? 1900 : 2000) + Number(d.slice(0, 2));
  const mm = Number(d.slice(2, 4)), dd = Number(d.slice(4, 6));
  if (mm < 1 || mm > 12 || dd < 1) return false;
  const birth = new Date(Date.UTC(year, mm - 1, dd));
  return birth.getUTCDate() === dd && birth.getTime() <= now.getTime();
}

/** The check digit of a pre-October-2020 RRN: true when `digits`' last digit matches it. */
export function rrnCheckDigitOk(digits: string): boolean {
  const d = digits.replace(/[- ]/g, "");
  const weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(d[i]) * weights[i];
  return (11 - (sum % 11)) % 10 === Number(d[12]);
}

/** Luhn check of a digit string (separators ignored). */
export function luhnValid(digits: string): boolean {
  const d = digits.replace(/[- ]/g, "");
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return d.length > 0 && sum % 10 === 0;
}

/** Card number: 13–19 digits, a known issuer prefix, Luhn-valid. */
export function isCardNumber(s: string): boolean {
  const d = s.replace(/[- ]/g, "");
  if (d.length < 13 || d.length > 19) return false;
  // Visa 4, Mastercard 51–55 / 2221–2720, Amex 34/37, Diners 30/36/38, JCB 35, Discover/UnionPay 6
  if (!/^(4|5[1-5]|2[2-7]|3[0478]|35|6)/.test(d)) return false;
  return luhnValid(d);
}

/** True when `cand` is a syntactically valid IPv6 address with at least three groups. */
export function isIpv6(cand: string): boolean {
  let s = cand;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let groupsFromV4 = 0;
  if (v4) {
    if (!new RegExp(`^${_IPV4.source}$`).test(v4[1])) return false;
    s = s.slice(0, -v4[1].length);
    if (!s.endsWith(":")) return false;
    s = s.endsWith("::") ? s : s.slice(0, -1);
    groupsFromV4 = 2;
  } else if (s.includes(".")) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const parts = (h: string) => (h === "" ? [] : h.split(":"));
  const groups = halves.flatMap(parts);
  if (groups.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  const n = groups.length + groupsFromV4;
  if (halves.length === 1) {
    // Without "::" all 8 groups are written: this also rules out times like 12:30:45.
    return n === 8;
  }
  // With "::", at least two written groups: a bare "::" or "::1" identifies no one, and C++ or
  // Korean text such as "X청취자::메소드" must not match.
  return n >= 2 && n <= 7;
}

/** Finds PII spans in `text` (non-overlapping, in order). */
export function findPii(text: string, types: readonly PiiType[] = ALL_PII_TYPES): PiiSpan[] {
  const want = new Set(types);
  const found: PiiSpan[] = [];
  const add = (re: RegExp, type: PiiType, ok: (m: string, start: number) => boolean) => {
    if (!want.has(type)) return;
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) {
      const start = m.index!;
      const end = start + m[0].length;
      if (ok(m[0], start)) found.push({ start, end, type });
    }
  };
  const digitBounded = (m: string, start: number) => _bounded(text, start, start + m.length);
  add(_EMAIL, "email", (m) => !_EXAMPLE_DOMAIN.test(m));
  add(_RRN, "rrn", (m, s) => digitBounded(m, s) && isValidRrn(m));
  add(_CARD, "card", (m, s) => digitBounded(m, s) && isCardNumber(m));
  // a US ZIP+4 code (5-4 digits) is no Korean number, whose area code never takes 5 digits
  add(_PHONE, "phone", (m, s) => digitBounded(m, s) && !/^\d{5}-\d{4}$/.test(m));
  add(_ACCOUNT, "account", (m, s) => {
    if (!digitBounded(m, s)) return false;
    const digits = m.replace(/-/g, "").length;
    if (digits < 10 || digits > 14) return false;
    if (_ACCOUNT_CONTEXT.test(text.slice(Math.max(0, s - 24), s))) return true;
    // or a bank or holder right after: "110-123-456789 (국민은행)", "… 예금주 홍길동"
    return _ACCOUNT_AFTER.test(text.slice(s + m.length, s + m.length + 12));
  });
  add(_IPV4, "ip", (m, s) => {
    if (!_bounded(text, s, s + m.length)) return false;
    if (_VERSION_CONTEXT.test(text.slice(Math.max(0, s - 12), s))) return false;
    if (_PRODUCT_BEFORE.test(text.slice(Math.max(0, s - 24), s))) return false;
    if (_VERSION_AFTER.test(text.slice(s + m.length, s + m.length + 12))) return false;
    return !_isSectionNumber(text, s, s + m.length, m);
  });
  add(_IPV6, "ip", (m, s) => {
    const e = s + m.length;
    if (/[0-9A-Za-z_]/.test(text[s - 1] ?? "") || /[0-9A-Za-z_]/.test(text[e] ?? "")) return false;
    return isIpv6(m);
  });
  // Resolve overlaps: the earlier start wins, then the longer span, then the detector order above.
  const order = ["email", "rrn", "card", "phone", "account", "ip"];
  found.sort((a, b) =>
    a.start - b.start || (b.end - b.start) - (a.end - a.start) ||
    order.indexOf(a.type) - order.indexOf(b.type)
  );
  const out: PiiSpan[] = [];
  for (const s of found) {
    if (out.length > 0 && s.start < out[out.length - 1].end) continue;
    out.push(s);
  }
  return out;
}

/** All PII types. */
export const ALL_PII_TYPES = Object.keys(PII_TYPES) as PiiType[];

/**
 * Replaces PII in `text` by placeholders; returns the new text and counts by type.
 *
 * @example
 * ```ts
 * import { scrubPii } from "./pii.ts";
 * const { text, counts } = scrubPii("연락처 010-1234-5678, 버전 7.3.4.2");
 * console.log(text, counts); // "연락처 [PHONE], 버전 7.3.4.2" { phone: 1 }
 * ```
 */
export function scrubPii(
  text: string,
  types: readonly PiiType[] = ALL_PII_TYPES,
): { text: string; counts: Partial<Record<PiiType, number>> } {
  const spans = findPii(text, types);
  if (spans.length === 0) return { text, counts: {} };
  const counts: Partial<Record<PiiType, number>> = {};
  let out = "";
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + PII_TYPES[s.type];
    at = s.end;
    counts[s.type] = (counts[s.type] ?? 0) + 1;
  }
  return { text: out + text.slice(at), counts };
}

/** The `pii` step: scrubs every document; counts replacements as `counters.pii_<type>`. */
export class PiiScrub extends BaseTransform {
  readonly name = "pii";
  readonly types: readonly PiiType[];

  constructor(types: readonly PiiType[] = ALL_PII_TYPES) {
    super();
    this.types = types;
  }

  transform(doc: Doc): Doc {
    const { text, counts } = scrubPii(doc.text, this.types);
    for (const [type, n] of Object.entries(counts)) {
      const key = `pii_${type}`;
      this.stats.counters[key] = (this.stats.counters[key] ?? 0) + n!;
    }
    return text === doc.text ? doc : { ...doc, text };
  }
}

/**
 * Whether the dotted quad `m` at `[start, end)` numbers a section rather than naming a host: next
 * to a section word ("절 3.1.4.2", "3.4.1.2절"); or, with no network word earlier on its line, ending in a period ("1.2.2.1. 개요",
 * a table of contents "1.2.2.1. 설치 1.2.2.2. 설정") or opening a line as a heading number with
 * small parts ("1.2.3.4 개요").
 */
function _isSectionNumber(text: string, start: number, end: number, m: string): boolean {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const before = text.slice(Math.max(lineStart, start - 24), start);
  if (_SECTION_BEFORE.test(before)) return true;
  if (_NETWORK_BEFORE.test(text.slice(Math.max(lineStart, start - 40), start))) return false;
  const after = text.slice(end, end + 2);
  if (/^\.(?:\s|$)/.test(after) || /^\s?[절장항조]/.test(after)) return true;
  const small = m.split(".").every((p) => Number(p) <= 30);
  return small && /^\s[^\d\s]/.test(after) && _LINE_LEAD.test(text.slice(lineStart, start));
}

/** No digit (nor a digit then `-` `.` `,`) directly before `start` or after `end`. */
function _bounded(text: string, start: number, end: number): boolean {
  const before = text.slice(Math.max(0, start - 2), start);
  const after = text.slice(end, end + 2);
  if (/\d[-.,]?$/.test(before)) return false;
  if (/^\d/.test(after) || /^[.,-]\d/.test(after)) return false;
  return true;
}
