import { expect } from "chai";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { computeReport, renderHtml } from "../../ops/loadtest/report.js";
import { sampleJournal } from "../helpers/loadtest.js";
import { tempDir } from "./helpers.js";

/** Debian's chromium; CI installs the `chromium` package. */
const CHROMIUM = "/usr/bin/chromium";

type ChartFacts = {
  id: string;
  title: string;
  points: number;
  /** rect and path elements that are data marks, and how many of them have a visible box. */
  marks: number;
  visible: number;
};

/** Runs in the page: what each chart drew. */
const CHART_FACTS = `[...document.querySelectorAll("svg[data-points]")].map((svg) => {
  const marks = [...svg.querySelectorAll("rect.mark, path.mark")];
  return {
    id: svg.id,
    title: svg.querySelector("title")?.textContent ?? "",
    points: Number(svg.getAttribute("data-points")),
    marks: marks.length,
    visible: marks.filter((mark) => {
      const box = mark.getBoundingClientRect();
      return box.width > 0 && (box.height > 0 || mark.tagName === "path");
    }).length,
  };
})`;

describe("load-test report in a real browser", function () {
  this.timeout(90_000);
  let browser: Browser | undefined;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install chromium`);
      console.log(`    skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
      this.skip();
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking"],
    });
  });

  after(async () => {
    await browser?.close();
  });

  it("renders every chart with data, makes no request but the page and logs no error", async () => {
    const report = computeReport(sampleJournal("paper"));
    const file = join(tempDir("gridchain-report-"), "report.html");
    writeFileSync(file, renderHtml(report));
    const url = pathToFileURL(file).href;

    const page = await browser!.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(url, { waitUntil: "load" });

    const charts = (await page.evaluate(CHART_FACTS)) as ChartFacts[];
    expect(charts.map((chart) => [chart.id, chart.title])).to.deep.equal([
      ["chart-confirmation-histogram", "Transaction confirmation time histogram"],
      ["chart-throughput", "Throughput over time"],
      ["chart-latency", "Confirmation latency over time"],
    ]);
    for (const chart of charts) {
      expect(chart.points, chart.id).to.be.greaterThan(0);
      expect(chart.marks, chart.id).to.be.greaterThan(0);
      expect(chart.visible, chart.id).to.equal(chart.marks);
    }
    // One bar per non-empty bucket, one line per series.
    const bars = report.histogram.filter((bucket) => bucket.count > 0).length;
    expect(charts[0]!.points).to.equal(bars);
    expect(charts[0]!.marks).to.equal(bars);
    expect(charts[1]!.marks).to.equal(2);
    expect(charts[2]!.marks).to.equal(2);

    const headings = await page.locator("h2").allTextContents();
    expect(headings).to.include.members([
      "Trades per run (Table 1)",
      "Side by side with the paper (Jing, Table 1)",
    ]);
    const total = await page.locator("tr.total").first().locator("td").allTextContents();
    expect(total).to.deep.equal(["total", "", "60", "60", "0", "0", "0", "100.00 %"]);

    expect(errors).to.deep.equal([]);
    expect(requests).to.deep.equal([url]);
    await page.close();
  });
});
