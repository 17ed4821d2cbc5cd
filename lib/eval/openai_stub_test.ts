/**
 * The openai backend against a stub OpenAI-compatible server on 127.0.0.1 that answers from
 * recorded log-probs (text_offset in code points, as vLLM counts): task metrics equal numbers
 * worked out by hand with lm-eval's formulas, and every way a server fails is one line.
 */

import assert from "node:assert/strict";
import { UserError } from "../io/errors.ts";
import { createRun } from "../run/run_folder.ts";
import { OpenAICompletionsModel } from "./http_backend.ts";
import { evaluateSuite } from "./suite.ts";

/** Recorded answers: prompt → tokens with their log-probs and the top token at each place. */
const RECORDED: Record<string, [string, number | null, string?][]> = {
  // Row 1 (gold "blue", index 1). The emoji is one code point but two UTF-16 units: counting the
  // context in UTF-16 would drop " blue" and " red" from the scores.
  "🙂 sky: red": [["🙂", null], [" sky", -2.0, " sky"], [":", -0.5, ":"], [" red", -2.4, " blue"]],
  "🙂 sky: blue": [["🙂", null], [" sky", -2.0, " sky"], [":", -0.5, ":"], [
    " blue",
    -1.2,
    " blue",
  ]],
  // Row 2 (gold "green", index 0).
  "grass: green": [["grass", null], [":", -1.0, ":"], [" green", -3.0, " gr"]],
  "grass: a purple": [["grass", null], [":", -1.0, ":"], [" a", -1.0, " a"], [
    " purple",
    -2.5,
    " p",
  ]],
  // Rolling documents: the server puts BOS (empty text) first, so every text token is scored.
  "Hi 🙂 there": [["<s>", null], ["Hi", -2.0], [" 🙂", -3.0], [" there", -1.5]],
  "ok": [["<s>", null], ["ok", -1.3]],
};

type Mode = { status?: number; noLogprobs?: boolean; hang?: boolean; failFirst?: number };

function stub(mode: Mode, seen: string[][]) {
  let calls = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    calls++;
    if (mode.hang) await new Promise((r) => setTimeout(r, 1000));
    if (mode.status) return new Response(`{"error": "bad prompt"}`, { status: mode.status });
    if (mode.failFirst && calls <= mode.failFirst) return new Response("busy", { status: 503 });
    const prompts: string[] = body.prompt;
    seen.push(prompts);
    const choices = prompts.map((p, index) => {
      const rec = RECORDED[p];
      if (!rec) throw new Error(`no recording for ${p}`);
      let off = 0;
      const text_offset = rec.map(([t]) => {
        const o = off;
        off += t === "<s>" ? 0 : [...t].length;
        return o;
      });
      const logprobs = mode.noLogprobs ? null : {
        tokens: rec.map(([t]) => t),
        token_logprobs: rec.map(([, lp]) => lp),
        top_logprobs: rec.map(([t, lp, top]) => (lp === null ? null : { [top ?? t]: lp })),
        text_offset,
      };
      return { index, text: p, logprobs };
    });
    return Response.json({ choices });
  });
}

async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/tasks`);
  await Deno.writeTextFile(
    `${dir}/mc.jsonl`,
    [
      { q: "🙂 sky:", choices: ["red", "blue"], gold: 1 },
      { q: "grass:", choices: ["green", "a purple"], gold: 0 },
    ].map((x) => JSON.stringify(x)).join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/docs.jsonl`,
    [{ page: "Hi 🙂 there" }, { page: "ok" }].map((x) => JSON.stringify(x)).join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/tasks/mc.yaml`,
    "task: mc\ndataset_path: mc.jsonl\noutput_type: multiple_choice\ndoc_to_text: q\n" +
      "doc_to_choice: choices\ndoc_to_target: gold\nmetric_list: [{metric: acc}, {metric: acc_norm}]\n",
  );
  await Deno.writeTextFile(
    `${dir}/tasks/roll.yaml`,
    "task: roll\ndataset_path: docs.jsonl\noutput_type: loglikelihood_rolling\ndoc_to_text: ''\n" +
      "doc_to_target: page\nmetric_list: [{metric: word_perplexity}, {metric: byte_perplexity}, {metric: bits_per_byte}]\n",
  );
  return dir;
}

async function run(dir: string, model: OpenAICompletionsModel, runDir?: string) {
  const r = await createRun({
    task: "eval",
    config: {},
    runsDir: `${dir}/runs`,
    dir: runDir,
    gpu: false,
    echo: false,
  });
  return {
    run: r,
    out: await evaluateSuite({
      taskFiles: [`${dir}/tasks/mc.yaml`, `${dir}/tasks/roll.yaml`],
      model,
      data: { dataRoot: dir },
      run: r,
    }),
  };
}

const model = (
  port: number,
  o: Partial<ConstructorParameters<typeof OpenAICompletionsModel>[0]> = {},
) =>
  new OpenAICompletionsModel({
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model: "m",
    batchSize: 2,
    backoffMs: 1,
    ...o,
  });

Deno.test("openai backend on recorded log-probs reproduces hand-computed lm-eval numbers", async () => {
  const dir = await fixture();
  const seen: string[][] = [];
  const server = stub({}, seen);
  try {
    const { out } = await run(dir, model(server.addr.port));
    const [mc, roll] = out.results;
    // Row 1: ll(red) = −2.4, ll(blue) = −1.2 → acc 1; per character −2.4/3, −1.2/4 → acc_norm 1.
    // Row 2: ll(green) = −3.0, ll(a purple) = −1.0 − 2.5 = −3.5 → acc 1;
    //        −3.0/5 = −0.6 < −3.5/8 = −0.4375 → acc_norm 0.
    assert.equal(mc.metrics.acc.value, 1);
    assert.equal(mc.metrics.acc.stderr, 0);
    assert.equal(mc.metrics.acc_norm.value, 0.5);
    assert.equal(mc.metrics.acc_norm.stderr, 0.5); // sqrt(0.5) / sqrt(2)
    assert.deepEqual(mc.samples.map((s) => s.lls), [[-2.4, -1.2], [-3, -3.5]]);
    // Rolling: Σ ll = −6.5 − 1.3 = −7.8 over 3 + 1 words and 13 + 2 UTF-8 bytes.
    assert.ok(Math.abs(roll.metrics.word_perplexity.value - 7.028687580589293) < 1e-12);
    assert.ok(Math.abs(roll.metrics.byte_perplexity.value - 1.6820276496988864) < 1e-12);
    assert.ok(Math.abs(roll.metrics.bits_per_byte.value - 0.750201421262261) < 1e-12);
    assert.ok(Number.isNaN(roll.metrics.bits_per_byte.stderr)); // lm-eval gives none either
    // Counting the emoji context in UTF-16 units (wrong for this server) loses the answer tokens.
    const utf16 = await model(server.addr.port, { offsetUnit: "utf16" }).loglikelihood([
      { context: "🙂 sky:", continuation: " red" },
    ]);
    assert.equal(utf16[0].logprob, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("openai backend: HTTP 400, 500, refused connections, missing logprobs and timeouts are one line", async () => {
  const reqs = [{ context: "🙂 sky:", continuation: " red" }];
  const oneLine = (re: RegExp) => (e: Error) =>
    e instanceof UserError && !e.message.includes("\n") && re.test(e.message);
  for (
    const [mode, re] of [
      [
        { status: 400 },
        /loglikelihood of 1 prompt\(s\), first "🙂 sky: red": HTTP 400: \{"error": "bad prompt"\}$/,
      ],
      [{ status: 500 }, /: HTTP 500: \{"error": "bad prompt"\}$/],
      [{ noLogprobs: true }, /"🙂 sky: red": the answer has no logprobs .*echo with logprobs$/],
      [{ hang: true }, /no answer within 0\.2 s \(tried 2 times\)$/],
    ] as [Mode, RegExp][]
  ) {
    const server = stub(mode, []);
    try {
      await assert.rejects(
        model(server.addr.port, { timeoutS: 0.2, retries: 2 }).loglikelihood(reqs),
        oneLine(re),
      );
    } finally {
      await server.shutdown();
    }
  }
  const closed = stub({}, []);
  const port = closed.addr.port;
  await closed.shutdown();
  await assert.rejects(
    model(port, { retries: 2 }).loglikelihood(reqs),
    oneLine(/connection failed/),
  );
  // 503 twice, then an answer: retried with backoff, each retry reported.
  const retries: string[] = [];
  const busy = stub({ failFirst: 2 }, []);
  try {
    const [r] = await model(busy.addr.port, { onRetry: (l) => retries.push(l) }).loglikelihood(
      reqs,
    );
    assert.equal(r.logprob, -2.4);
    assert.equal(retries.length, 2);
    assert.match(retries[0], /HTTP 503; retry 1 in 1 ms/);
  } finally {
    await busy.shutdown();
  }
});

Deno.test("openai backend: answers before a failure are kept and a resumed run asks only for the rest", async () => {
  const dir = await fixture();
  const seen: string[][] = [];
  // The first server answers one batch of two prompts, then refuses everything.
  let served = 0;
  const flaky = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (served++ >= 1) return new Response("overloaded", { status: 400 });
    const inner = stub({}, seen);
    try {
      return await fetch(`http://127.0.0.1:${inner.addr.port}/v1/completions`, {
        method: "POST",
        body: await req.text(),
      });
    } finally {
      await inner.shutdown();
    }
  });
  let runDir = "";
  try {
    await assert.rejects(
      async () => {
        const r = await createRun({
          task: "eval",
          config: {},
          runsDir: `${dir}/runs`,
          gpu: false,
          echo: false,
        });
        runDir = r.dir;
        await evaluateSuite({
          taskFiles: [`${dir}/tasks/mc.yaml`],
          model: model(flaky.addr.port),
          data: { dataRoot: dir },
          run: r,
        });
      },
      /no task could be evaluated: 1 skipped \(first: .*HTTP 400: overloaded\)/,
    );
  } finally {
    await flaky.shutdown();
  }
  assert.equal(seen.length, 1);
  const again: string[][] = [];
  const server = stub({}, again);
  try {
    const { out } = await run(dir, model(server.addr.port), runDir);
    assert.equal(out.results[0].requests.cached, 2);
    assert.deepEqual(again.flat().filter((p) => !RECORDED[p]?.[0][0].startsWith("<s>")).length, 2);
    assert.equal(out.results[0].metrics.acc_norm.value, 0.5);
  } finally {
    await server.shutdown();
  }
});
