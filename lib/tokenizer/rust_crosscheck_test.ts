import assert from "node:assert/strict";
import { ByteLevelBpe } from "./bpe.ts";
import { ENGLISH_LINES, koreanCorpus, mergedLlama } from "./testing.ts";

const SCRIPT = new URL("./rust_crosscheck.py", import.meta.url).pathname;

/** Whether Python's `tokenizers` (Rust) can be imported; it is optional, CI included. */
async function hasRustTokenizers(): Promise<boolean> {
  try {
    const r = await new Deno.Command("python3", {
      args: ["-c", "import tokenizers"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (r.success) return true;
  } catch { /* no python3 */ }
  console.warn("SKIPPED: Python's tokenizers is not installed (pip install tokenizers); optional");
  return false;
}

async function crosscheck(json: Record<string, unknown>, lines: string[], dir: string) {
  const enc = ByteLevelBpe.fromJson(json);
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  await Deno.writeTextFile(
    `${dir}/cases.jsonl`,
    lines.map((text) => JSON.stringify({ text, ids: enc.encode(text) })).join("\n") + "\n",
  );
  const r = await new Deno.Command("python3", {
    args: [SCRIPT, `${dir}/tokenizer.json`, `${dir}/cases.jsonl`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.ok(r.code === 0 || r.code === 1, err);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

Deno.test("the merged tokenizer.json gives Rust tokenizers' ids on thousands of lines (where installed)", async () => {
  if (!(await hasRustTokenizers())) return;
  const dir = await Deno.makeTempDir();
  try {
    const bpe = mergedLlama();
    const specials = ["<|begin_of_text|>", "<|eot_id|>", "<|reserved_special_token_7|>"];
    const lines = [
      ...koreanCorpus(2000, 5).map((l, i) => i % 3 ? l : `${specials[i % 3]} ${l}${specials[1]}`),
      ...ENGLISH_LINES,
    ];
    const r = await crosscheck(bpe.toJson(), lines, dir);
    assert.deepEqual(
      [r.mismatched, r.added_tokens_moved, r.decoded_back],
      [0, 0, lines.length],
      JSON.stringify(r),
    );
    // The file as written before (specials only in added_tokens): Rust renumbers them.
    const json = bpe.toJson(), model = json.model as Record<string, unknown>;
    const vocab = Object.fromEntries(
      Object.entries(model.vocab as Record<string, number>).filter(([t]) => !t.startsWith("<|")),
    );
    const old = await crosscheck({ ...json, model: { ...model, vocab } }, lines.slice(0, 30), dir);
    assert.equal(old.added_tokens_moved, 256);
    assert.equal(old.first_moved[0].rust, bpe.size - 256);
    assert.ok(old.mismatched > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
