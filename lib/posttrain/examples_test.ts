import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { loadChatFormat } from "./chat_template.ts";
import { preferenceExamples } from "./examples.ts";
import type { PreferencePair } from "./records.ts";
import { saveTinyLlama } from "./testing.ts";

Deno.test("preferenceExamples trains on meta.sampled_ids verbatim, where the text would re-tokenize differently", async () => {
  const dir = await Deno.makeTempDir();
  await saveTinyLlama(dir, { chat: true });
  const format = await loadChatFormat(dir);
  const eot = format.eosIds[0];
  const prompt = [{ role: "user" as const, content: "a?" }];
  // a byte-level sample that is not valid UTF-8: its text is U+FFFD, three other bytes
  const sampled = format.tokenizer.encode("x").concat([0xff]);
  const text = format.tokenizer.decode(sampled);
  assert.ok(text.endsWith("\ufffd"));
  const pair: PreferencePair = {
    id: "p",
    prompt,
    chosen: [{ role: "assistant", content: text }],
    rejected: [{ role: "assistant", content: "y" }],
    meta: { sampled_ids: { chosen: [...sampled, eot], rejected: format.tokenizer.encode("y") } },
  };
  const e = preferenceExamples(format, pair, "pairs.jsonl");
  const answer = (x: { ids: number[]; mask: Uint8Array }) => x.ids.filter((_, i) => x.mask[i]);
  assert.deepEqual(answer(e.chosen), [...sampled, eot]);
  // no EOS sampled, none trained on
  assert.deepEqual(answer(e.rejected), format.tokenizer.encode("y"));
  // the text path re-encodes U+FFFD as three bytes and adds the template's end of turn
  const fromText = preferenceExamples(format, { ...pair, meta: {} }, "pairs.jsonl");
  assert.notDeepEqual(answer(fromText.chosen), answer(e.chosen));

  for (const bad of [[1.5], [-1], [format.tokenizer.vocabSize], "12"]) {
    assert.throws(
      () =>
        preferenceExamples(
          format,
          { ...pair, meta: { sampled_ids: { chosen: bad, rejected: [1] } } },
          "pairs.jsonl",
        ),
      (err: unknown) =>
        err instanceof UserError &&
        /^pairs\.jsonl: pair p: meta\.sampled_ids\.chosen must be a list of token ids/.test(
          err.message,
        ),
    );
  }
  await Deno.remove(dir, { recursive: true });
});
