import assert from "node:assert/strict";
import type { FetchResult } from "./fetcher.ts";
import { WarcWriter } from "./warc.ts";

/** Parses uncompressed WARC data into records (headers, block). */
function parseWarc(data: Uint8Array): { headers: Map<string, string>; block: Uint8Array }[] {
  const records = [];
  const dec = new TextDecoder("latin1");
  let off = 0;
  while (off < data.length) {
    let end = off;
    while (
      !(data[end] === 13 && data[end + 1] === 10 && data[end + 2] === 13 && data[end + 3] === 10)
    ) end++;
    const lines = dec.decode(data.subarray(off, end)).split("\r\n");
    assert.equal(lines[0], "WARC/1.1");
    const headers = new Map(
      lines.slice(1).map((l) => {
        const i = l.indexOf(":");
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
      }),
    );
    const len = Number(headers.get("content-length"));
    const block = data.subarray(end + 4, end + 4 + len);
    assert.equal(dec.decode(data.subarray(end + 4 + len, end + 8 + len)), "\r\n\r\n");
    records.push({ headers, block });
    off = end + 8 + len;
  }
  return records;
}

function base32(bytes: Uint8Array): string {
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const b of bytes) bits += b.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i < bits.length; i += 5) {
    out += a[parseInt(bits.slice(i, i + 5).padEnd(5, "0"), 2)];
  }
  return out;
}

Deno.test("WarcWriter writes gzip-per-record WARC/1.1 that gzip and a parser read back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await WarcWriter.open(dir);
    const body = new TextEncoder().encode("<p>안녕하세요</p>");
    const res: FetchResult = {
      url: "http://h/a",
      finalUrl: "http://h/b",
      status: 200,
      statusText: "OK",
      outcome: "ok",
      contentType: "text/html",
      headers: new Headers({ "content-type": "text/html", "content-encoding": "gzip" }),
      body,
      bytes: body.length,
      redirects: ["http://h/b"],
      requests: 2,
    };
    await w.write(res, "2025-11-23T00:00:00.123Z");
    await w.close();
    // the real gzip tool reads the concatenated members
    const out = await new Deno.Command("gzip", { args: ["-dc", w.path], stdout: "piped" }).output();
    assert.ok(out.success);
    const records = parseWarc(out.stdout);
    assert.deepEqual(records.map((r) => r.headers.get("warc-type")), ["warcinfo", "response"]);
    const resp = records[1];
    assert.equal(resp.headers.get("warc-target-uri"), "http://h/b");
    assert.equal(resp.headers.get("warc-date"), "2025-11-23T00:00:00Z");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", resp.block.slice()));
    assert.equal(resp.headers.get("warc-block-digest"), `sha1:${base32(digest)}`);
    const http = new TextDecoder().decode(resp.block);
    assert.ok(http.startsWith("HTTP/1.1 200 OK\r\n"));
    assert.ok(!/content-encoding/i.test(http), "the stored body is decoded");
    assert.ok(http.includes(`content-length: ${body.length}\r\n`));
    assert.ok(http.endsWith("\r\n\r\n<p>안녕하세요</p>"));
    // one gzip member per record: the file holds two gzip headers
    const raw = await Deno.readFile(w.path);
    let members = 0;
    for (let i = 0; i + 2 < raw.length; i++) {
      if (raw[i] === 0x1f && raw[i + 1] === 0x8b && raw[i + 2] === 8) members++;
    }
    assert.ok(members >= 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
