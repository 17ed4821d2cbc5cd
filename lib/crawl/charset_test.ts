import assert from "node:assert/strict";
import { charsetOfContentType, charsetOfMeta, decodeBody, encodingFor } from "./charset.ts";
import { CP949_BYTES, CP949_TEXT } from "./testing.ts";

// CP949 bytes made by `iconv -f utf-8 -t cp949`, with 똠 from outside EUC-KR proper
const CP949_SAMPLE = CP949_BYTES;
const SAMPLE_TEXT = CP949_TEXT;

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
