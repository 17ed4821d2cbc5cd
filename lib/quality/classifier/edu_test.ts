import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  EDU,
  eduProbability,
  heuristicAnnotator,
  heuristicEduScore,
  LlmAnnotator,
  NOT_EDU,
  oversample,
  parseEduScore,
  trainEduClassifier,
} from "./edu.ts";
import { ChatClient } from "./llm_client.ts";
import { UserError } from "../../io/errors.ts";
import type { Doc } from "../../io/jsonl.ts";

Deno.test("parseEduScore() reads the score line and nothing else", () => {
  assertEquals(parseEduScore("Good text.\nEducational score: 4"), 4);
  assertEquals(parseEduScore("**Educational score: 2**"), 2);
  assertEquals(parseEduScore("I would give it 3 points"), undefined);
  assertEquals(parseEduScore("Educational score: 10"), undefined);
});

Deno.test("LlmAnnotator scores through an OpenAI-compatible server and hides the key", async () => {
  const seen: { auth: string | null; body: Record<string, unknown> }[] = [];
  let fail = 1;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/v1/chat/completions") return new Response("no", { status: 404 });
    if (fail-- > 0) return new Response("busy", { status: 503 });
    const body = await req.json();
    seen.push({ auth: req.headers.get("authorization"), body });
    const text: string = body.messages[0].content;
    const score = text.includes("광합성") ? 4 : 1;
    return Response.json({
      choices: [{
        message: { role: "assistant", content: `Reasoning…\nEducational score: ${score}` },
      }],
    });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/v1`;
    const client = new ChatClient({ url, model: "test-model", apiKey: "sk-secret", retries: 2 });
    const ann = new LlmAnnotator(client, "test-model");
    assertEquals(await ann.score("광합성은 빛 에너지를 …"), 4);
    assertEquals(await ann.score("광고 클릭"), 1);
    assertEquals(seen[0].auth, "Bearer sk-secret");
    assertEquals(seen[0].body.model, "test-model");
    assertEquals(ann.name, "llm:test-model");
    const bad = new ChatClient({ url: `${url}/nowhere`, model: "m", apiKey: "sk-secret" });
    const err = await assertRejects(
      () => bad.complete([{ role: "user", content: "x" }]),
      UserError,
    );
    assert(err.message.includes("HTTP 404") && !err.message.includes("sk-secret"));
  } finally {
    await server.shutdown();
  }
});

Deno.test("heuristicEduScore() is a labelled heuristic giving 0–5", () => {
  assertEquals(heuristicAnnotator.name, "heuristic (not an LLM)");
  const good = Array.from(
    { length: 6 },
    () =>
      "표를 만드는 방법을 설명합니다. 예를 들어 셀을 선택한 다음 서식을 사용하여 바꿀 수 있습니다.",
  )
    .join("\n");
  assertEquals(heuristicEduScore(good), 5);
  assertEquals(heuristicEduScore("$$$ 123 !!!"), 0);
});

Deno.test("oversample() balances the classes", () => {
  const ex = [
    ...Array.from({ length: 9 }, (_, i) => ({ labels: ["a"], text: `a${i}` })),
    { labels: ["b"], text: "b0" },
  ];
  const out = oversample(ex);
  assertEquals(out.filter((e) => e.labels[0] === "b").length, 9);
  assertEquals(out.length, 18);
});

Deno.test("trainEduClassifier() learns annotated scores over rounds with pseudo-labels", () => {
  const docs: Doc[] = [];
  for (let i = 0; i < 120; i++) {
    const edu = i % 4 === 0;
    docs.push({
      id: String(i),
      text: edu ? `광합성 과정을 설명합니다 예를 들어 ${i}` : `할인 쿠폰 지금 클릭 ${i}`,
      meta: { edu_score: edu ? 4 : 1 },
    });
  }
  const unlabeled: Doc[] = Array.from({ length: 40 }, (_, i) => ({
    id: `u${i}`,
    text: i % 2 ? "세포 과정을 설명합니다" : "쿠폰 클릭",
    meta: {},
  }));
  const { model, rounds } = trainEduClassifier(docs, {
    rounds: 2,
    unlabeled,
    args: { dim: 8, epoch: 10, lr: 0.5, minn: 2, maxn: 3, bucket: 10000 },
  });
  assertEquals(rounds.length, 2);
  assertEquals(rounds[0].class_counts[EDU], rounds[0].class_counts[NOT_EDU]);
  assert(rounds[1].pseudo_labeled > 0);
  assertEquals(rounds[1].valid_p1, 1);
  assert(eduProbability(model, "광합성 과정을 설명합니다") > 0.5);
  assert(eduProbability(model, "할인 쿠폰 클릭") < 0.5);
  let err: unknown;
  try {
    trainEduClassifier([{ id: "x", text: "t", meta: { edu_score: "high" } }]);
  } catch (e) {
    err = e;
  }
  assert(err instanceof UserError && err.message.includes("meta.edu_score must be a number"));
});
