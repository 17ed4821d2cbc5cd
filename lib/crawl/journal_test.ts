import assert from "node:assert/strict";
import { JournalWriter, type PageEvent, readJournal } from "./journal.ts";
import { UserError } from "../io/errors.ts";

Deno.test("readJournal() drops a torn last line and cuts the file back", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/journal.jsonl`;
  try {
    const w = await JournalWriter.open(path);
    w.append({ k: "add", urls: [["http://h/", 0]] });
    w.append({ k: "shard", index: 0, docs: 3 });
    w.close();
    await Deno.writeTextFile(path, '{"k":"page","url":"http://h/x"', { append: true });
    const events = await readJournal(path);
    assert.equal(events.length, 2);
    assert.equal(events[1].k, "shard");
    const w2 = await JournalWriter.open(path);
    w2.append({ k: "shard", index: 1, docs: 5 });
    w2.close();
    assert.equal((await readJournal(path)).length, 3);
    assert.deepEqual(await readJournal(`${dir}/missing.jsonl`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JournalWriter.compact() drops the text of documents already in shards", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/journal.jsonl`;
  const page = (i: number, doc: boolean): PageEvent => ({
    k: "page",
    url: `http://h/${i}`,
    host: "h",
    result: doc ? "doc" : "skipped",
    status: 200,
    bytes: 10,
    requests: 1,
    fetched_at: "2025-11-23T00:00:00Z",
    ...(doc ? { doc: { id: String(i), text: "본문 ".repeat(50), meta: {} } } : {}),
  });
  try {
    const w = await JournalWriter.open(path);
    w.append({ k: "add", urls: [["http://h/0", 0]] });
    for (let i = 0; i < 5; i++) w.append(page(i, i !== 1));
    const before = (await Deno.stat(path)).size;
    w.compact(2); // pages 0 and 2 are in a shard
    w.append(page(5, true));
    let events = (await readJournal(path)).filter((e): e is PageEvent => e.k === "page");
    assert.deepEqual(events.map((e) => e.doc !== undefined), [
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
    assert.ok((await Deno.stat(path)).size < before);
    w.compact(4);
    w.compact(4); // nothing left to do
    events = (await readJournal(path)).filter((e): e is PageEvent => e.k === "page");
    assert.deepEqual(events.map((e) => e.doc !== undefined), [
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    assert.deepEqual(events.map((e) => e.result), ["doc", "skipped", "doc", "doc", "doc", "doc"]);
    w.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readJournal() refuses a corrupt line in one line naming file:line", async () => {
  const path = `${await Deno.makeTempDir()}/journal.jsonl`;
  for (
    const bad of ['{"k":"page","url":1}', "not json", '{"k":"add","urls":[["x",-1]]}', "[1]"]
  ) {
    await Deno.writeTextFile(path, `{"k":"add","urls":[["http://a/",0]]}\n${bad}\n`);
    await assert.rejects(() => readJournal(path), (err: Error) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, /journal\.jsonl:2: unreadable journal line \(.+\); /);
      assert.equal(err.message.split("\n").length, 1);
      return true;
    });
  }
});
