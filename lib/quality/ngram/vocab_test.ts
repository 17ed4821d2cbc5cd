import { assertEquals, assertRejects } from "../_assert.ts";
import { hfTokenizer, Vocab, whitespaceTokenizer } from "./vocab.ts";
import { UserError } from "../../io/errors.ts";

Deno.test("Vocab follows KenLM's ids for <unk>, <s>, </s>", () => {
  const v = new Vocab();
  assertEquals([v.id("<unk>"), v.id("<s>"), v.id("</s>")], [0, 1, 2]);
  assertEquals([v.add("가"), v.add("나"), v.add("가"), v.id("없음")], [3, 4, 3, 0]);
});

Deno.test("whitespaceTokenizer() splits on spaces and tabs only", () => {
  assertEquals(whitespaceTokenizer("  한국어  문장\t입니다 "), ["한국어", "문장", "입니다"]);
});

Deno.test("hfTokenizer() tokenises with a tokenizer.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const json = {
      version: "1.0",
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: null,
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab: { "[UNK]": 0, "한국": 1, "##어": 2, "문장": 3 },
      },
    };
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
    const tok = await hfTokenizer(`${dir}/tokenizer.json`);
    assertEquals(tok("한국어 문장"), ["한국", "##어", "문장"]);
    await Deno.writeTextFile(`${dir}/bad.json`, "{}");
    await assertRejects(() => hfTokenizer(`${dir}/bad.json`), UserError, "bad.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
