/**
 * Result tables of an evaluation run in Markdown and HTML: one line per task and metric with its
 * standard error, the suite table of group and tag averages, then what was skipped (whole tasks
 * and single rows) and why.
 *
 * @module
 */

import type { TaskResult } from "./runner.ts";
import type { GroupResult } from "./groups.ts";

/** A task that could not run. */
export interface SkippedTask {
  file: string;
  reason: string;
}

/** Rows of the results table. */
export function tableRows(results: TaskResult[]): string[][] {
  const rows: string[][] = [];
  for (const r of results) {
    for (const [name, m] of Object.entries(r.metrics)) {
      const [metric, filter] = name.split(",");
      rows.push([
        r.task,
        String(r.num_fewshot),
        metric,
        filter ?? "",
        _fmt(m.value),
        Number.isFinite(m.stderr) ? _fmt(m.stderr) : "—",
        String(r.n),
        String(r.skipped_rows.length),
        r.seconds.toFixed(1),
      ]);
    }
  }
  return rows;
}

const HEADER = [
  "task",
  "shots",
  "metric",
  "filter",
  "value",
  "± stderr",
  "n",
  "rows skipped",
  "seconds",
];

function _fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

const GROUP_HEADER = ["group", "kind", "metric", "value", "± stderr", "tasks", "n"];

/** Rows of the suite (groups and tags) table. */
export function groupRows(groups: GroupResult[]): string[][] {
  return groups.map((g) => [
    g.name,
    g.kind,
    g.metric,
    _fmt(g.value),
    Number.isFinite(g.stderr) ? _fmt(g.stderr) : "—",
    String(g.tasks.length),
    String(g.n),
  ]);
}

/** The Markdown report. */
export function markdownReport(
  results: TaskResult[],
  skipped: SkippedTask[],
  title: string,
  groups: GroupResult[] = [],
): string {
  const lines = [
    `# ${title}`,
    "",
    `| ${HEADER.join(" | ")} |`,
    `|${HEADER.map(() => "---").join("|")}|`,
  ];
  for (const row of tableRows(results)) lines.push(`| ${row.map(_mdCell).join(" | ")} |`);
  if (groups.length) {
    lines.push("", "## Groups and tags", "", `| ${GROUP_HEADER.join(" | ")} |`);
    lines.push(`|${GROUP_HEADER.map(() => "---").join("|")}|`);
    for (const row of groupRows(groups)) lines.push(`| ${row.map(_mdCell).join(" | ")} |`);
  }
  if (skipped.length) {
    lines.push("", "## Skipped tasks", "");
    for (const s of skipped) lines.push(`- \`${s.file}\`: ${_mdCell(s.reason)}`);
  }
  const rows = results.flatMap((r) => r.skipped_rows.map((s) => ({ task: r.task, ...s })));
  if (rows.length) {
    lines.push("", "## Skipped rows", "");
    for (const s of rows.slice(0, 200)) {
      lines.push(`- ${s.task}: \`${s.file}\` row ${s.row}: ${_mdCell(s.reason)}`);
    }
    if (rows.length > 200) lines.push(`- … and ${rows.length - 200} more (see results.json)`);
  }
  return lines.join("\n") + "\n";
}

function _mdCell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function _esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The HTML report (one self-contained page). */
export function htmlReport(
  results: TaskResult[],
  skipped: SkippedTask[],
  title: string,
  groups: GroupResult[] = [],
): string {
  const head = HEADER.map((h) => `<th>${_esc(h)}</th>`).join("");
  const gHead = GROUP_HEADER.map((h) => `<th>${_esc(h)}</th>`).join("");
  const gBody = groupRows(groups).map((r) =>
    `<tr>${r.map((c, i) => `<td${i >= 3 ? ' class="n"' : ""}>${_esc(c)}</td>`).join("")}</tr>`
  ).join("\n");
  const body = tableRows(results).map((r) =>
    `<tr>${r.map((c, i) => `<td${i >= 4 ? ' class="n"' : ""}>${_esc(c)}</td>`).join("")}</tr>`
  ).join("\n");
  const sk = skipped.map((s) => `<li><code>${_esc(s.file)}</code>: ${_esc(s.reason)}</li>`)
    .join("\n");
  const rows = results.flatMap((r) =>
    r.skipped_rows.slice(0, 50).map((s) =>
      `<li>${_esc(r.task)}: <code>${_esc(s.file)}</code> row ${s.row}: ${_esc(s.reason)}</li>`
    )
  ).join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${_esc(title)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}td.n{text-align:right}</style>
</head><body><h1>${_esc(title)}</h1>
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
${
    gBody
      ? `<h2>Groups and tags</h2><table><thead><tr>${gHead}</tr></thead><tbody>\n${gBody}\n</tbody></table>`
      : ""
  }
${sk ? `<h2>Skipped tasks</h2><ul>${sk}</ul>` : ""}
${rows ? `<h2>Skipped rows</h2><ul>${rows}</ul>` : ""}
</body></html>
`;
}
