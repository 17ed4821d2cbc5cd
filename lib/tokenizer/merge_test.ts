import assert from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { ByteLevelBpe } from "./bpe.ts";
import { countKoreanPreTokens, isKoreanPiece } from "./corpus.ts";
import { addPieces } from "./merge.ts";
import { SPACE_MARK } from "./pretokens.ts";
import { ENGLISH_LINES, koreanCorpus, LLAMA_PATH, prng } from "./testing.ts";
import { PieceType } from "./unigram.ts";
import { trainUnigram } from "./unigram_trainer.ts";

const llamaJson = JSON.parse(await Deno.readTextFile(LLAMA_PATH));
const base = ByteLevelBpe.fromJson(llamaJson);

/** Llama 3.1 plus the pieces of a Unigram model trained on the synthetic Korean corpus. */
function mergedTokenizer(
  budget = 1000,
): { merged: ByteLevelBpe; stats: ReturnType<typeof addPieces> } {
  const counts = new Map<string, number>();
  for (const line of koreanCorpus(3000)) countKoreanPreTokens(counts, line);
  const unigram = trainUnigram(counts, { vocabSize: 400, isValidPiece: isKoreanPiece });
  const pieces = unigram.pieces.filter((p) => p.type === PieceType.NORMAL)
    .map((p) => ({ piece: p.piece.replace(SPACE_MARK, " "), score: p.score }));
  const merged = ByteLevelBpe.fromJson(llamaJson);
  return { merged, stats: addPieces(merged, pieces, budget) };
}

const { merged, stats } = mergedTokenizer();

/** Strings of every kind: English, Korean, code, emoji, mixed scripts, random code points. */
function strings(): string[] {
  const rand = prng(11);
  const out = [
    ...ENGLISH_LINES,
    ...koreanCorpus(50, 5),
    "🇰🇷🙂 한국어와 English가 섞인 문장입니다.",
    "<|begin_of_text|> 학교에서 공부합니다<|eot_id|><|reserved_special_token_3|>",
  ];
  for (let k = 0; k < 40; k++) {
    let s = "";
    for (let i = 0; i < 30; i++) {
      const r = rand();
      s += r < 0.5
        ? String.fromCharCode(0xac00 + Math.floor(rand() * 11172))
        : r < 0.7
        ? " "
        : String.fromCodePoint(Math.floor(rand() * 0x10ffff) & ~0x800);
    }
    out.push(s);
  }
  return out;
}

Deno.test("addPieces() keeps all 128,256 Llama ids and leaves English untouched", () => {
  assert.ok(stats.added > 100, JSON.stringify(stats));
  assert.equal(merged.size, base.size + stats.added + stats.intermediates);
  for (let id = 0; id < base.size; id++) assert.equal(merged.tokens[id], base.tokens[id]);
  assert.deepEqual(merged.merges.slice(0, base.merges.length), base.merges);
  for (const s of [...ENGLISH_LINES, "<|begin_of_text|>x", "const π = 3.14; // ok"]) {
    assert.deepEqual(merged.encode(s), base.encode(s), s);
  }
});

Deno.test("addPieces() makes Korean far shorter and stays within its budget", () => {
  let a = 0, b = 0;
  for (const line of koreanCorpus(300, 42)) {
    a += base.encode(line).length;
    b += merged.encode(line).length;
  }
  assert.ok(b < 0.6 * a, `Korean tokens ${a} → ${b}`);
  const small = mergedTokenizer(50);
  assert.equal(small.merged.size - base.size, 50);
  assert.ok(small.stats.skipped > 0);
});

Deno.test("the merged tokenizer decodes what it encodes, for every well-formed string", () => {
  for (const s of strings()) assert.equal(merged.decode(merged.encode(s)), s.toWellFormed());
  assert.equal(merged.decode(merged.encode("한\ud800글")), "한\ufffd글");
});

Deno.test("the merged tokenizer.json encodes identically in @huggingface/tokenizers", () => {
  const json = JSON.parse(JSON.stringify(merged.toJson()));
  const hf = new Tokenizer(json, {});
  const reread = ByteLevelBpe.fromJson(json);
  for (const s of strings()) {
    const ids = merged.encode(s);
    assert.deepEqual(hf.encode(s, { add_special_tokens: false }).ids, ids, s);
    assert.deepEqual(reread.encode(s), ids);
    assert.equal(hf.decode(ids, { skip_special_tokens: false }), s.toWellFormed());
  }
});

Deno.test("the merged tokenizer.json encodes identically in transformers.js", async () => {
  const dir = await Deno.makeTempDir();
  const texts = strings();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(merged.toJson()));
  await Deno.writeTextFile(`${dir}/texts.json`, JSON.stringify(texts));
  const script = new URL("./transformers_js_encode.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      script,
      `${dir}/tokenizer.json`,
      `${dir}/texts.json`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const ids: number[][] = JSON.parse(new TextDecoder().decode(out.stdout));
  texts.forEach((t, i) => assert.deepEqual(ids[i], merged.encode(t), t));
});
