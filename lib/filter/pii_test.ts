import assert from "node:assert/strict";
import {
  findPii,
  isCardNumber,
  isIpv6,
  isValidRrn,
  PiiScrub,
  rrnCheckDigitOk,
  scrubPii,
} from "./pii.ts";
import { evaluatePii, generatePiiSet, readLabelledPii } from "./pii_eval.ts";

Deno.test("isValidRrn() checks the birth date and gender digit, not the check digit", () => {
  // 900101-1234568: weights sum 2*9+3*0+4*0+5*1+6*0+7*1+8*1+9*2+2*3+3*4+4*5+5*6 = 124 → (11-3)%10 = 8
  assert.ok(isValidRrn("900101-1234568"));
  assert.ok(rrnCheckDigitOk("900101-1234568"));
  // issued since October 2020: no check digit
  assert.ok(!rrnCheckDigitOk("201231-3847261"));
  assert.ok(isValidRrn("201231-3847261"));
  assert.ok(isValidRrn("920315-5123456")); // a foreign resident born in 1992
  assert.ok(isValidRrn("000229-3123456")); // 2000 was a leap year
  assert.ok(!isValidRrn("010229-3123456"));
  assert.ok(!isValidRrn("900230-1234568"));
  assert.ok(!isValidRrn("901301-1234568"));
  assert.ok(!isValidRrn("900101-9234568")); // gender digit 9
  assert.ok(!isValidRrn("880123-4567893", new Date("2026-12-01"))); // born 2088: an EAN-13
});

Deno.test("isCardNumber() needs an issuer prefix and a valid Luhn digit", () => {
  assert.ok(isCardNumber("4111 1111 1111 1111"));
  assert.ok(!isCardNumber("4111 1111 1111 1112"));
  assert.ok(!isCardNumber("9788954601234")); // an ISBN-13 is not a card
});

Deno.test("isIpv6() accepts full and compressed forms, refuses times", () => {
  assert.ok(isIpv6("2001:db8::1"));
  assert.ok(isIpv6("fe80::1ff:fe23:4567:890a"));
  assert.ok(isIpv6("2001:0db8:0000:0000:0000:ff00:0042:8329"));
  assert.ok(isIpv6("::ffff:192.168.0.1"));
  assert.ok(!isIpv6("12:30:45"));
  assert.ok(!isIpv6("1:2:3"));
});

Deno.test("scrubPii() replaces each type by its placeholder and counts", () => {
  const { text, counts } = scrubPii(
    "메일 kim@naver.com, 전화 010-1234-5678, 주민번호 900101-1234568, 카드 4111-1111-1111-1111, " +
      "입금 계좌 110-123-456789, 서버 192.168.0.1 와 2001:db8::1, 버전 7.3.4.2, 가격 1,234,000원, " +
      "날짜 2024-05-17.",
  );
  assert.equal(
    text,
    "메일 [EMAIL], 전화 [PHONE], 주민번호 [RRN], 카드 [CARD], 입금 계좌 [ACCOUNT], " +
      "서버 [IP] 와 [IP], 버전 7.3.4.2, 가격 1,234,000원, 날짜 2024-05-17.",
  );
  assert.deepEqual(counts, { email: 1, phone: 1, rrn: 1, card: 1, account: 1, ip: 2 });
});

Deno.test("findPii() leaves account-shaped numbers without account context", () => {
  assert.deepEqual(findPii("주문번호 110-123-456789 확인"), []);
  assert.equal(findPii("110-123-456789 (국민은행) 예금주 김철수")[0]?.type, "account");
});

Deno.test("findPii() passes near-misses seen in the LibreOffice help text", () => {
  // product versions, C++ scope operators in Korean text, reserved example domains
  assert.deepEqual(findPii("Example: 'LibreOffice 7.4.1.2 (The Document Foundation)'"), []);
  assert.deepEqual(findPii("X청취자::메소드로서 등록된 이벤트"), []);
  assert.deepEqual(findPii('SendMail("someone@example.com", cc="a@mail.example.org")'), []);
  // but addresses after network words stay PII
  assert.equal(findPii("Server 10.0.0.1 응답")[0]?.type, "ip");
  assert.equal(findPii("IP 192.168.1.1 의")[0]?.type, "ip");
  assert.equal(findPii("::ffff:10.1.2.3")[0]?.type, "ip");
});

Deno.test("findPii() passes section numbers, pre-release versions and ZIP+4 codes of documentation pages", () => {
  const page = "1.2.2.1. 설치 전 확인 사항\n  1.2.2.2. 패키지 내려받기\n4.2.1.5 고급 설정\n" +
    "자세한 내용은 3.4.1.2절 또는 절 3.4.1.3 을, see section 2.10.3.1.\n" +
    "빌드 24.2.0.3-rc2, Version: 1.0.3.12+20240517\nCambridge, MA 02139-4307, USA";
  assert.deepEqual(findPii(page), []);
  // an address keeps its network word, even before a period
  const net = "서버 주소는 192.168.0.1. 다음으로\n게이트웨이 10.0.0.1 설정";
  assert.deepEqual(findPii(net).map((s) => net.slice(s.start, s.end)), ["192.168.0.1", "10.0.0.1"]);
});

Deno.test("evaluatePii() scores ≥ 0.95 precision and recall on the hand-labelled page lines", async () => {
  const set = await readLabelledPii();
  assert.ok(set.length >= 40 && set.filter((e) => e.spans.length === 0).length >= 25);
  const { scores, falsePositives } = evaluatePii(set);
  assert.ok(scores.all.precision >= 0.95, JSON.stringify(falsePositives));
  assert.ok(scores.all.recall >= 0.95, JSON.stringify(scores));
});

Deno.test("PiiScrub counts replacements as counters", () => {
  const step = new PiiScrub();
  const out = step.transform({ id: "1", text: "연락: +82-10-1234-5678", meta: {} });
  assert.equal(out.text, "연락: [PHONE]");
  assert.equal(step.stats.counters.pii_phone, 1);
});

Deno.test("evaluatePii() reaches precision and recall ≥ 0.95 per type on the generated set", () => {
  const { scores, falsePositives } = evaluatePii(generatePiiSet(7, 60));
  const lines = Object.entries(scores).map(([t, s]) =>
    `${t}: P=${s.precision.toFixed(3)} R=${s.recall.toFixed(3)} (tp ${s.tp} fp ${s.fp} fn ${s.fn})`
  );
  console.log(lines.join("\n"), "\nfalse positives by kind:", falsePositives);
  for (const [t, s] of Object.entries(scores)) {
    assert.ok(s.precision >= 0.95, `${t} precision ${s.precision}`);
    assert.ok(s.recall >= 0.95, `${t} recall ${s.recall}`);
  }
  assert.ok(scores.all.tp >= 6 * 60 * 0.95);
});
