/**
 * The report as one self-contained HTML page: inline CSS, charts drawn here as inline SVG, no
 * script and no external resource, so it opens offline and from an archive. Each chart is an
 * <svg role="img"> with a <title>, and says in data-points how many data points it drew.
 */
import type { LoadReport } from "./report-model.js";
import { reportSections, seconds, type Section } from "./tables.js";

const WIDTH = 760;
const HEIGHT = 280;
const MARGIN = { left: 60, right: 16, top: 16, bottom: 48 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Past this many points a line is drawn without a marker per point. */
const MARKER_LIMIT = 120;

const COLORS = { tx: "#1f6fb2", trades: "#d9822b", p50: "#2e8540", p99: "#c0392b", bar: "#1f6fb2" };

export function renderHtml(report: LoadReport): string {
  const sections = reportSections(report);
  const [head, table1, ...rest] = sections;
  const body = [
    head === undefined ? "" : renderSection(head),
    table1 === undefined ? "" : renderSection(table1),
    `<h2>Charts</h2>`,
    histogramChart(report),
    throughputChart(report),
    latencyChart(report),
    ...rest.map(renderSection),
  ].join("\n");
  const title = escape(head?.title ?? "Load test report");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f23; margin: 2rem auto; max-width: 960px; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e1e4e8; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; }
figure { margin: 1rem 0 2rem; }
figcaption { font-size: 0.9rem; color: #57606a; }
svg text { font: 11px system-ui, sans-serif; fill: #57606a; }
svg .axis { stroke: #8c959f; } svg .grid { stroke: #eaeef2; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; margin: 0 0.3rem 0 1rem; vertical-align: -0.1rem; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

// ---- tables

function renderSection(section: Section): string {
  const out = [`<h${section.level}>${escape(section.title)}</h${section.level}>`];
  for (const paragraph of section.text ?? []) out.push(`<p>${escape(paragraph)}</p>`);
  const table = section.table;
  if (table !== undefined) {
    const cls = (i: number) => (table.numeric?.[i] ? ' class="num"' : "");
    out.push(
      "<table>",
      `<thead><tr>${table.headers.map((h, i) => `<th${cls(i)}>${escape(h)}</th>`).join("")}</tr></thead>`,
      "<tbody>",
      ...table.rows.map(
        (row) =>
          `<tr${row[0] === "total" ? ' class="total"' : ""}>${row.map((c, i) => `<td${cls(i)}>${escape(c)}</td>`).join("")}</tr>`,
      ),
      "</tbody>",
      "</table>",
    );
  }
  return out.join("\n");
}

// ---- charts

type Series = { name: string; color: string; values: (number | null)[] };

function histogramChart(report: LoadReport): string {
  const buckets = report.histogram;
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  const labels = buckets.map((b, i) =>
    b.le === null ? `>${buckets[i - 1]?.le ?? 0}` : `≤${b.le}`,
  );
  const yMax = niceCeiling(Math.max(0, ...buckets.map((b) => b.count)));
  const slot = PLOT_W / buckets.length;
  const bars = buckets.flatMap((bucket, i) => {
    if (bucket.count === 0) return [];
    const h = (bucket.count / yMax) * PLOT_H;
    const x = MARGIN.left + i * slot + slot * 0.1;
    const y = MARGIN.top + PLOT_H - h;
    return [
      `<rect class="mark" x="${fixed(x)}" y="${fixed(y)}" width="${fixed(slot * 0.8)}" height="${fixed(h)}" fill="${COLORS.bar}"><title>${escape(`${labels[i]} s: ${bucket.count}`)}</title></rect>`,
    ];
  });
  const xLabels = labels.map(
    (text, i) =>
      `<text x="${fixed(MARGIN.left + (i + 0.5) * slot)}" y="${MARGIN.top + PLOT_H + 14}" text-anchor="middle">${escape(text)}</text>`,
  );
  return figure({
    id: "chart-confirmation-histogram",
    title: "Transaction confirmation time histogram",
    description: `${total} confirmed transactions by confirmation time (seconds, bucket upper bounds).`,
    points: bars.length,
    xTitle: "confirmation time (s)",
    yTitle: "transactions",
    yMax,
    content: [...xLabels, ...bars],
    legend: [],
    empty: total === 0,
  });
}

function throughputChart(report: LoadReport): string {
  const { points, binSeconds } = report.series;
  return lineChart({
    id: "chart-throughput",
    title: "Throughput over time",
    description: `Confirmed transactions and executed trades per second, averaged over each block period (${binSeconds} s) of the test.`,
    yTitle: "per second",
    xStep: binSeconds,
    series: [
      {
        name: "confirmed tx/s",
        color: COLORS.tx,
        values: points.map((p) => p.transactions / binSeconds),
      },
      {
        name: "executed trades/s",
        color: COLORS.trades,
        values: points.map((p) => p.trades / binSeconds),
      },
    ],
  });
}

function latencyChart(report: LoadReport): string {
  const { points, binSeconds } = report.series;
  return lineChart({
    id: "chart-latency",
    title: "Confirmation latency over time",
    description: `p50 and p99 confirmation seconds of the transactions mined in each block period (${binSeconds} s) of the test.`,
    yTitle: "seconds",
    xStep: binSeconds,
    series: [
      { name: "p50", color: COLORS.p50, values: points.map((p) => p.p50) },
      { name: "p99", color: COLORS.p99, values: points.map((p) => p.p99) },
    ],
  });
}

function lineChart(input: {
  id: string;
  title: string;
  description: string;
  yTitle: string;
  /** Seconds between two points. */
  xStep: number;
  series: Series[];
}): string {
  const length = Math.max(0, ...input.series.map((s) => s.values.length));
  const all = input.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceCeiling(all.reduce((max, v) => Math.max(max, v), 0));
  const xOf = (i: number) => MARGIN.left + (length <= 1 ? PLOT_W / 2 : (i / (length - 1)) * PLOT_W);
  const yOf = (v: number) => MARGIN.top + PLOT_H - (v / yMax) * PLOT_H;
  const marks: string[] = [];
  for (const series of input.series) {
    let d = "";
    let pen = false;
    series.values.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${fixed(xOf(i))} ${fixed(yOf(value))}`;
      pen = true;
    });
    if (d !== "") {
      marks.push(
        `<path class="mark" d="${d}" fill="none" stroke="${series.color}" stroke-width="1.6" stroke-linejoin="round"><title>${escape(series.name)}</title></path>`,
      );
    }
    if (length <= MARKER_LIMIT) {
      series.values.forEach((value, i) => {
        if (value === null) return;
        marks.push(
          `<circle class="mark" cx="${fixed(xOf(i))}" cy="${fixed(yOf(value))}" r="2.5" fill="${series.color}"><title>${escape(`${series.name} at ${i * input.xStep} s: ${format(value)}`)}</title></circle>`,
        );
      });
    }
  }
  const ticks = xTicks(length).map(
    (i) =>
      `<text x="${fixed(xOf(i))}" y="${MARGIN.top + PLOT_H + 14}" text-anchor="middle">${i * input.xStep}</text>`,
  );
  return figure({
    id: input.id,
    title: input.title,
    description: input.description,
    points: all.length,
    xTitle: "seconds since the first run started",
    yTitle: input.yTitle,
    yMax,
    content: [...ticks, ...marks],
    legend: input.series.map((s) => ({ name: s.name, color: s.color })),
    empty: all.length === 0,
  });
}

function figure(input: {
  id: string;
  title: string;
  description: string;
  points: number;
  xTitle: string;
  yTitle: string;
  yMax: number;
  content: string[];
  legend: { name: string; color: string }[];
  empty: boolean;
}): string {
  const bottom = MARGIN.top + PLOT_H;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = fixed(bottom - f * PLOT_H);
    return (
      `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y}" y2="${y}"/>` +
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${format(f * input.yMax)}</text>`
    );
  });
  const svg = [
    `<svg id="${input.id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-labelledby="${input.id}-title ${input.id}-desc" data-points="${input.points}">`,
    `<title id="${input.id}-title">${escape(input.title)}</title>`,
    `<desc id="${input.id}-desc">${escape(input.description)}</desc>`,
    ...grid,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${bottom}" y2="${bottom}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}"/>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escape(input.xTitle)}</text>`,
    `<text transform="translate(14 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escape(input.yTitle)}</text>`,
    ...(input.empty
      ? [
          `<text x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle">no data</text>`,
        ]
      : input.content),
    "</svg>",
  ].join("\n");
  const legend = input.legend
    .map((l) => `<span class="swatch" style="background:${l.color}"></span>${escape(l.name)}`)
    .join("");
  return `<figure>\n${svg}\n<figcaption><strong>${escape(input.title)}</strong>${legend}</figcaption>\n</figure>`;
}

/** The smallest of 1, 2, 2.5, 5 times a power of ten that is >= max (1 when max is 0). */
function niceCeiling(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= max) return m * power;
  return 10 * power;
}

/** About eight evenly spaced whole seconds along the x axis. */
function xTicks(length: number): number[] {
  if (length === 0) return [];
  const step = Math.max(1, Math.ceil((length - 1) / 8));
  const ticks: number[] = [];
  for (let i = 0; i < length; i += step) ticks.push(i);
  return ticks;
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : seconds(value).replace(/\.?0+$/, "");
}

function fixed(value: number): string {
  return value.toFixed(1);
}

function escape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}
