import assert from "node:assert/strict";
import { readArpa, writeArpa } from "./arpa.ts";
import { arpaKey, decodeArpaCache, encodeArpaCache, loadArpa } from "./arpa_cache.ts";
import type { NgramModel } from "./model.ts";
import { trainNgram } from "./train.ts";
import { KENLM_FALLBACK } from "./estimate.ts";
import { whitespaceTokenizer } from "./vocab.ts";
import { koreanCorpus } from "../../tokenizer/testing.ts";

const TINY = new URL("./testdata/tiny.lmplz.arpa", import.meta.url).pathname;

/** log10 p of every line (empty lines too: `<s> </s>`, as KenLM's query scores them). */
function lineScores(model: NgramModel, lines: string[]): number[] {
  return lines.map((l) => model.scoreSentence(whitespaceTokenizer(l)).logprob);
}

async function withModel(fn: (dir: string, arpa: string, lines: string[]) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const lines = koreanCorpus(400, 3);
    const { model } = await trainNgram(lines, { order: 4, discountFallback: KENLM_FALLBACK });
    await writeArpa(model, `${dir}/ko.arpa`);
    await fn(dir, `${dir}/ko.arpa`, lines);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadArpa() writes the binary cache beside the ARPA and scores exactly as readArpa()", async () => {
  await withModel(async (_dir, arpa, lines) => {
    const text = [...koreanCorpus(100, 9), "", "없는 낱말 하나"];
    const parsed = await readArpa(arpa);
    const logs: string[] = [];
    const first = await loadArpa(arpa, { log: (m) => logs.push(m) });
    assert.ok(logs.some((m) => m.includes("binary cache written")), logs.join("\n"));
    const bytes = await Deno.readFile(`${arpa}.jklm`);
    const cached = decodeArpaCache(bytes, await arpaKey(arpa));
    assert.ok(cached, "the cache decodes for its ARPA");
    const second = await loadArpa(arpa, { log: (m) => logs.push(m) });
    assert.equal(logs.length, 1, "the second load reads the cache");
    assert.deepEqual(second.counts(), parsed.counts());
    assert.deepEqual(second.vocab.words, parsed.vocab.words);
    for (let k = 0; k < parsed.order; k++) {
      assert.deepEqual(second.prob[k], parsed.prob[k]);
      assert.deepEqual(second.backoff[k], parsed.backoff[k]);
    }
    const want = lineScores(parsed, [...text, ...lines.slice(0, 50)]);
    assert.deepEqual(lineScores(first, [...text, ...lines.slice(0, 50)]), want);
    assert.deepEqual(lineScores(second, [...text, ...lines.slice(0, 50)]), want);
    assert.deepEqual(lineScores(cached, [...text, ...lines.slice(0, 50)]), want);
  });
});

Deno.test("loadArpa() never reads a stale cache: same size and mtime, other content", async () => {
  await withModel(async (_dir, arpa) => {
    const before = await loadArpa(arpa);
    const info = await Deno.stat(arpa);
    // Change one probability's digit, keeping the size, then put the mtime back.
    const text = await Deno.readTextFile(arpa);
    const at = text.indexOf("\n-", text.indexOf("\\2-grams:")) + 2;
    const digit = text[at] === "1" ? "2" : "1";
    await Deno.writeTextFile(arpa, text.slice(0, at) + digit + text.slice(at + 1));
    await Deno.utime(arpa, info.atime!, info.mtime!);
    assert.equal((await Deno.stat(arpa)).size, info.size);
    assert.equal((await Deno.stat(arpa)).mtime?.getTime(), info.mtime?.getTime());
    const after = await loadArpa(arpa);
    const parsed = await readArpa(arpa);
    assert.notDeepEqual(after.prob[1], before.prob[1]);
    assert.deepEqual(after.prob[1], parsed.prob[1]);
    // The rewritten cache now serves the new content.
    assert.deepEqual((await loadArpa(arpa)).prob[1], parsed.prob[1]);
  });
});

Deno.test("decodeArpaCache() refuses truncated, corrupt and foreign bytes", async () => {
  const model = await readArpa(TINY);
  const key = await arpaKey(TINY);
  const bytes = encodeArpaCache(model, key);
  assert.ok(decodeArpaCache(bytes, key));
  assert.equal(decodeArpaCache(bytes.slice(0, bytes.length - 8), key), undefined);
  assert.equal(decodeArpaCache(new Uint8Array([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]), key), undefined);
  const bad = bytes.slice();
  bad[0] ^= 1;
  assert.equal(decodeArpaCache(bad, key), undefined);
  const other = { ...key, sha1: key.sha1.map((x) => x ^ 0xff) };
  assert.equal(decodeArpaCache(bytes, other), undefined);
  assert.equal(decodeArpaCache(bytes, { ...key, mtimeMs: key.mtimeMs + 1 }), undefined);
});

Deno.test("loadArpa() scores as KenLM's query on an lmplz model (skips without query)", async () => {
  const has = async (cmd: string) => {
    try {
      await new Deno.Command(cmd, { args: ["--help"], stdout: "null", stderr: "null" }).output();
      return true;
    } catch {
      return false;
    }
  };
  if (!(await has("query"))) {
    console.warn("SKIPPED: KenLM's query is not on PATH (build kenlm and put its bin/ on PATH)");
    return;
  }
  const dir = await Deno.makeTempDir();
  try {
    const lines = [...koreanCorpus(300, 5), "", "a b", "낯선 말 하나 둘"];
    const cases: [string, string][] = [];
    await Deno.copyFile(TINY, `${dir}/tiny.arpa`);
    cases.push([`${dir}/tiny.arpa`, "a b\nd a c\n\nx a\nc c c d\n"]);
    if (await has("lmplz")) {
      await Deno.writeTextFile(`${dir}/train.txt`, koreanCorpus(2000, 1).join("\n") + "\n");
      const child = new Deno.Command("lmplz", {
        args: [
          "-o",
          "4",
          "-S",
          "100M",
          "-T",
          dir,
          "--discount_fallback",
          "--arpa",
          `${dir}/ko.arpa`,
        ],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await (await Deno.open(`${dir}/train.txt`)).readable.pipeTo(child.stdin);
      assert.ok((await child.status).success, "lmplz failed");
      cases.push([`${dir}/ko.arpa`, lines.join("\n") + "\n"]);
    } else console.warn("lmplz is not on PATH: only the small lmplz model is compared");
    for (const [arpa, text] of cases) {
      await loadArpa(arpa); // writes the cache
      const model = await loadArpa(arpa); // reads it
      const child = new Deno.Command("query", {
        args: ["-v", "sentence", arpa],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
      const out = new TextDecoder().decode((await child.output()).stdout);
      const theirs = [...out.matchAll(/Total: (\S+) OOV: (\d+)/g)].map((m) => Number(m[1]));
      const ours = lineScores(model, text.split("\n").slice(0, -1));
      assert.equal(theirs.length, ours.length, arpa);
      for (let i = 0; i < ours.length; i++) {
        assert.ok(
          Math.abs(ours[i] - theirs[i]) < 1e-4,
          `${arpa} line ${i + 1}: ${ours[i]} vs ${theirs[i]}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
