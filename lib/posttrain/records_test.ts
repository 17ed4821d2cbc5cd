import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import {
  type Conversation,
  type PreferencePair,
  readConversations,
  readPairs,
  recordText,
  writeConversations,
  writePairs,
} from "./records.ts";

const conv: Conversation = {
  id: "c1",
  messages: [
    { role: "system", content: "친절하게 답하세요." },
    { role: "user", content: "한국의 수도는?" },
    { role: "assistant", content: "서울입니다." },
  ],
  meta: { source: "test", licence: "MIT" },
};

const pair: PreferencePair = {
  id: "p1",
  prompt: [{ role: "user", content: "2+2?" }],
  chosen: [{ role: "assistant", content: "B. 4" }],
  rejected: [{ role: "assistant", content: "A. 5" }],
  meta: {},
};

async function lines(...rows: unknown[]): Promise<string> {
  const path = `${await Deno.makeTempDir()}/r.jsonl`;
  await Deno.writeTextFile(
    path,
    rows.map((r) => typeof r === "string" ? r : JSON.stringify(r)).join("\n") + "\n",
  );
  return path;
}

async function refused(
  read: (p: string) => Promise<unknown>,
  path: string,
  line: number,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(read(path), (err: Error) => {
    assert.ok(err instanceof UserError, `not a UserError: ${err}`);
    assert.ok(!err.message.includes("\n"), `more than one line: ${err.message}`);
    assert.ok(err.message.startsWith(`${path}:${line}: `), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("writeConversations() and readConversations() round-trip, gzip too", async () => {
  const dir = await Deno.makeTempDir();
  for (const name of ["sft.jsonl", "sft.jsonl.gz"]) {
    assert.equal(await writeConversations(`${dir}/${name}`, [conv, { ...conv, id: "c2" }]), 2);
    const back = await readConversations(`${dir}/${name}`);
    assert.deepEqual(back, [conv, { ...conv, id: "c2" }]);
  }
  assert.equal(recordText(conv), "친절하게 답하세요.\n한국의 수도는?\n서울입니다.");
});

Deno.test("writePairs() and readPairs() round-trip; numeric ids and missing meta are filled", async () => {
  const dir = await Deno.makeTempDir();
  await writePairs(`${dir}/dpo.jsonl.gz`, [pair]);
  assert.deepEqual(await readPairs(`${dir}/dpo.jsonl.gz`), [pair]);
  const { meta: _m, ...noMeta } = pair;
  const path = await lines({ ...noMeta, id: 7 });
  assert.deepEqual(await readPairs(path), [{ ...pair, id: "7", meta: {} }]);
});

Deno.test("readConversations() refuses bad records in one line naming file and line", async () => {
  const ok = conv;
  const user = { role: "user", content: "질문" };
  const cases: [unknown, RegExp][] = [
    [
      { ...ok, messages: [user, { role: "bot", content: "x" }] },
      /field "messages\[1\]\.role": "bot" is not a role \(use system, user, assistant\)/,
    ],
    [
      { ...ok, messages: [user, { role: "assistant", content: "  " }] },
      /"messages\[1\]\.content": empty/,
    ],
    [{ ...ok, messages: [user] }, /no assistant turn/],
    [{ ...ok, messages: "hi" }, /field "messages": expected a list .* got string/],
    [
      { ...ok, messages: [user, { role: "assistant", content: 3 }] },
      /"messages\[1\]\.content": expected a string/,
    ],
    [{ ...ok, id: null }, /field "id": expected a string, got null/],
    [{ ...ok, meta: [] }, /field "meta": expected an object, got an array/],
    [{ ...ok, text: "x" }, /unknown field "text".*put anything else in "meta"/],
    [{ ...ok, messages: [{ from: "human", value: "x" }] }, /rename to "role"\/"content"/],
    [pair, /looks like a preference pair.*readPairs/],
    ["{not json", /invalid JSON/],
  ];
  for (const [bad, pattern] of cases) {
    await refused(readConversations, await lines(ok, bad), 2, pattern);
  }
});

Deno.test("readPairs() refuses a pair with an empty side, wrong roles or types", async () => {
  const a = (content: string) => ({ role: "assistant", content });
  const cases: [unknown, RegExp][] = [
    [{ ...pair, rejected: [] }, /field "rejected": empty \(give at least one assistant turn\)/],
    [{ ...pair, chosen: [a("")] }, /field "chosen\[0\]\.content": empty/],
    [{ ...pair, prompt: [] }, /field "prompt": empty/],
    [{ ...pair, prompt: [a("x")] }, /last turn is "assistant"/],
    [
      { ...pair, chosen: [{ role: "user", content: "x" }] },
      /field "chosen\[0\]\.role": "user".*assistant turns only/,
    ],
    [{ ...pair, chosen: { role: "assistant", content: "x" } }, /expected a list .* got object/],
    [conv, /looks like a conversation.*readConversations/],
  ];
  for (const [bad, pattern] of cases) await refused(readPairs, await lines(pair, bad), 2, pattern);
});

Deno.test("readConversations() with onBadLine collects bad lines instead of throwing", async () => {
  const path = await lines(conv, { ...conv, messages: [] }, conv);
  const bad: string[] = [];
  const got = await readConversations(path, { onBadLine: (b) => void bad.push(`${b.line}`) });
  assert.equal(got.length, 2);
  assert.deepEqual(bad, ["2"]);
});

Deno.test("writeConversations() refuses an invalid record and leaves no file", async () => {
  const path = `${await Deno.makeTempDir()}/sft.jsonl`;
  const bad = { ...conv, id: "x", messages: [{ role: "user" as const, content: "q" }] };
  await assert.rejects(
    writeConversations(path, [conv, bad]),
    (err: Error) =>
      err instanceof UserError && /record 2 \(id "x"\): no assistant turn/.test(err.message),
  );
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
});
