import assert from "node:assert/strict";
import { OpenAICompletionsModel } from "./http_backend.ts";
import { TokenLMModel } from "./model.ts";
import { CharNgramLM } from "./ngram.ts";

const TEXT = "사과는 빨갛다. 바나나는 노랗다. The sky is blue. The grass is green.";

/**
 * A local OpenAI-compatible completions server backed by the character n-gram LM (one token per
 * character, text offsets in characters), as vLLM answers `echo` + `logprobs`.
 */
function serve(lm: CharNgramLM, seen: Record<string, unknown>[]) {
  const argmax = (xs: ArrayLike<number>) => {
    let b = 0;
    for (let i = 1; i < xs.length; i++) if (xs[i] > xs[b]) b = i;
    return b;
  };
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/v1/completions") return new Response("no", { status: 404 });
    if (req.headers.get("authorization") !== "Bearer sekrit") {
      return new Response("unauthorized", { status: 401 });
    }
    const body = await req.json();
    seen.push(body);
    const prompts: string[] = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    const choices = prompts.map((p, index) => {
      const ids = lm.encode(p);
      if (body.echo) {
        const tokens: string[] = [];
        const token_logprobs: (number | null)[] = [];
        const top_logprobs: (Record<string, number> | null)[] = [];
        const text_offset: number[] = [];
        let off = 0;
        ids.forEach((id, t) => {
          const ch = lm.decode([id]);
          tokens.push(ch);
          text_offset.push(off);
          off += [...ch].length; // code points, as vLLM counts
          if (t === 0) {
            token_logprobs.push(null);
            top_logprobs.push(null);
            return;
          }
          const lp = lm.nextLogProbs(ids.slice(Math.max(0, t - lm.maxLength + 1), t));
          token_logprobs.push(lp[id]);
          const best = argmax(lp);
          top_logprobs.push({ [lm.decode([best])]: lp[best] });
        });
        return { index, text: p, logprobs: { tokens, token_logprobs, top_logprobs, text_offset } };
      }
      const out: number[] = [];
      let text = "";
      for (let i = 0; i < body.max_tokens; i++) {
        const seq = [...ids, ...out];
        out.push(argmax(lm.nextLogProbs(seq.slice(Math.max(0, seq.length - lm.maxLength + 1)))));
        text = lm.decode(out);
        const stop = (body.stop as string[]).map((s) => text.indexOf(s)).filter((i) => i >= 0);
        if (stop.length) {
          text = text.slice(0, Math.min(...stop));
          break;
        }
      }
      return { index, text };
    });
    // Answer out of order, as batching servers may.
    return Response.json({ choices: choices.reverse() });
  });
}

Deno.test("OpenAICompletionsModel matches the in-process model through a local server", async () => {
  const lm = new CharNgramLM([TEXT], 4);
  const seen: Record<string, unknown>[] = [];
  const server = serve(lm, seen);
  try {
    const base = `http://127.0.0.1:${server.addr.port}/v1`;
    const http = new OpenAICompletionsModel({
      baseUrl: base,
      model: "ngram",
      apiKey: "sekrit",
      batchSize: 8,
    });
    const local = new TokenLMModel(lm);
    const reqs = [
      { context: "사과는 ", continuation: "빨갛다." },
      { context: "사과는 ", continuation: "노랗다." },
      { context: "The sky is", continuation: " blue" },
      { context: "The grass", continuation: " is red" },
    ];
    const got = await http.loglikelihood(reqs);
    const want = await local.loglikelihood(reqs);
    for (let i = 0; i < reqs.length; i++) {
      assert.ok(Math.abs(got[i].logprob - want[i].logprob) < 1e-9, `${i}`);
      assert.equal(got[i].isGreedy, want[i].isGreedy);
    }
    assert.deepEqual(got.slice(0, 2).map((g) => g.isGreedy), [true, false]);
    const gen = await http.generate([{ prompt: "바나나는 ", until: ["."], maxTokens: 10 }]);
    assert.deepEqual(
      gen,
      await local.generate([{ prompt: "바나나는 ", until: ["."], maxTokens: 10 }]),
    );
    assert.equal(gen[0], "노랗다");
    assert.equal(seen[0].echo, true);
    assert.equal(seen[0].max_tokens, 0);
    const bad = new OpenAICompletionsModel({ baseUrl: base, model: "x", retries: 1 });
    await assert.rejects(() => bad.loglikelihood(reqs), /HTTP 401/);
    assert.ok(!JSON.stringify(seen).includes("sekrit"));
  } finally {
    await server.shutdown();
  }
});
