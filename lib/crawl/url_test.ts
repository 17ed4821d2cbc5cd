import assert from "node:assert/strict";
import { normalizeUrl, outOfScope } from "./url.ts";

Deno.test("normalizeUrl() drops fragments, default ports, tracking parameters", () => {
  assert.equal(
    normalizeUrl("HTTP://Example.COM:80/a?b=2&utm_source=x&a=1&fbclid=z#top"),
    "http://example.com/a?a=1&b=2",
  );
  assert.equal(normalizeUrl("https://example.com:443"), "https://example.com/");
  assert.equal(normalizeUrl("https://example.com:8443/x"), "https://example.com:8443/x");
  assert.equal(normalizeUrl("../b?utm_medium=m", "http://h/a/c/d"), "http://h/a/b");
  assert.equal(normalizeUrl("mailto:a@b.c"), null);
  assert.equal(normalizeUrl("javascript:void(0)"), null);
  assert.equal(normalizeUrl("http://[bad"), null);
  assert.equal(normalizeUrl("http://h/한글?q=가"), "http://h/%ED%95%9C%EA%B8%80?q=%EA%B0%80");
});

Deno.test("outOfScope() applies host lists and patterns", () => {
  const scope = {
    allowHosts: ["example.com"],
    denyHosts: ["bad.example.com"],
    include: [],
    exclude: [/\/login/],
  };
  assert.equal(outOfScope("http://www.example.com/a", scope), undefined);
  assert.equal(outOfScope("http://bad.example.com/a", scope), "host_denied");
  assert.equal(outOfScope("http://other.org/a", scope), "host_not_allowed");
  assert.equal(outOfScope("http://example.com/login?x", scope), "excluded");
  assert.equal(
    outOfScope("http://example.com/a", { ...scope, include: [/\/blog\//] }),
    "not_included",
  );
});
