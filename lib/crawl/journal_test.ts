import assert from "node:assert/strict";
import { JournalWriter, readJournal } from "./journal.ts";

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
