import assert from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { ByteLevelBpe } from "./bpe.ts";
import { type AddedTokenEntry, idAgreementProblems, vocabWithAdded } from "./added_tokens.ts";
import { koreanCorpus, mergedLlama } from "./testing.ts";

/**
 * The ids Hugging Face's Rust `tokenizers` gives the added tokens when it loads `json`: the
 * model's own id when `model.vocab` has the content, else one past the largest added id so far,
 * starting at the vocabulary's size (its `AddedVocabulary::add_tokens`).
 */
function rustAddedIds(json: Record<string, unknown>): number[] {
  const vocab = (json.model as { vocab: Record<string, number> }).vocab;
  const size = Object.keys(vocab).length;
  let max = -1;
  return ((json.added_tokens ?? []) as AddedTokenEntry[]).map((a) => {
    const id = vocab[a.content] ?? (max >= size ? max + 1 : size);
    max = Math.max(max, id);
    return id;
  });
}

Deno.test("toJson() writes a merged tokenizer whose special tokens every reader numbers alike", () => {
  const bpe = mergedLlama();
  assert.ok(bpe.size > 128256 + 30, `merged ${bpe.size}`);
  const json = bpe.toJson();
  assert.deepEqual(idAgreementProblems(json), []);
  const added = json.added_tokens as AddedTokenEntry[];
  assert.equal(added.length, 256);
  assert.deepEqual(rustAddedIds(json), added.map((a) => a.id));
  // The layout written before (specials only in added_tokens): Rust would move them after the
  // last Korean piece, and the check names why.
  const model = json.model as Record<string, unknown>;
  const vocab = Object.fromEntries(
    Object.entries(model.vocab as Record<string, number>).filter(([, id]) =>
      id < 128000 || id >= 128256
    ),
  );
  const old = { ...json, model: { ...model, vocab } };
  assert.equal(rustAddedIds(old)[0], bpe.size - 256);
  assert.deepEqual(idAgreementProblems(old).slice(0, 2), [
    "model.vocab ids are not 0…" + (bpe.size - 257) + ": id 128000 is missing",
    'added token "<|begin_of_text|>" (id 128000) is not in model.vocab',
  ]);
  // The JavaScript library and Jikji's encoder read the written file to the same ids, and back.
  const hf = new Tokenizer(json, {}), again = ByteLevelBpe.fromJson(json);
  let newPieces = 0;
  for (const line of koreanCorpus(40, 9)) {
    const text = `<|begin_of_text|> ${line}<|eot_id|>`;
    const ids = hf.encode(text, { add_special_tokens: false }).ids;
    assert.deepEqual(again.encode(text), ids, text);
    assert.equal(ids[0], 128000);
    assert.equal(ids.at(-1), 128009);
    newPieces += ids.filter((id) => id >= 128256).length;
    assert.equal(hf.decode(ids, { skip_special_tokens: false }), text);
  }
  assert.ok(newPieces > 20, `Korean pieces used: ${newPieces}`);
});

Deno.test("vocabWithAdded() refuses an added token that the vocabulary holds at another id", () => {
  assert.deepEqual(vocabWithAdded([["a", 0], ["b", 2]], [{ id: 1, content: "<s>" }]), {
    a: 0,
    "<s>": 1,
    b: 2,
  });
  assert.throws(
    () => vocabWithAdded([["a", 0]], [{ id: 1, content: "a" }]),
    /"a" is id 1 but vocab has 0/,
  );
});
