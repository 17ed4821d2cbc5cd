import assert from "node:assert/strict";
import {
  AtomicFile,
  removeStaleTemps,
  targetOfTemp,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic.ts";

Deno.test("writeFileAtomic() replaces the file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.txt`;
  await writeFileAtomic(path, "old");
  await writeFileAtomic(path, "new");
  assert.equal(await Deno.readTextFile(path), "new");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
});

Deno.test("writeJsonAtomic() writes pretty JSON with a newline", async () => {
  const path = `${await Deno.makeTempDir()}/a.json`;
  await writeJsonAtomic(path, { a: 1 });
  assert.equal(await Deno.readTextFile(path), '{\n  "a": 1\n}\n');
});

Deno.test("AtomicFile shows nothing at the target until commit(), and abort() leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/out.bin`;
  const f = await AtomicFile.open(path);
  await f.write(new Uint8Array([1, 2, 3]));
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  await f.commit();
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  const g = await AtomicFile.open(`${dir}/other.bin`);
  await g.write(new Uint8Array([9]));
  await g.abort();
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.bin"]);
});

Deno.test("writeFileAtomic() killed mid-write leaves the old file intact", async () => {
  // A child process writes a large file atomically and is killed with SIGKILL mid-way.
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.txt`;
  await writeFileAtomic(path, "old contents\n");
  const code = `
    import { AtomicFile } from ${JSON.stringify(new URL("./atomic.ts", import.meta.url).href)};
    const f = await AtomicFile.open(${JSON.stringify(path)});
    const chunk = new Uint8Array(1 << 20).fill(120);
    console.log("writing");
    for (let i = 0; ; i++) await f.write(chunk);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // "writing"
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  assert.equal(await Deno.readTextFile(path), "old contents\n");
});

Deno.test("removeStaleTemps() deletes temporary files a killed run left, not open ones", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/kept`);
  const stale = `${dir}/kept/.part-00000.jsonl.gz.12345.abc.tmp`;
  await Deno.writeTextFile(stale, "half");
  await Deno.writeTextFile(`${dir}/kept/part-00001.jsonl.gz`, "done");
  const open = await AtomicFile.open(`${dir}/kept/part-00002.jsonl.gz`);
  assert.equal(await removeStaleTemps(dir), 1);
  await assert.rejects(() => Deno.stat(stale), Deno.errors.NotFound);
  await Deno.stat(open.tempPath);
  await open.abort();
  assert.equal(targetOfTemp(stale), `${dir}/kept/part-00000.jsonl.gz`);
});
