import assert from "node:assert/strict";
import {
  type BadLine,
  DEFAULT_LINE_LIMITS,
  type Doc,
  JsonlWriter,
  listDocFiles,
  readDocs,
  readLines,
  setLineLimits,
  ShardedDocWriter,
  writeDocs,
} from "./jsonl.ts";
import { UserError } from "./errors.ts";

const DOCS: Doc[] = [
  { id: "a", text: "안녕하세요. 반갑습니다!", meta: { lang: "ko" } },
  { id: "b", text: "line one\nline two", meta: {} },
  { id: "c", text: "emoji 🙂 and \u0000 nul", meta: { score: 0.5, tags: ["x"] } },
];

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const ext of [".jsonl", ".jsonl.gz"]) {
  Deno.test(`writeDocs() then readDocs() round-trips documents (${ext})`, async () => {
    const path = `${await Deno.makeTempDir()}/docs${ext}`;
    assert.equal(await writeDocs(path, DOCS), 3);
    assert.deepEqual(await collect(readDocs(path)), DOCS);
    const head = (await Deno.readFile(path)).subarray(0, 2);
    assert.equal(head[0] === 0x1f && head[1] === 0x8b, ext.endsWith(".gz"));
  });
}

Deno.test("readDocs() fills a missing meta and stringifies numeric ids", async () => {
  const path = `${await Deno.makeTempDir()}/d.jsonl`;
  await Deno.writeTextFile(path, '{"id": 7, "text": "x"}\r\n\n{"id":"8","text":"y","meta":{}}');
  assert.deepEqual(await collect(readDocs(path)), [
    { id: "7", text: "x", meta: {} },
    { id: "8", text: "y", meta: {} },
  ]);
});

Deno.test("readDocs() names file:line of a malformed line", async () => {
  const path = `${await Deno.makeTempDir()}/bad.jsonl`;
  await Deno.writeTextFile(path, '{"id":"1","text":"ok"}\n{"id":"2","text":\n');
  await assert.rejects(collect(readDocs(path)), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /bad\.jsonl:2: invalid JSON/);
    return true;
  });
});

Deno.test("readDocs() reports wrong field types and passes bad lines to onBadLine", async () => {
  const path = `${await Deno.makeTempDir()}/mixed.jsonl`;
  await Deno.writeTextFile(
    path,
    [
      '{"id":"1","text":"ok"}',
      '{"id":"2","text":5}',
      "[1,2]",
      '{"id":"3","text":"t","meta":[]}',
      '{"id":"4","text":"ok"}',
    ]
      .join("\n"),
  );
  const bad: BadLine[] = [];
  const docs = await collect(readDocs(path, { onBadLine: (b) => void bad.push(b) }));
  assert.deepEqual(docs.map((d) => d.id), ["1", "4"]);
  assert.deepEqual(bad.map((b) => [b.line, b.reason.split(":")[0]]), [
    [2, 'field "text"'],
    [3, "expected a JSON object"],
    [4, 'field "meta"'],
  ]);
});

Deno.test("readLines() refuses truncated gzip with a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  await writeDocs(
    `${dir}/ok.jsonl.gz`,
    Array.from(
      { length: 200 },
      (_, i) => ({ id: `${i}`, text: `문서 ${i} `.repeat(50), meta: {} }),
    ),
  );
  const bytes = await Deno.readFile(`${dir}/ok.jsonl.gz`);
  await Deno.writeFile(`${dir}/cut.jsonl.gz`, bytes.subarray(0, bytes.length >> 1));
  await assert.rejects(
    collect(readLines(`${dir}/cut.jsonl.gz`)),
    /cut\.jsonl\.gz: corrupt or truncated gzip/,
  );
});

Deno.test("JsonlWriter.abort() leaves nothing at the target", async () => {
  const dir = await Deno.makeTempDir();
  const w = await JsonlWriter.open(`${dir}/x.jsonl.gz`);
  await w.write({ id: "1", text: "t", meta: {} });
  await w.abort();
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("ShardedDocWriter splits into numbered shards that listDocFiles() finds in order", async () => {
  const dir = await Deno.makeTempDir();
  const w = new ShardedDocWriter(dir, { docsPerShard: 2, prefix: "kept" });
  for (let i = 0; i < 5; i++) await w.write({ id: `${i}`, text: `t${i}`, meta: {} });
  const shards = await w.close();
  assert.deepEqual(shards.map((s) => s.slice(dir.length + 1)), [
    "kept-00000.jsonl.gz",
    "kept-00001.jsonl.gz",
    "kept-00002.jsonl.gz",
  ]);
  assert.deepEqual(await listDocFiles(dir), shards);
  const ids: string[] = [];
  for (const s of shards) for await (const d of readDocs(s)) ids.push(d.id);
  assert.deepEqual(ids, ["0", "1", "2", "3", "4"]);
  await assert.rejects(listDocFiles(`${dir}/missing`), /no such file or folder/);
});

async function gz(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("readDocs() reads every member of a multi-member gzip file (cat a.gz b.gz)", async () => {
  const path = `${await Deno.makeTempDir()}/ab.jsonl.gz`;
  const a = await gz('{"id":"1","text":"가","meta":{}}\n');
  const b = await gz('{"id":"2","text":"나","meta":{}}\n');
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  await Deno.writeFile(path, both);
  const ids: string[] = [];
  for await (const d of readDocs(path)) ids.push(d.id);
  assert.deepEqual(ids, ["1", "2"]);
});

Deno.test("readDocs() sends a line over the byte limit to onBadLine with its size, undecoded", async () => {
  const path = `${await Deno.makeTempDir()}/big.jsonl`;
  const big = JSON.stringify({ id: "big", text: "가".repeat(2000), meta: {} });
  await Deno.writeTextFile(
    path,
    `{"id":"1","text":"a","meta":{}}\n${big}\n{"id":"3","text":"c"}\n`,
  );
  setLineLimits({ maxLineBytes: 1000 });
  try {
    const bad: BadLine[] = [];
    const ids: string[] = [];
    for await (const d of readDocs(path, { onBadLine: (b) => void bad.push(b) })) ids.push(d.id);
    assert.deepEqual(ids, ["1", "3"]);
    assert.equal(bad.length, 1);
    assert.equal(bad[0].line, 2);
    assert.match(bad[0].reason, /a line of 6\d{3} bytes, over the limit of 1000/);
  } finally {
    setLineLimits(DEFAULT_LINE_LIMITS);
  }
});

Deno.test("readDocs() counts invalid UTF-8 (replace) or rejects the line (reject)", async () => {
  const path = `${await Deno.makeTempDir()}/bad.jsonl`;
  const enc = new TextEncoder();
  const bytes = [
    ...enc.encode('{"id":"1","text":"a'),
    0xff,
    0xfe,
    ...enc.encode('","meta":{}}\n{"id":"2","text":"b","meta":{}}\n'),
  ];
  await Deno.writeFile(path, new Uint8Array(bytes));
  const ids: string[] = [];
  for await (const d of readDocs(path)) ids.push(d.id + d.text);
  assert.deepEqual(ids, ["1a\ufffd\ufffd", "2b"]);
  setLineLimits({ encodingErrors: "reject" });
  try {
    const bad: BadLine[] = [];
    const kept: string[] = [];
    for await (const d of readDocs(path, { onBadLine: (b) => void bad.push(b) })) kept.push(d.id);
    assert.deepEqual(kept, ["2"]);
    assert.match(bad[0].reason, /not valid UTF-8/);
  } finally {
    setLineLimits(DEFAULT_LINE_LIMITS);
  }
});
