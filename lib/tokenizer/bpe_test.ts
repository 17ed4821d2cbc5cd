import assert from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { ByteLevelBpe } from "./bpe.ts";
import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from "./byte_level.ts";
import { UserError } from "../io/errors.ts";
import { ENGLISH_LINES, koreanCorpus, LLAMA_PATH, prng } from "./testing.ts";

const llamaJson = JSON.parse(await Deno.readTextFile(LLAMA_PATH));
const ours = ByteLevelBpe.fromJson(llamaJson);
const theirs = new Tokenizer(llamaJson, {});

/** Strings that exercise every branch of the pre-tokenizer and the byte alphabet. */
function hardStrings(): string[] {
  const rand = prng(3);
  const random: string[] = [];
  for (let k = 0; k < 30; k++) {
    let s = "";
    for (let i = 0; i < 40; i++) {
      const r = rand();
      s += r < 0.3
        ? String.fromCharCode(0x20 + Math.floor(rand() * 95))
        : r < 0.6
        ? String.fromCharCode(0xac00 + Math.floor(rand() * 11172))
        : r < 0.8
        ? String.fromCodePoint(0x1f300 + Math.floor(rand() * 500))
        : String.fromCharCode(Math.floor(rand() * 0x3000));
    }
    random.push(s);
  }
  const bytes = new Uint8Array(200).map(() => Math.floor(rand() * 256));
  return [
    ...ENGLISH_LINES,
    ...koreanCorpus(20),
    "안녕하세요, 세계! 🇰🇷 👩‍👩‍👧 Ünïcödé façade — “quotes” 日本語テキスト",
    "<|begin_of_text|>Hello<|eot_id|> <|reserved_special_token_5|>x",
    "I'M HERE, you're THERE, it'S fine; we'LL see",
    "12345678901234 3.14159 ١٢٣ ½",
    "\n\n\n   \t \u00a0 \u3000 end  ",
    "",
    new TextDecoder().decode(bytes),
    ...random,
  ];
}

Deno.test("ByteLevelBpe.encode() gives @huggingface/tokenizers' ids for Llama 3.1", () => {
  for (const s of hardStrings()) {
    assert.deepEqual(
      ours.encode(s),
      theirs.encode(s, { add_special_tokens: false }).ids,
      JSON.stringify(s),
    );
  }
});

Deno.test("ByteLevelBpe.decode() inverts encode(); lone surrogates come back as U+FFFD", () => {
  assert.deepEqual(ours.encodeWord(""), []);
  for (const s of hardStrings()) assert.equal(ours.decode(ours.encode(s)), s);
  const lone = "a\ud800b\udc00c";
  assert.equal(ours.decode(ours.encode(lone)), lone.toWellFormed());
  assert.equal(
    ours.decode(ours.encode(lone)),
    theirs.decode(theirs.encode(lone, { add_special_tokens: false }).ids),
  );
  assert.equal(ours.decode(ours.encode("<|eot_id|>x"), true), "x");
});

Deno.test("toByteLevel() and fromByteLevel() map all 256 bytes both ways", () => {
  const chars = new Set(BYTE_TO_CHAR);
  assert.equal(chars.size, 256);
  for (let b = 0; b < 256; b++) {
    assert.deepEqual(fromByteLevel(BYTE_TO_CHAR[b]), new Uint8Array([b]));
  }
  const enc = toByteLevel("한 A");
  assert.equal(enc, "íķľĠA");
  assert.equal(new TextDecoder().decode(fromByteLevel(enc)), "한 A");
  assert.throws(() => fromByteLevel("한"), /not a byte-level string/);
});

Deno.test("ByteLevelBpe.fromJson() refuses broken tokenizer.json objects in one line", () => {
  const model = llamaJson.model;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...llamaJson, model: { ...model, type: "WordPiece" } }, /model is not a BPE model/],
    [
      { ...llamaJson, model: { ...model, merges: ["Ġ zzzq"] } },
      /model\.merges\[0\].*not in model\.vocab/,
    ],
    [{ ...llamaJson, model: { ...model, merges: ["a b c"] } }, /model\.merges\[0\] is not a pair/],
    [{ ...llamaJson, pre_tokenizer: null }, /pre_tokenizer is not Llama 3's/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => ByteLevelBpe.fromJson(json, "x/tokenizer.json"), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^x\/tokenizer\.json: /);
      assert.match(err.message, re);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});
