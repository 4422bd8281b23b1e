import { expect } from "chai";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  computeReport,
  readJournal,
  renderHtml,
  renderMarkdown,
  writeReport,
} from "../../ops/loadtest/report.js";
import {
  block,
  expectOperatorError,
  mixedRun,
  sampleJournal,
  T0,
  testRecord,
  tx,
} from "../helpers/loadtest.js";
import type { JournalRecord } from "../../ops/loadtest/protocol.js";
import { tempDir } from "./helpers.js";

describe("load-test report: journal file and outputs", () => {
  function writeJournal(lines: string[], trailer = "\n"): string {
    const path = join(tempDir("gridchain-report-"), "journal.jsonl");
    writeFileSync(path, lines.join("\n") + trailer);
    return path;
  }

  it("reads a journal and ignores a last line torn by a crash", async () => {
    const records = mixedRun();
    const lines = records.map((record) => JSON.stringify(record));
    const path = writeJournal([...lines, '{"t":"tx","kind":"requ'], "");
    expect(await readJournal(path)).to.deep.equal(records);
  });

  it("reads the grid's income records and refuses one without its reading", async () => {
    const records: JournalRecord[] = [
      ...mixedRun(),
      { t: "grid-income", phase: "before", at: T0, credits: "0" },
      { t: "grid-income", phase: "after", at: T0 + 1000, credits: "20000" },
    ];
    const path = writeJournal(records.map((record) => JSON.stringify(record)));
    const read = await readJournal(path);
    expect(read).to.deep.equal(records);
    expect(computeReport(read).gridIncome?.earned).to.equal("20000");
    const bad = writeJournal(['{"t":"grid-income","phase":"after","at":1}']);
    await expectOperatorError(
      () => readJournal(bad),
      `${bad}: line 1: grid-income record: credits: missing: required, text`,
    );
  });

  it("rejects a bad line in the middle, naming the file and the line", async () => {
    const lines = mixedRun().map((record) => JSON.stringify(record));
    lines.splice(2, 0, '{"t":"trade","trade":');
    const path = writeJournal(lines);
    await expectOperatorError(
      () => readJournal(path),
      `${path}: line 3: not valid JSON (Unexpected end of JSON input)`,
    );
  });

  it("rejects a record of an unknown type or with a bad field, naming line and field", async () => {
    const good = JSON.stringify(testRecord());
    const unknown = writeJournal([good, '{"t":"trades","at":1}', good]);
    await expectOperatorError(
      () => readJournal(unknown),
      `${unknown}: line 2: t: unknown record type "trades"; allowed: test, setup, offers, payments, hub-end, run, trade, tx, end, block, run-end, metered, metering-skipped, grid-income, worker-lost, interrupted, done`,
    );
    const badKind = writeJournal([
      good,
      JSON.stringify({ ...tx(1, 1, 0, 10), kind: "teleport" }),
      good,
    ]);
    await expectOperatorError(
      () => readJournal(badKind),
      `${badKind}: line 2: tx record: kind: must be one of "publish", "request", "confirm", "buy", "reject", "cancel", "review", "meter", "settle_default", "mint", "approve", "bond_deposit", "channel_open", "channel_deposit", "channel_close", "channel_settle", "channel_approve", "transfer", got "teleport"`,
    );
    const badGas = writeJournal([
      good,
      JSON.stringify({ ...block(1, 1, 0, 1, 1n, 2n), gasUsed: 5 }),
    ]);
    await expectOperatorError(
      () => readJournal(badGas),
      `${badGas}: line 2: block record: gasUsed: must be text, got 5`,
    );
  });

  it("names a journal it cannot read", async () => {
    const path = join(tempDir("gridchain-report-"), "missing.jsonl");
    await expectOperatorError(() => readJournal(path), `${path}: cannot read the journal`);
  });

  it("renders a Table-1 style Markdown table per run with totals and the host line", () => {
    const markdown = renderMarkdown(computeReport(mixedRun()));
    const lines = markdown.split("\n");
    const header = lines.indexOf(
      "| run | offered load | signed | executed | denied | rejected | failed | success rate |",
    );
    expect(header).to.be.greaterThan(0);
    expect(lines.slice(header + 1, header + 4)).to.deep.equal([
      "|---|---|---:|---:|---:|---:|---:|---:|",
      "| 1 (cut short) | 6 trades, 8 in flight | 6 | 2 | 1 | 1 | 2 | 50.00 % |",
      "| total |  | 6 | 2 | 1 | 1 | 2 | 50.00 % |",
    ]);
    expect(lines).to.include("Host: 2 CPUs (Test CPU), 8 GiB memory, Node v22.0.0.");
    expect(lines).to.include("| revert | 1 | 1 |");
    expect(lines).to.include("| interrupted | 1 | 1 |");
  });

  it("writes report.json, report.md and report.html, and the JSON holds no bigint", async () => {
    const dir = tempDir("gridchain-report-");
    const report = computeReport(sampleJournal("paper"));
    const paths = await writeReport(dir, report);
    expect(readdirSync(dir).sort()).to.deep.equal(["report.html", "report.json", "report.md"]);
    expect(paths.json).to.equal(join(dir, "report.json"));
    expect(JSON.parse(readFileSync(paths.json, "utf8"))).to.deep.equal(
      JSON.parse(JSON.stringify(report)),
    );
    expect(readFileSync(paths.markdown, "utf8")).to.equal(renderMarkdown(report));
    expect(readFileSync(paths.html, "utf8")).to.equal(renderHtml(report));
  });

  it("renders HTML with every chart's data-points and no external reference", () => {
    const html = renderHtml(computeReport(sampleJournal()));
    const points = [...html.matchAll(/<svg id="([^"]+)"[^>]* data-points="(\d+)"/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    // Histogram bars of the non-empty buckets; 39 seconds with 2 values each (tx/s, trades/s);
    // latency p50 and p99 in each second something was mined.
    const report = computeReport(sampleJournal());
    const mined = report.series.points.filter((p) => p.p50 !== null).length;
    expect(points).to.deep.equal([
      ["chart-confirmation-histogram", report.histogram.filter((b) => b.count > 0).length],
      ["chart-throughput", 2 * report.series.points.length],
      ["chart-latency", 2 * mined],
    ]);
    expect(html).not.to.match(/\b(src|href)=/);
    expect(html).not.to.match(/https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
  });

  it("escapes journal text in the HTML", () => {
    const records = mixedRun();
    records[0] = testRecord({ scenario: "<script>alert(1)</script>" });
    const html = renderHtml(computeReport(records));
    expect(html).not.to.include("<script>");
    expect(html).to.include("&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});
