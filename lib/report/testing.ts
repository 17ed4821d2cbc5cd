/**
 * For the report tests: opens a page in headless Chromium (Debian's `chromium`) and drives it over
 * the DevTools protocol (a WebSocket on 127.0.0.1) to collect console errors, uncaught exceptions
 * and every request the page makes, and to take a full-page PNG screenshot.
 *
 * @module
 */

import { join } from "node:path";
import { createRun } from "../run/run_folder.ts";
import { writeDocs } from "../io/jsonl.ts";
import { measure, row } from "../tokenizer/report.ts";
import type { FilterReport } from "../filter/runner.ts";
import type { TaskResult } from "../eval/runner.ts";

/** The Chromium binary on PATH, or undefined. */
export async function findChromium(): Promise<string | undefined> {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const out = await new Deno.Command(name, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return name;
    } catch { /* not installed */ }
  }
  return undefined;
}

/** What a page did while it loaded. */
export interface PageVisit {
  /** Console errors, uncaught exceptions and error log entries (e.g. a failed load). */
  errors: string[];
  /** URLs the page requested, the page itself included. */
  requests: string[];
  /** The page title. */
  title: string;
  /** A full-page screenshot. */
  png: Uint8Array;
}

/** Loads `url` in a fresh headless Chromium profile and reports what it did (see PageVisit). */
export async function visitPage(
  chromium: string,
  url: string,
  opts: {
    width?: number;
    timeoutMs?: number; /** Only this band of the page. */
    band?: [number, number];
  } = {},
): Promise<PageVisit> {
  const profile = await Deno.makeTempDir({ prefix: "jikji-chromium-" });
  const child = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--no-default-browser-check",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--window-size=${opts.width ?? 1100},900`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 60_000);
  try {
    const wsUrl = await _devtoolsUrl(child.stderr);
    const cdp = await Cdp.connect(wsUrl);
    try {
      return await _visit(cdp, url, opts.band);
    } finally {
      cdp.close();
    }
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

async function _devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`chromium exited before it listened:\n${text.slice(-2000)}`);
    text += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      // keep draining stderr so the browser never blocks on a full pipe
      (async () => {
        try {
          while (!(await reader.read()).done) { /* drain */ }
        } catch { /* closed */ }
      })();
      return m[1];
    }
  }
}

async function _visit(cdp: Cdp, url: string, band?: [number, number]): Promise<PageVisit> {
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  const errors: string[] = [];
  const requests: string[] = [];
  cdp.on(sessionId, (method, p) => {
    if (method === "Runtime.consoleAPICalled" && (p.type === "error" || p.type === "assert")) {
      errors.push(`console.${p.type}: ${JSON.stringify(p.args)}`);
    } else if (method === "Runtime.exceptionThrown") {
      errors.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
    } else if (method === "Log.entryAdded" && p.entry?.level === "error") {
      errors.push(`log: ${p.entry.text} ${p.entry.url ?? ""}`);
    } else if (method === "Network.requestWillBeSent") {
      requests.push(p.request.url);
    }
  });
  for (const d of ["Runtime", "Log", "Network", "Page"]) {
    await cdp.send(`${d}.enable`, {}, sessionId);
  }
  const loaded = cdp.once(sessionId, "Page.loadEventFired");
  const nav = await cdp.send("Page.navigate", { url }, sessionId);
  if (nav.errorText) errors.push(`navigate: ${nav.errorText}`);
  await loaded;
  const { result } = await cdp.send(
    "Runtime.evaluate",
    { expression: "document.title" },
    sessionId,
  );
  const metrics = await cdp.send("Page.getLayoutMetrics", {}, sessionId);
  const size = metrics.cssContentSize ?? metrics.contentSize;
  const shot = await cdp.send("Page.captureScreenshot", {
    format: "png",
    captureBeyondViewport: true,
    clip: band
      ? { x: 0, y: band[0], width: size.width, height: band[1] - band[0], scale: 1 }
      : { x: 0, y: 0, width: size.width, height: Math.min(size.height, 16000), scale: 1 },
  }, sessionId);
  return {
    errors,
    requests,
    title: String(result.value),
    png: Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0)),
  };
}

// deno-lint-ignore no-explicit-any
type Params = any;

/** A minimal DevTools-protocol client: commands with replies, events by session. */
class Cdp {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, { ok: (v: Params) => void; fail: (e: Error) => void }>();
  #listeners: ((session: string, method: string, params: Params) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.fail(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.ok(msg.result);
      } else {
        for (const l of this.#listeners) l(msg.sessionId ?? "", msg.method, msg.params);
      }
    };
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.fail(new Error("DevTools connection closed"));
      this.#pending.clear();
    };
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((ok, fail) => {
      const ws = new WebSocket(url);
      ws.onopen = () => ok(new Cdp(ws));
      ws.onerror = () => fail(new Error(`cannot connect to ${url}`));
    });
  }

  send(method: string, params: Params = {}, sessionId?: string): Promise<Params> {
    const id = ++this.#id;
    return new Promise((ok, fail) => {
      this.#pending.set(id, { ok, fail });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(sessionId: string, fn: (method: string, params: Params) => void): void {
    this.#listeners.push((s, m, p) => s === sessionId && fn(m, p));
  }

  once(sessionId: string, method: string): Promise<Params> {
    return new Promise((ok) => this.on(sessionId, (m, p) => m === method && ok(p)));
  }

  close(): void {
    this.#ws.close();
  }
}

/**
 * Writes a small demo-like run tree into `dir` the way the stages lay it out: a parent run with
 * its stage list, two pretraining runs (bf16, and fp8 with amax and scale per tensor), a DPO run,
 * a filter run with dropped and kept documents, a tokenizer report, and two evaluation runs.
 */
export async function writeFixtureRun(dir: string): Promise<void> {
  const root = await createRun({
    task: "demo",
    config: { runs_dir: "runs" },
    dir,
    gpu: false,
    echo: false,
  });
  const start = Date.parse("2026-12-01T10:00:00Z");
  const manifest = (task: string, minutes: number) =>
    JSON.stringify({ task, started_at: new Date(start + minutes * 60_000).toISOString() });
  const put = async (rel: string, text: string) => {
    await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, rel), text);
  };
  const jsonl = (recs: unknown[]) => recs.map((r) => JSON.stringify(r)).join("\n") + "\n";
  // pretraining: bf16 and fp8, validation per source every 10 steps
  for (const [i, precision] of [[0, "bf16"], [1, "fp8"]] as const) {
    const name = precision === "bf16" ? "base" : "cpt";
    const recs: unknown[] = [];
    for (let step = 1; step <= 40; step++) {
      const loss = 3 + 2.5 * Math.exp(-step / 12) + 0.08 * Math.sin(step * (1.3 + i));
      recs.push({
        step,
        loss,
        lr: 3e-3 * Math.min(1, step / 5) * (0.55 + 0.45 * Math.cos((Math.PI * step) / 40)),
        grad_norm: 0.6 + 1.5 * Math.exp(-step / 8),
        tokens: step * 256,
        tokens_per_s: 700 - 40 * i,
        rows_by_source: { en: 2, ko: 2 },
        ...(precision === "fp8"
          ? {
            fp8: Object.fromEntries(
              ["l0.q.x", "l0.q.w", "dl0.q", "l1.down.x", "l1.down.w", "dl1.down"]
                .map((t, k) => {
                  const amax = (t.startsWith("d") ? 1e-3 : t.endsWith(".w") ? 0.12 : 2.5) *
                    (1 + 0.1 * Math.sin(step + k));
                  return [t, [amax, 448 / amax]];
                }),
            ),
          }
          : {}),
      });
      if (step % 10 === 0) {
        recs.push({
          step,
          val: {
            en: { loss: loss + 0.1, ppl: Math.exp(loss + 0.1), tokens: 1024 },
            ...(i ? { ko: { loss: loss + 0.9, ppl: Math.exp(loss + 0.9), tokens: 900 } } : {}),
          },
        });
      }
    }
    await put(
      `train/${name}/config.json`,
      JSON.stringify({ precision, steps: 40, data: ["en=x.tok"] }),
    );
    await put(`train/${name}/manifest.json`, manifest("train", 1 + i));
    await put(`train/${name}/metrics.jsonl`, jsonl(recs));
    await put(`train/${name}/summary.json`, JSON.stringify({ steps: 40, final_loss: 3.1 }));
  }
  // DPO
  const dpo = [];
  for (let step = 1; step <= 20; step++) {
    const chosen = -3 - step * 0.05, rejected = -3 - step * 0.12;
    dpo.push({
      step,
      loss: 0.69 - step * 0.01,
      lr: 1e-4,
      grad_norm: 1,
      "rewards/chosen": chosen,
      "rewards/rejected": rejected,
      "rewards/margins": chosen - rejected,
      "rewards/accuracies": Math.min(1, 0.4 + step * 0.03),
    });
  }
  await put("posttrain/dpo/config.json", JSON.stringify({ precision: "fp8", steps: 20 }));
  await put("posttrain/dpo/manifest.json", manifest("train", 3));
  await put("posttrain/dpo/metrics.jsonl", jsonl(dpo));
  await put(
    "posttrain/dpo/summary.json",
    JSON.stringify({
      kind: "dpo",
      before: { preference_accuracy: 0.42, logp_margin: -2.3 },
      after: { preference_accuracy: 0.58, logp_margin: 0.4 },
    }),
  );
  // filter
  const stats: FilterReport = {
    shards: 1,
    docs_in: 10,
    docs_out: 6,
    chars_in: 2000,
    chars_out: 1200,
    rejects: 0,
    removed_by_reason: { "rules:hangul_ratio": 3, "exact_dedup:duplicate": 1 },
    pii: { email: 1 },
    counters: {},
    steps: [
      {
        name: "rules",
        docs_in: 10,
        docs_out: 7,
        chars_in: 2000,
        chars_out: 1400,
        removed: { hangul_ratio: 3 },
        counters: {},
      },
      {
        name: "exact_dedup",
        docs_in: 7,
        docs_out: 6,
        chars_in: 1400,
        chars_out: 1200,
        removed: { duplicate: 1 },
        counters: {},
      },
    ],
    seconds: 0.1,
  };
  await put("filter/stats.json", JSON.stringify(stats));
  await Deno.mkdir(join(dir, "filter/removed/rules"), { recursive: true });
  await Deno.mkdir(join(dir, "filter/kept"), { recursive: true });
  await writeDocs(join(dir, "filter/removed/rules/part-00000.jsonl.gz"), [
    {
      id: "d1",
      text: "LibreOffice Help pages are displayed in your system default web browser.",
      meta: { title: "Help", removed: { step: "rules", reason: "hangul_ratio" } },
    },
  ]);
  await writeDocs(join(dir, "filter/kept/part-00000.jsonl.gz"), [
    {
      id: "k1",
      text: "도움말은 시스템에서 기본값으로 설정된 프로그램의 기본 설정을 참조합니다.",
      meta: { title: "도움말", url: "http://127.0.0.1/ko/help.html" },
    },
  ]);
  // tokenizer: rows measured by the tokenizer report's own code
  const ko = ["한국어 문장을 토큰으로 나눕니다.", "도움말 창"],
    en = ["The Help window", "Open a file"];
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  await put(
    "tokenizer/report.json",
    JSON.stringify({
      vocabSize: 1000,
      rows: [
        row("Llama 3.1", "Korean held-out", measure(bytes, ko)),
        row("merged (Jikji)", "Korean held-out", measure((s) => [...s].length, ko)),
        row("Llama 3.1", "English", measure((s) => s.split(" ").length + 1, en)),
        row("merged (Jikji)", "English", measure((s) => s.split(" ").length + 1, en)),
      ],
    }),
  );
  // evaluation before and after
  for (const [i, name] of [[0, "base"], [1, "cpt"]] as const) {
    const results: Pick<TaskResult, "task" | "n" | "num_fewshot" | "metrics">[] = [
      {
        task: "help_ko_choice",
        n: 40,
        num_fewshot: 0,
        metrics: { acc: { value: 0.225 + 0.1 * i, stderr: 0.066 } },
      },
      {
        task: "help_en_choice",
        n: 40,
        num_fewshot: 0,
        metrics: { acc: { value: 0.25, stderr: 0.069 }, acc_norm: { value: 0.3, stderr: 0.07 } },
      },
    ];
    await put(`eval/${name}/config.json`, JSON.stringify({ model: `jikji:${name}` }));
    await put(`eval/${name}/manifest.json`, manifest("eval", 5 + i));
    await put(
      `eval/${name}/results.json`,
      JSON.stringify({ config: {}, results, skipped_tasks: [] }),
    );
  }
  const stages = ["filter", "tokenizer", "train", "posttrain", "eval"].map((stage, i) => ({
    stage,
    status: "ran",
    seconds: 1 + 2 * i,
  }));
  await root.finish({ stages });
}
