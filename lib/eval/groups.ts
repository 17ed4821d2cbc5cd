/**
 * Group and tag averages of a suite, as lm-eval aggregates groups: each metric of a group file's
 * `aggregate_metric_list` averaged over its members (tasks, tags or other groups), weighted by
 * their sample counts unless `weight_by_size: false`, with the pooled standard error for weighted
 * means. Every tag also gets the size-weighted average of each metric all its tasks report.
 *
 * @module
 */

import type { MetricValue, TaskResult } from "./runner.ts";
import type { GroupConfig } from "./task_file.ts";
import { METRICS } from "./metric_registry.ts";

/** One aggregated line. */
export interface GroupResult {
  name: string;
  kind: "group" | "tag";
  /** Metric key (`metric` or `metric,filter`). */
  metric: string;
  value: number;
  stderr: number;
  /** Member tasks (leaves) it averages. */
  tasks: string[];
  n: number;
}

/** lm-eval's pooled_sample_stderr: the stderr of size-weighted means of subtasks. */
export function pooledStderr(stderrs: number[], sizes: number[]): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  const v = sizes.reduce((a, n, i) => a + (n - 1) * stderrs[i] ** 2 * n, 0) /
    (total - sizes.length);
  return Math.sqrt(v / total);
}

interface _Node {
  /** The metric key found in the member tasks (`exact,strip`). */
  key: string;
  value: number;
  stderr: number;
  n: number;
  tasks: string[];
}

function _metricOf(
  r: TaskResult,
  metric: string,
  filters?: string[],
): [string, MetricValue] | undefined {
  for (const f of filters ?? ["none", ...Object.keys(r.metrics).map((k) => k.split(",")[1])]) {
    if (f === undefined) continue;
    const k = `${metric},${f}`;
    if (r.metrics[k]) return [k, r.metrics[k]];
    if (f === "none" && r.metrics[metric]) return [metric, r.metrics[metric]];
  }
  return undefined;
}

/** Averages `nodes` (lm-eval's aggregate_subtask_metrics plus the pooled stderr). */
function _average(nodes: _Node[], weightBySize: boolean): _Node {
  const sizes = nodes.map((x) => (weightBySize ? x.n : 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const value = nodes.reduce((a, x, i) => a + x.value * sizes[i], 0) / total;
  const stderr = weightBySize && nodes.every((x) => Number.isFinite(x.stderr))
    ? pooledStderr(nodes.map((x) => x.stderr), nodes.map((x) => x.n))
    : NaN;
  return {
    key: [...new Set(nodes.map((x) => x.key))].join(" | "),
    value,
    stderr,
    n: nodes.reduce((a, x) => a + x.n, 0),
    tasks: nodes.flatMap((x) => x.tasks),
  };
}

/**
 * Computes group lines (from group files) and tag lines (from the tasks' tags). Groups whose
 * members did not all run are left out and named in `missing`.
 */
export function aggregateGroups(
  results: TaskResult[],
  tags: Map<string, string[]>,
  groups: GroupConfig[],
): { lines: GroupResult[]; missing: string[] } {
  const byTask = new Map(results.map((r) => [r.task, r]));
  const byGroup = new Map(groups.map((g) => [g.group, g]));
  const lines: GroupResult[] = [];
  const missing: string[] = [];
  const resolve = (
    name: string,
    metric: string,
    filters: string[] | undefined,
    weightBySize: boolean,
    seen: Set<string>,
  ): _Node | string => {
    const r = byTask.get(name);
    if (r) {
      const m = _metricOf(r, metric, filters);
      return m
        ? { key: m[0], value: m[1].value, stderr: m[1].stderr, n: r.n, tasks: [r.task] }
        : `task ${name} has no ${metric}`;
    }
    if (seen.has(name)) return `group ${name} contains itself`;
    const g = byGroup.get(name);
    const members = g ? g.task : tags.get(name);
    if (!members) return `no task, group or tag "${name}" ran`;
    const nodes: _Node[] = [];
    for (const m of members) {
      const x = resolve(m, metric, filters, weightBySize, new Set([...seen, name]));
      if (typeof x === "string") return x;
      nodes.push(x);
    }
    return _average(nodes, weightBySize);
  };
  for (const g of groups) {
    for (const a of g.aggregate_metric_list) {
      const x = resolve(g.group, a.metric, a.filter_list, a.weight_by_size, new Set());
      if (typeof x === "string") {
        missing.push(`${g.file}: group ${g.group} ${a.metric}: ${x}`);
        continue;
      }
      const { key, ...rest } = x;
      lines.push({ name: g.alias ?? g.group, kind: "group", metric: key, ...rest });
    }
  }
  for (const [tag, members] of [...tags].sort()) {
    const rs = members.map((t) => byTask.get(t)!).filter(Boolean);
    if (rs.length < 2) continue;
    const keys = Object.keys(rs[0].metrics).filter((k) =>
      METRICS[k.split(",")[0]]?.aggregation === "mean" && rs.every((r) => r.metrics[k])
    );
    for (const k of keys) {
      const x = _average(
        rs.map((r) => ({
          key: k,
          value: r.metrics[k].value,
          stderr: r.metrics[k].stderr,
          n: r.n,
          tasks: [r.task],
        })),
        true,
      );
      const { key: _key, ...rest } = x;
      lines.push({ name: tag, kind: "tag", metric: k, ...rest });
    }
  }
  return { lines, missing };
}
