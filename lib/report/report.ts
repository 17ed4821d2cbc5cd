/**
 * `report.html` of a run folder: one self-contained page (inline SVG and CSS, no script, nothing
 * fetched when it is viewed) showing what the run and the runs nested in it hold — training and
 * validation loss per source with every training run overlaid (so fp8 and bf16 runs sit on one
 * chart), learning rate, gradient norm, FP8 amax and scale per tensor, post-training rewards,
 * margins and accuracies, the filter funnel with dropped and kept examples, tokens per Hangul
 * syllable and per English word, evaluation tables with standard errors (before vs after, per task
 * and per language group), and every run's config and manifest. Sections with no data are left
 * out.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { type Bar, barChart, lineChart, type Point } from "./charts.ts";
import { type Example, readRunTree, type RunData } from "./read.ts";

type Rec = Record<string, unknown>;

/** The report's file name inside a run folder. */
export const REPORT_FILE = "report.html";

/** Builds the report page of `dir` (see the module doc). */
export async function buildReport(dir: string): Promise<string> {
  const notes: string[] = [];
  const runs = await readRunTree(dir, notes);
  return reportHtml(dir, runs, notes);
}

/**
 * Writes `<dir>/report.html` and returns its path.
 *
 * @example
 * ```ts
 * import { writeReport } from "./report.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/metrics.jsonl`, '{"step":1,"loss":2.5,"lr":0.001}\n');
 * const path = await writeReport(dir);
 * if (!(await Deno.readTextFile(path)).includes("<svg")) throw new Error("no chart");
 * ```
 */
export async function writeReport(dir: string): Promise<string> {
  const path = join(dir, REPORT_FILE);
  await writeFileAtomic(path, await buildReport(dir));
  return path;
}

/** The page for runs already read. */
export function reportHtml(dir: string, runs: RunData[], notes: string[] = []): string {
  const sections: [string, string][] = [];
  const add = (title: string, body: string) => {
    if (body) sections.push([title, body]);
  };
  add("Stages", stagesSection(runs));
  add("Training", trainingSection(runs));
  add("FP8 scaling", fp8Section(runs));
  add("Post-training", posttrainSection(runs));
  add("Filter", filterSection(runs));
  add("Tokenizer", tokenizerSection(runs));
  add("Evaluation", evalSection(runs));
  add("Benchmarks", benchSection(runs));
  add("Config and manifest", configSection(runs));
  if (notes.length) add("Not shown", `<ul>${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`);
  const root = runs.find((r) => r.rel === "");
  const task = String(root?.manifest?.task ?? "run");
  const title = `Jikji ${task} — ${dir}`;
  const toc = sections.map(([t], i) => `<a href="#s${i}">${esc(t)}</a>`).join(" · ");
  const body = sections.map(([t, b], i) => `<section id="s${i}"><h2>${esc(t)}</h2>\n${b}</section>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1000px;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1em;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:2px 8px;vertical-align:top}th{background:#f5f5f5}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure,.charts>div{margin:0}
.ex{font-size:.85em;border-left:3px solid #ccc;padding:.2em .6em;margin:.4em 0;white-space:pre-wrap}
.ex.drop{border-color:#e15759}.ex.keep{border-color:#59a14f}
.meta{color:#666;font-size:.85em}nav{font-size:.9em;color:#666}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="meta">${esc(_when(root))}</p>
<nav>${toc}</nav>
${body}
</body></html>
`;
}

function _when(root: RunData | undefined): string {
  const m = root?.manifest ?? {};
  const parts = [
    m.started_at ? `started ${m.started_at}` : "",
    root?.summary?.finished_at ? `finished ${root.summary.finished_at}` : "",
    m.git_commit ? `commit ${String(m.git_commit).slice(0, 12)}` : "",
    m.jikji_version ? `Jikji ${m.jikji_version}` : "",
    m.deno_version ? `Deno ${m.deno_version}` : "",
    _gpu(m.gpu_adapter),
  ];
  return parts.filter(Boolean).join(" · ");
}

function _gpu(a: unknown): string {
  if (!a) return "";
  if (typeof a !== "object") return `GPU ${a}`;
  const g = a as Rec;
  return g.description ? `GPU ${g.description}` : g.error ? "no WebGPU adapter" : "";
}

/** HTML-escapes text. */
export function esc(s: unknown): string {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** A number for a table cell: 4 significant digits, exponent for very large or small values. */
export function num(x: unknown): string {
  if (typeof x !== "number") return x === null || x === undefined ? "—" : esc(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

function _table(head: string[], rows: string[][], numeric: (i: number) => boolean): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${
    rows.map((r) =>
      `<tr>${r.map((c, i) => `<td${numeric(i) ? ' class="n"' : ""}>${c}</td>`).join("")}</tr>`
    ).join("")
  }</tbody></table>`;
}

function _chart(title: string, svg: string): string {
  return `<div><h3>${esc(title)}</h3>${svg}</div>`;
}

function _label(r: RunData): string {
  const name = r.rel || String(r.manifest?.task ?? "run");
  const p = r.config?.precision;
  return typeof p === "string" ? `${name} · ${p}` : name;
}

function _isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

// --- stages (demo) ------------------------------------------------------------------------------

function stagesSection(runs: RunData[]): string {
  const stages = runs.find((r) => r.rel === "")?.summary?.stages;
  if (!Array.isArray(stages)) return "";
  const rows = (stages as Rec[]).map((s) => [
    esc(s.stage),
    esc(s.status),
    _isNum(s.seconds) ? num(s.seconds) : "—",
  ]);
  const bars: Bar[] = (stages as Rec[]).filter((s) => _isNum(s.seconds)).map((s) => ({
    label: String(s.stage),
    value: s.seconds as number,
    group: "seconds",
  }));
  return _table(["stage", "status", "seconds"], rows, (i) => i === 2) +
    (bars.length ? _chart("Time per stage (s)", barChart(bars, { x: "seconds" })) : "");
}

// --- training -----------------------------------------------------------------------------------

function _steps(r: RunData): Rec[] {
  return r.metrics.filter((m) => _isNum(m.step) && _isNum(m.loss));
}

/** What a training run trained: "pretraining", or the post-training kind ("sft", "dpo"). */
function _trainKind(r: RunData): string {
  const k = r.summary?.kind ?? r.config?.kind;
  if (typeof k === "string") return k;
  return r.metrics.some((m) => "rewards/margins" in m) ? "dpo" : "pretraining";
}

function trainingSection(runs: RunData[]): string {
  const trained = runs.filter((r) => _steps(r).length > 0);
  const kinds = [...new Set(trained.map(_trainKind))];
  return kinds.map((k) => {
    const group = trained.filter((r) => _trainKind(r) === k);
    return `<h3>${esc(k === "pretraining" ? "Pretraining" : k.toUpperCase())}: ${
      group.map((r) => esc(_label(r))).join(", ")
    }</h3>` + _trainingCharts(group);
  }).join("");
}

function _trainingCharts(trained: RunData[]): string {
  const series = (key: string): Point[] =>
    trained.flatMap((r) =>
      _steps(r).filter((m) => _isNum(m[key])).map((m) => ({
        x: m.step as number,
        y: m[key] as number,
        series: _label(r),
      }))
    );
  const val: Point[] = trained.flatMap((r) =>
    r.metrics.filter((m) => _isNum(m.step) && m.val && typeof m.val === "object").flatMap((m) =>
      Object.entries(m.val as Record<string, Rec>).filter(([, v]) => _isNum(v?.loss)).map((
        [src, v],
      ) => ({ x: m.step as number, y: v.loss as number, series: `${_label(r)} · ${src}` }))
    )
  );
  const w = { width: 480 };
  const charts = [
    _chart(
      "Training loss (faint: per step; bold: mean of 10 steps)",
      lineChart(series("loss"), { ...w, y: "loss", smooth: 10 }),
    ),
    val.length
      ? _chart("Validation loss per source", lineChart(val, { ...w, y: "loss (nats/token)" }))
      : "",
    _chart("Learning rate", lineChart(series("lr"), { ...w, y: "learning rate" })),
    _chart("Gradient norm (before clipping)", lineChart(series("grad_norm"), { ...w, y: "‖g‖" })),
  ];
  const tps = series("tokens_per_s");
  if (tps.length) charts.push(_chart("Throughput", lineChart(tps, { ...w, y: "tokens/s" })));
  const rows = trained.map((r) => {
    const s = _steps(r);
    const last = s[s.length - 1];
    const lastVal = [...r.metrics].reverse().find((m) => m.val && typeof m.val === "object");
    const v = lastVal
      ? Object.entries(lastVal.val as Record<string, Rec>).map(([k, x]) =>
        `${esc(k)} ${num(x.loss)} (ppl ${num(x.ppl)})`
      ).join(", ")
      : "—";
    return [esc(_label(r)), num(last.step), num(s[0].loss), num(last.loss), v];
  });
  return _table(
    ["run", "steps", "first loss", "last loss", "validation loss (last)"],
    rows,
    (i) => i >= 1 && i <= 3,
  ) + `<div class="charts">${charts.join("")}</div>`;
}

function _kind(tensor: string): string {
  if (/^d/.test(tensor)) return "gradients";
  if (/\.w$/.test(tensor)) return "weights";
  return "activations";
}

function fp8Section(runs: RunData[]): string {
  let out = "";
  for (const r of runs) {
    const recs = r.metrics.filter((m) => _isNum(m.step) && m.fp8 && typeof m.fp8 === "object");
    if (!recs.length) continue;
    const amax: Point[] = [], scale: Point[] = [];
    for (const m of recs) {
      for (const [t, v] of Object.entries(m.fp8 as Record<string, [number, number]>)) {
        if (!Array.isArray(v)) continue;
        amax.push({ x: m.step as number, y: v[0], series: t, facet: _kind(t) });
        scale.push({ x: m.step as number, y: v[1], series: t, facet: _kind(t) });
      }
    }
    const last = recs[recs.length - 1].fp8 as Record<string, [number, number]>;
    const rows = Object.entries(last).map((
      [t, v],
    ) => [esc(t), esc(_kind(t)), num(v[0]), num(v[1])]);
    out += `<h3>${esc(_label(r))}: ${Object.keys(last).length} quantized tensors</h3>` +
      `<p class="meta">One line per tensor (hover for its name); delayed scaling: the scale used at a step comes from the amax history.</p>` +
      _chart(
        "amax per tensor",
        lineChart(amax, { y: "amax", logY: true, legend: false, width: 960, maxPoints: 300 }),
      ) +
      _chart(
        "scale per tensor",
        lineChart(scale, { y: "scale", logY: true, legend: false, width: 960, maxPoints: 300 }),
      ) +
      `<details><summary>last step's amax and scale per tensor</summary>${
        _table(["tensor", "kind", "amax", "scale"], rows, (i) => i >= 2)
      }</details>`;
  }
  return out;
}

// --- post-training ------------------------------------------------------------------------------

function posttrainSection(runs: RunData[]): string {
  let out = "";
  for (const r of runs) {
    const steps = _steps(r);
    const keys = new Set<string>();
    for (const m of steps) {
      for (const k of Object.keys(m)) if (k.startsWith("rewards/")) keys.add(k);
    }
    const s = r.summary ?? {};
    const before = s.before as Rec | undefined, after = s.after as Rec | undefined;
    if (!keys.size && !(before && after)) continue;
    out += `<h3>${esc(_label(r))}${s.kind ? ` (${esc(s.kind)})` : ""}</h3>`;
    if (before && after) {
      const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
      out += _table(
        ["held-out measure", "before", "after"],
        names.map((n) => [esc(n), num(before[n]), num(after[n])]),
        (i) => i > 0,
      );
    }
    if (keys.size) {
      const pts = (ks: string[]): Point[] =>
        steps.flatMap((m) =>
          ks.filter((k) => _isNum(m[k])).map((k) => ({
            x: m.step as number,
            y: m[k] as number,
            series: k.replace("rewards/", ""),
          }))
        );
      const rew = [...keys].filter((k) => k === "rewards/chosen" || k === "rewards/rejected");
      out += `<div class="charts">` +
        (rew.length
          ? _chart("Rewards (chosen vs rejected)", lineChart(pts(rew), { y: "reward" }))
          : "") +
        (keys.has("rewards/margins")
          ? _chart("Reward margin", lineChart(pts(["rewards/margins"]), { y: "chosen − rejected" }))
          : "") +
        (keys.has("rewards/accuracies")
          ? _chart("Reward accuracy", lineChart(pts(["rewards/accuracies"]), { y: "accuracy" }))
          : "") +
        `</div>`;
    }
  }
  return out;
}

// --- filter -------------------------------------------------------------------------------------

function _exampleHtml(e: Example, cls: string): string {
  const head = [
    e.reason ? `<b>${esc(e.reason)}</b>` : "",
    e.title ? esc(e.title) : "",
    e.url ? `<code>${esc(e.url)}</code>` : "",
  ]
    .filter(Boolean).join(" · ");
  return `<div class="ex ${cls}"><div class="meta">${head}</div>${esc(e.text)}${
    e.text.length >= 280 ? "…" : ""
  }</div>`;
}

function filterSection(runs: RunData[]): string {
  let out = "";
  for (const r of runs) {
    const s = r.stats;
    if (!s || !_isNum(s.docs_in)) continue;
    const steps = Array.isArray(s.steps) ? s.steps as Rec[] : [];
    const funnel: Bar[] = [
      { label: "input", value: s.docs_in as number, group: "documents" },
      ...steps.map((st) => ({
        label: String(st.name),
        value: Number(st.docs_out),
        group: "documents",
      })),
    ];
    const reasons = Object.entries((s.removed_by_reason ?? {}) as Record<string, number>);
    out +=
      `<h3>${esc(r.rel || "filter")}: ${num(s.docs_in)} documents in, ${num(s.docs_out)} kept (${
        num(100 * (s.docs_out as number) / Math.max(1, s.docs_in as number))
      } %); ${num(s.chars_in)} → ${num(s.chars_out)} characters</h3>` +
      `<div class="charts">` +
      _chart("Documents left after each step", barChart(funnel, { x: "documents" })) +
      (reasons.length
        ? _chart(
          "Removed, by step and reason",
          barChart(reasons.map(([k, n]) => ({ label: k, value: n, group: "removed" })), {
            x: "documents",
          }),
        )
        : "") +
      `</div>`;
    if (r.dropped.length) {
      out += `<details open><summary>Dropped examples (${r.dropped.length})</summary>${
        r.dropped.map((e) => _exampleHtml(e, "drop")).join("")
      }</details>`;
    }
    if (r.kept.length) {
      out += `<details open><summary>Kept examples (${r.kept.length})</summary>${
        r.kept.map((e) => _exampleHtml(e, "keep")).join("")
      }</details>`;
    }
  }
  return out;
}

// --- tokenizer ----------------------------------------------------------------------------------

function tokenizerSection(runs: RunData[]): string {
  let out = "";
  for (const r of runs) {
    const rows = r.tokenizer?.rows;
    if (!Array.isArray(rows)) continue;
    const bars: Bar[] = [];
    for (const row of rows as Rec[]) {
      const tok = String(row.tokenizer);
      if (_isNum(row.tokens_per_hangul) && /korean/i.test(String(row.set))) {
        bars.push({
          label: "tokens per Hangul syllable (Korean)",
          value: row.tokens_per_hangul,
          group: tok,
        });
      }
      if (_isNum(row.tokens_per_word) && /english/i.test(String(row.set))) {
        bars.push({ label: "tokens per word (English)", value: row.tokens_per_word, group: tok });
      }
    }
    const main = bars.filter((b) => /llama 3\.1|merged/i.test(b.group));
    const table = _table(
      [
        "tokenizer",
        "text",
        "texts",
        "Hangul syllables",
        "words",
        "tokens",
        "tokens/syllable",
        "tokens/word",
        "bytes/token",
      ],
      (rows as Rec[]).map((x) => [
        esc(x.tokenizer),
        esc(x.set),
        num(x.texts),
        num(x.hangul),
        num(x.words),
        num(x.tokens),
        num(x.tokens_per_hangul),
        num(x.tokens_per_word),
        num(x.bytes_per_token),
      ]),
      (i) => i >= 2,
    );
    out +=
      `<h3>${esc(r.rel || "tokenizer")}${
        _isNum(r.tokenizer?.vocabSize) ? `: vocabulary ${num(r.tokenizer!.vocabSize)}` : ""
      }</h3>` +
      (main.length
        ? _chart("Llama 3.1 vs merged (fewer is better)", barChart(main, { x: "tokens" }))
        : "") +
      table;
  }
  return out;
}

// --- evaluation ---------------------------------------------------------------------------------

interface EvalCell {
  run: string;
  task: string;
  metric: string;
  value: number;
  stderr: number;
  n: number;
}

/** The language group of a task: `ko` or `en` from its name, else "other". */
export function taskGroup(task: string): string {
  const m = /(?:^|_)(ko|en)(?:_|$)/.exec(task);
  return m ? m[1] : "other";
}

function evalSection(runs: RunData[]): string {
  const cells: EvalCell[] = [];
  const evalRuns = runs.filter((r) => Array.isArray(r.results?.results));
  for (const r of evalRuns) {
    const name = r.rel || String(r.results?.config && (r.results.config as Rec).model);
    // metrics.jsonl has a line per task evaluated; results.json holds the last suite's tasks
    const logged = r.metrics.filter((m) => typeof m.task === "string" && _isNum(m.n));
    const seen = new Set(logged.map((m) => m.task));
    const fromResults = (r.results!.results as Rec[]).filter((t) => !seen.has(t.task))
      .map((t) => ({ task: t.task, n: t.n, ...(t.metrics as Rec) }));
    for (const t of [...logged, ...fromResults]) {
      for (const [metric, v] of Object.entries(t as Rec)) {
        const mv = v as Rec;
        if (!mv || typeof mv !== "object" || !_isNum(mv.value)) continue;
        cells.push({
          run: name,
          task: String(t.task),
          metric,
          value: mv.value,
          stderr: _isNum(mv.stderr) ? mv.stderr : NaN,
          n: Number(t.n),
        });
      }
    }
  }
  if (!cells.length) return "";
  const runNames = [...new Set(cells.map((c) => c.run))];
  const keys = [...new Set(cells.map((c) => `${c.task}\u0000${c.metric}`))];
  const get = (run: string, key: string) =>
    cells.find((c) => c.run === run && `${c.task}\u0000${c.metric}` === key);
  const pm = (c: EvalCell | undefined) =>
    c ? `${num(c.value)}${Number.isFinite(c.stderr) ? ` ± ${num(c.stderr)}` : ""}` : "—";
  const rows = keys.map((k) => {
    const [task, metric] = k.split("\u0000");
    return [
      esc(task),
      esc(metric),
      num(get(runNames[0], k)?.n),
      ...runNames.map((r) => pm(get(r, k))),
    ];
  });
  let out =
    `<p class="meta">value ± standard error of the mean over the task's rows; ${
      runNames.length > 1 ? "columns in the order the runs were made (before → after)" : "one model"
    }.</p>` + _table(["task", "metric", "n", ...runNames], rows, (i) => i >= 2);
  // per language group: unweighted mean over the group's tasks, stderr sqrt(Σ se²)/k
  const groups = new Map<string, EvalCell[]>();
  for (const c of cells) {
    const k = `${taskGroup(c.task)}\u0000${c.metric}\u0000${c.run}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const gkeys = [
    ...new Set([...groups.keys()].map((k) => k.split("\u0000").slice(0, 2).join("\u0000"))),
  ];
  const grows = gkeys.map((gk) => {
    const [g, metric] = gk.split("\u0000");
    const any = runNames.map((r) => groups.get(`${gk}\u0000${r}`) ?? []);
    return [
      esc(g),
      esc(metric),
      num(Math.max(...any.map((a) => a.length))),
      ...any.map((a) => {
        if (!a.length) return "—";
        const mean = a.reduce((s, c) => s + c.value, 0) / a.length;
        const se = Math.sqrt(a.reduce((s, c) => s + c.stderr ** 2, 0)) / a.length;
        return `${num(mean)}${Number.isFinite(se) ? ` ± ${num(se)}` : ""}`;
      }),
    ];
  });
  out +=
    `<h3>Per group (language)</h3><p class="meta">mean over the group's tasks; ± √(Σ se²)/k.</p>` +
    _table(["group", "metric", "tasks", ...runNames], grows, (i) => i >= 2);
  const acc = cells.filter((c) => /^acc/.test(c.metric) || /exact_match/.test(c.metric));
  if (acc.length) {
    out += _chart(
      "Accuracy per task (± stderr)",
      barChart(
        acc.map((c) => ({
          label: `${c.task} ${c.metric}`,
          value: c.value,
          group: c.run,
          error: Number.isFinite(c.stderr) ? c.stderr : undefined,
        })),
        { x: "accuracy", dots: true, width: 900, xDomain: [0, 1] },
      ),
    );
  }
  const skipped = evalRuns.flatMap((r) => (r.results?.skipped_tasks ?? []) as Rec[]);
  if (skipped.length) {
    out += `<h3>Skipped tasks</h3><ul>${
      skipped.map((s) => `<li><code>${esc(s.file)}</code>: ${esc(s.reason)}</li>`).join("")
    }</ul>`;
  }
  return out;
}

// --- benchmarks ---------------------------------------------------------------------------------

function benchSection(runs: RunData[]): string {
  const recs = runs.flatMap((r) =>
    r.metrics.filter((m) =>
      typeof m.name === "string" && _isNum(m.value) && typeof m.unit === "string"
    )
  );
  if (!recs.length) return "";
  return _table(
    ["suite", "figure", "value", "unit", "peer", "peer value", "ratio"],
    recs.map((m) => [
      esc(m.suite ?? ""),
      esc(m.name),
      num(m.value),
      esc(m.unit),
      esc(m.peer ?? ""),
      num(m.peer_value),
      num(m.ratio),
    ]),
    (i) => i === 2 || i >= 5,
  );
}

// --- config and manifest ------------------------------------------------------------------------

function _kv(obj: Rec): string {
  return _table(
    ["key", "value"],
    Object.entries(obj).map(([k, v]) => [
      esc(k),
      typeof v === "object" && v !== null ? `<code>${esc(JSON.stringify(v))}</code>` : esc(v),
    ]),
    () => false,
  );
}

function configSection(runs: RunData[]): string {
  return runs.filter((r) => r.config || r.manifest).map((r) =>
    `<details${r.rel === "" ? " open" : ""}><summary>${esc(r.rel || "this run")}</summary>${
      r.config ? `<h3>config.json</h3>${_kv(r.config)}` : ""
    }${r.manifest ? `<h3>manifest</h3>${_kv(r.manifest)}` : ""}</details>`
  ).join("");
}
