/**
 * Charts of a run report, drawn by Observable Plot (npm `@observablehq/plot`) into static SVG on
 * the server: linkedom gives Plot the DOM it draws into, and the figure's markup goes into the
 * page as is, so the page needs no script and no network to show it.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";

/** One point of a line chart: `x`, `y` and the series it belongs to. */
export interface Point {
  x: number;
  y: number;
  series: string;
  /** Small multiples: points with different `facet` go to side-by-side panels. */
  facet?: string;
}

/** One bar or dot: a label, a value, an optional ± error and a color group. */
export interface Bar {
  label: string;
  value: number;
  group: string;
  error?: number;
}

/** Options shared by the charts. */
export interface ChartOptions {
  x?: string;
  y?: string;
  logY?: boolean;
  /** Also draw each series' moving average over this many points (raw lines then go faint). */
  smooth?: number;
  /** The x axis' extent (default: the data's). */
  xDomain?: [number, number];
  /** Points kept per series (evenly spaced, the last one always); default 1000. */
  maxPoints?: number;
  /** Show a color legend (default: when there are 2 to 12 series). */
  legend?: boolean;
  width?: number;
}

const { document } = parseHTML("<!doctype html><html><body></body></html>") as unknown as {
  document: unknown;
};

function _render(options: Plot.PlotOptions): string {
  const fig = Plot.plot({ ...options, document } as Plot.PlotOptions) as unknown as {
    outerHTML: string;
  };
  return fig.outerHTML;
}

function _legend(series: Set<string>, opt?: boolean): boolean {
  return opt ?? (series.size >= 2 && series.size <= 12);
}

/**
 * Lines, one per `series` (a hover title names each), with dots where a series has few points.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const svg = lineChart([{ x: 1, y: 3, series: "a" }, { x: 2, y: 2, series: "a" }], { y: "loss" });
 * if (!svg.includes("<svg")) throw new Error("no SVG");
 * ```
 */
export function lineChart(points: Point[], o: ChartOptions = {}): string {
  const finite = thin(
    points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0)),
    o.maxPoints ?? 1000,
  );
  const series = new Set(finite.map((p) => p.series));
  const faceted = finite.some((p) => p.facet !== undefined);
  const sparse = finite.length / Math.max(1, series.size) <= 12;
  return _render({
    width: o.width ?? 640,
    height: 260,
    marginLeft: 60,
    marginRight: 20,
    x: { label: o.x ?? "step", grid: true },
    y: { label: o.y, grid: true, type: o.logY ? "log" : "linear" },
    color: { legend: _legend(series, o.legend), type: "categorical", domain: [...series] },
    fx: faceted ? { label: null } : undefined,
    marks: [
      Plot.lineY(finite, {
        x: "x",
        y: "y",
        stroke: "series",
        fx: faceted ? "facet" : undefined,
        title: "series",
        strokeWidth: 1.5,
        strokeOpacity: o.smooth ? 0.3 : 1,
      }),
      ...(o.smooth
        ? [Plot.lineY(
          finite,
          Plot.windowY({ k: o.smooth, anchor: "end" }, {
            x: "x",
            y: "y",
            stroke: "series",
            title: (p: Point) => `${p.series} (mean of ${o.smooth})`,
            strokeWidth: 2,
          }),
        )]
        : []),
      ...(sparse
        ? [Plot.dot(finite, { x: "x", y: "y", fill: "series", fx: faceted ? "facet" : undefined })]
        : []),
    ],
  });
}

/** Keeps at most `max` evenly spaced points of each series (and facet), the last one included. */
export function thin(points: Point[], max: number): Point[] {
  const by = new Map<string, Point[]>();
  for (const p of points) {
    const k = `${p.series}\u0000${p.facet ?? ""}`;
    const list = by.get(k);
    if (list) list.push(p);
    else by.set(k, [p]);
  }
  const out: Point[] = [];
  for (const list of by.values()) {
    const stride = Math.ceil(list.length / max);
    list.forEach((p, i) => {
      if (i % stride === 0 || i === list.length - 1) out.push(p);
    });
  }
  return out;
}

/**
 * Horizontal bars (one row per label, grouped by color), with ± error whiskers when bars carry an
 * `error`; `dots` draws a dot instead of a bar (values that do not start at zero).
 */
export function barChart(bars: Bar[], o: ChartOptions & { dots?: boolean } = {}): string {
  const finite = bars.filter((b) => Number.isFinite(b.value));
  const groups = new Set(finite.map((b) => b.group));
  const labels = [...new Set(finite.map((b) => b.label))];
  const grouped = groups.size > 1;
  const withError = finite.filter((b) => b.error !== undefined && Number.isFinite(b.error));
  const longest = Math.max(0, ...labels.map((l) => l.length));
  const rowH = grouped ? 14 * groups.size + 8 : 22;
  return _render({
    width: o.width ?? 640,
    height: Math.max(80, labels.length * rowH + 50),
    marginLeft: Math.min(260, 12 + 6.2 * longest),
    marginRight: 30,
    x: { label: o.x, grid: true, domain: o.xDomain },
    y: grouped ? { axis: null, domain: [...groups] } : { label: null, domain: labels },
    fy: grouped ? { label: null, domain: labels, axis: "left" } : undefined,
    color: { legend: _legend(groups, o.legend), type: "categorical", domain: [...groups] },
    marks: o.dots
      ? [
        Plot.ruleY(withError, {
          y: grouped ? "group" : "label",
          fy: grouped ? "label" : undefined,
          x1: (b: Bar) => b.value - b.error!,
          x2: (b: Bar) => b.value + b.error!,
          stroke: "group",
        }),
        Plot.dot(finite, {
          y: grouped ? "group" : "label",
          fy: grouped ? "label" : undefined,
          x: "value",
          fill: "group",
          title: (b: Bar) =>
            `${b.group}: ${b.value}${b.error !== undefined ? ` ± ${b.error}` : ""}`,
          r: 4,
        }),
      ]
      : [
        Plot.barX(finite, {
          y: grouped ? "group" : "label",
          fy: grouped ? "label" : undefined,
          x: "value",
          fill: "group",
          title: (b: Bar) => `${b.group}: ${b.value}`,
        }),
        Plot.ruleX([0]),
      ],
  });
}
