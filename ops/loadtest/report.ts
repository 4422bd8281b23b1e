/**
 * The load-test report: computed from the journal (analysis.ts), rendered as Markdown (here), HTML
 * (html.ts) from the sections tables.ts lays out, and written all at once. The renderers only
 * read the computed report; `writeReport` is the only writer.
 */
import { join } from "node:path";
import { writeFilesAtomic } from "../fs.js";
import type { LoadReport } from "./report-model.js";
import { renderHtml } from "./html.js";
import { reportSections, type Section } from "./tables.js";

export * from "./analysis.js";
export { readJournal, parseJournal } from "./journal.js";
export { renderHtml } from "./html.js";

/** Renders the report as Markdown: a Table-1 style table per run and totals, then the details. */
export function renderMarkdown(report: LoadReport): string {
  const out: string[] = [];
  for (const section of reportSections(report)) {
    out.push(`${"#".repeat(section.level)} ${section.title}`, "");
    for (const paragraph of section.text ?? []) out.push(paragraph, "");
    if (section.table !== undefined) out.push(...markdownTable(section.table), "");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** Writes report.json, report.md and report.html under `dir`, all or none. */
export async function writeReport(
  dir: string,
  report: LoadReport,
): Promise<{ json: string; markdown: string; html: string }> {
  const files = new Map([
    ["report.json", { content: `${JSON.stringify(report, null, 2)}\n`, mode: 0o644 }],
    ["report.md", { content: renderMarkdown(report), mode: 0o644 }],
    ["report.html", { content: renderHtml(report), mode: 0o644 }],
  ]);
  await writeFilesAtomic(dir, files);
  return {
    json: join(dir, "report.json"),
    markdown: join(dir, "report.md"),
    html: join(dir, "report.html"),
  };
}

function markdownTable(table: NonNullable<Section["table"]>): string[] {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  return [
    `| ${table.headers.map(cell).join(" | ")} |`,
    `|${table.headers.map((_, i) => (table.numeric?.[i] ? "---:" : "---")).join("|")}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
}
