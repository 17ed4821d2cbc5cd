import assert from "node:assert/strict";
import { charsetOfContentType, charsetOfMeta, decodeBody, encodingFor } from "./charset.ts";

/** "한국어 웹 페이지입니다. 똠방각하" in CP949, made with `iconv -f utf-8 -t cp949`; 똠 (0x8C 0x63)
 * lies outside KS X 1001 and only decodes with the CP949/UHC extension. */
export const CP949_SAMPLE = new Uint8Array([
  199,
  209,
  177,
  185,
  190,
  238,
  32,
  192,
  165,
  32,
  198,
  228,
  192,
  204,
  193,
  246,
  192,
  212,
  180,
  207,
  180,
  217,
  46,
  32,
  140,
  99,
  185,
  230,
  176,
  162,
  199,
  207,
]);
const SAMPLE_TEXT = "한국어 웹 페이지입니다. 똠방각하";

Deno.test("decodeBody() decodes EUC-KR/CP949 named by the header", () => {
  for (const label of ["euc-kr", "EUC-KR", "ks_c_5601-1987", "cp949", "MS949", "x-windows-949"]) {
    const r = decodeBody(CP949_SAMPLE, `text/html; charset="${label}"`);
    assert.equal(r.text, SAMPLE_TEXT, label);
    assert.equal(r.encoding, "euc-kr");
    assert.equal(r.source, "header");
  }
});

Deno.test("decodeBody() falls back to <meta> then UTF-8, and a BOM wins", () => {
  const head = new TextEncoder().encode('<html><head><meta charset="euc-kr"></head><body>');
  const page = new Uint8Array([...head, ...CP949_SAMPLE]);
  const r = decodeBody(page, "text/html");
  assert.ok(r.text.endsWith(SAMPLE_TEXT));
  assert.equal(r.source, "meta");
  const equiv = new TextEncoder().encode(
    '<meta http-equiv="Content-Type" content="text/html; charset=ks_c_5601-1987">',
  );
  assert.ok(decodeBody(new Uint8Array([...equiv, ...CP949_SAMPLE])).text.endsWith(SAMPLE_TEXT));
  const utf8 = new TextEncoder().encode("가나다");
  assert.equal(decodeBody(utf8).text, "가나다");
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8]);
  const withBom = decodeBody(bom, "text/html; charset=euc-kr");
  assert.equal(withBom.text, "가나다");
  assert.equal(withBom.source, "bom");
});

Deno.test("encodingFor() maps labels and refuses unknown ones", () => {
  assert.equal(encodingFor("UHC"), "euc-kr");
  assert.equal(encodingFor("utf8"), "utf-8");
  assert.equal(encodingFor("no-such-charset"), undefined);
  assert.equal(charsetOfContentType("text/html;charset=UTF-8"), "UTF-8");
  assert.equal(charsetOfContentType("text/html"), undefined);
  assert.equal(charsetOfMeta(new TextEncoder().encode("<meta charset=utf-8>")), "utf-8");
});
