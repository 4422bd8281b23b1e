import { expect } from "chai";
import fc from "fast-check";
import { CONFIRMATION_BUCKETS } from "../../ops/metrics/catalogue.js";
import type { JournalRecord } from "../../ops/loadtest/protocol.js";
import {
  computeReport,
  PAPER_TABLE_1,
  percentile,
  renderHtml,
  renderMarkdown,
} from "../../ops/loadtest/report.js";
import {
  block,
  runEnd,
  runRecord,
  sampleJournal,
  T0,
  testRecord,
  tradeEnd,
  tradeStart,
  tx,
  mixedRun,
} from "../helpers/loadtest.js";

const CLOSED = { model: "closed", inFlight: 8 } as const;

describe("load-test report: trades", () => {
  it("counts executed, denied, rejected and failed trades, and a trade without an end as interrupted", () => {
    const report = computeReport(mixedRun());
    expect(report.runs).to.have.length(1);
    expect(report.runs[0]!.trades).to.deep.equal({
      signed: 6,
      executed: 2,
      denied: 1,
      rejected: 1,
      failed: 2,
      failedByReason: { revert: 1, interrupted: 1 },
      successRate: 0.5,
    });
    expect(report.runs[0]!.ended).to.equal(false);
    expect(report.interrupted).to.deep.equal({ at: T0 + 4_000, signal: "SIGINT" });
  });

  it("gives a failure without a reason the reason other, and an end without a start a count and a warning", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tradeStart(1, 1, 0),
      tradeEnd(1, 1, 500, "failed"),
      tradeEnd(2, 1, 700, "executed"),
    ]);
    expect(report.runs[0]!.trades).to.deep.equal({
      signed: 2,
      executed: 1,
      denied: 0,
      rejected: 0,
      failed: 1,
      failedByReason: { other: 1 },
      successRate: 0.5,
    });
    expect(report.warnings).to.deep.equal(["trade 2 of run 1 ended without a start record"]);
  });

  it("counts a trade whose end names another run once, in the run that started it", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tradeStart(1, 1, 0),
      tradeEnd(1, 2, 500, "executed"),
    ]);
    expect(
      report.runs.map((run) => [run.run, run.trades.signed, run.trades.executed]),
    ).to.deep.equal([[1, 1, 1]]);
    expect(report.warnings).to.deep.equal([
      "trade 1 started in run 1 and ended in run 2; counted in run 1",
    ]);
  });

  it("keeps signed = executed + denied + rejected + failed for any journal", () => {
    const outcome = fc.constantFrom("executed", "denied", "rejected", "failed", "none");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), outcome), { maxLength: 40 }),
        (trades) => {
          const records: JournalRecord[] = [testRecord()];
          trades.forEach(([run, end], trade) => {
            records.push(tradeStart(trade, run, trade));
            if (end !== "none")
              records.push(tradeEnd(trade, run, trade + 10, end, { reason: "timeout" }));
          });
          const report = computeReport(records);
          const t = report.totals.trades;
          expect(t.signed).to.equal(trades.length);
          expect(t.executed + t.denied + t.rejected + t.failed).to.equal(t.signed);
          const missing = trades.filter(([, end]) => end === "none").length;
          expect(t.failedByReason.interrupted ?? 0).to.equal(missing);
          const perRun = report.runs.reduce((sum, run) => sum + run.trades.signed, 0);
          expect(perRun).to.equal(t.signed);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("has a null success rate and null statistics when nothing was measured, not 0", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tradeStart(1, 1, 0),
      tradeEnd(1, 1, 400, "denied", { reason: undefined }),
      runEnd(1, 1_000),
    ]);
    const run = report.runs[0]!;
    expect(run.trades.successRate).to.equal(null);
    expect(run.confirmation).to.deep.equal({
      count: 0,
      p50: null,
      p95: null,
      p99: null,
      max: null,
      mean: null,
    });
    expect(run.tradeLatency.p50).to.equal(null);
    expect(run.blocks).to.deep.equal({
      count: 0,
      gasUsed: 0,
      gasLimit: 0,
      fill: null,
      meanTransactions: null,
      meanIntervalSeconds: null,
    });
    expect(run.payments.latency).to.deep.equal({ p50: null, p99: null });
    expect(run.payments.ratioToTransactions).to.equal(null);
  });
});

describe("load-test report: transactions per trade", () => {
  it("counts the trades' own transactions per executed trade, not metering nor setup", () => {
    const trade = (n: number) => ({ trade: n });
    const report = computeReport([
      testRecord({ tradePath: "standing" }),
      runRecord(1, 0, CLOSED),
      tradeStart(1, 1, 0),
      tradeStart(2, 1, 0),
      tradeStart(3, 1, 0),
      tx(1, 1, 0, 500, "buy", trade(1)),
      tx(2, 1, 0, 500, "buy", trade(2)),
      // a buy lost and sent again under a fresh nonce: both count
      tx(3, 1, 0, null, "buy", trade(3)),
      tx(4, 1, 600, 500, "buy", trade(3)),
      tx(5, 1, 2000, 500, "meter", trade(1)),
      tx(6, 1, 2000, 500, "settle_default", trade(1)),
      tx(7, undefined, 0, 500, "mint"),
      tradeEnd(1, 1, 600, "executed"),
      tradeEnd(2, 1, 600, "executed"),
      tradeEnd(3, 1, 1200, "executed"),
      runEnd(1, 3_000),
    ]);
    expect(report.runs[0]!.transactions.perExecutedTrade).to.equal(4 / 3);
    expect(report.totals.transactions.perExecutedTrade).to.equal(4 / 3);
    expect(renderMarkdown(report)).to.contain("standing offers (a trade is one buy transaction)");
  });
});

describe("load-test report: timing", () => {
  it("percentile is nearest-rank on sorted values", () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).to.equal(5);
    expect(percentile(values, 95)).to.equal(10);
    expect(percentile(values, 90)).to.equal(9);
    expect(percentile(values, 91)).to.equal(10);
    expect(percentile([7], 99)).to.equal(7);
    expect(percentile([], 50)).to.equal(null);
  });

  it("computes confirmation seconds (minedAt - sentAt) overall and per kind, leaving lost transactions out", () => {
    // Twenty confirmations of 0.1 s .. 2.0 s: odd ones request, even ones confirm; one lost.
    const txs = Array.from({ length: 20 }, (_, i) =>
      tx(i + 1, 1, i * 50, (i + 1) * 100, i % 2 === 0 ? "request" : "confirm"),
    );
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      ...txs,
      tx(99, 1, 0, null, "publish", { resent: 3 }),
      runEnd(1, 10_000),
    ]);
    const run = report.runs[0]!;
    expect(run.transactions).to.deep.equal({
      sent: 21,
      confirmed: 20,
      reverted: 0,
      lost: 1,
      resent: 3,
      perExecutedTrade: null,
    });
    const { mean, ...ranks } = run.confirmation;
    expect(ranks).to.deep.equal({ count: 20, p50: 1.0, p95: 1.9, p99: 2.0, max: 2.0 });
    expect(Math.round(mean! * 1e9)).to.equal(1_050_000_000);
    // request: 0.1, 0.3, .. 1.9; confirm: 0.2, 0.4, .. 2.0
    expect(run.confirmationByKind.request).to.include({ count: 10, p50: 0.9, p95: 1.9, max: 1.9 });
    expect(run.confirmationByKind.confirm).to.include({ count: 10, p50: 1.0, p99: 2.0, max: 2.0 });
    expect(Object.keys(run.confirmationByKind)).to.deep.equal(["request", "confirm"]);
    expect(run.throughput.transactionsPerSecond).to.equal(2);
  });

  it("computes trade latency, duration, throughput, block fill and channel payments of a run", () => {
    const records: JournalRecord[] = [
      testRecord(),
      // A block seen before the run and one after it do not count.
      block(9, 99, -500, 7, 90_000_000n, 100_000_000n),
      runRecord(1, 0, { model: "open", tradesPerSecond: 1 }, 5),
    ];
    for (let trade = 1; trade <= 5; trade += 1) {
      records.push(tradeStart(trade, 1, trade * 1000));
      // Executed trades lasting 1..5 s, ten payments each.
      records.push(
        tradeEnd(trade, 1, trade * 1000 + trade * 1000, "executed", {
          payments: 10,
          paymentSeconds: Array.from({ length: 10 }, (_, i) => (trade * 10 + i) / 1000),
          failedPayments: trade === 5 ? 1 : 0,
        }),
      );
      records.push(tx(trade, 1, trade * 1000, 500), tx(10 + trade, 1, trade * 1000 + 200, 700));
    }
    records.push(
      block(10, 100, 1_000, 4, 30_000_000n, 100_000_000n),
      block(11, 101, 2_000, 2, 15_000_000n, 100_000_000n),
      block(12, 103, 4_000, 3, 15_000_000n, 100_000_000n),
      runEnd(1, 5_000 * 2),
      block(13, 110, 10_001, 9, 99_000_000n, 100_000_000n),
    );
    const run = computeReport(records).runs[0]!;
    expect(run.durationSeconds).to.equal(10);
    expect(run.ended).to.equal(true);
    expect(run.offered).to.deep.equal({ model: "open", tradesPerSecond: 1 });
    expect(run.plannedTrades).to.equal(5);
    expect(run.tradeLatency).to.deep.equal({ count: 5, p50: 3, p95: 5, p99: 5, max: 5, mean: 3 });
    expect(run.throughput).to.deep.equal({ tradesPerSecond: 0.5, transactionsPerSecond: 1 });
    expect(run.blocks).to.deep.equal({
      count: 3,
      gasUsed: 60_000_000,
      gasLimit: 300_000_000,
      fill: 0.2,
      meanTransactions: 3,
      meanIntervalSeconds: 1.5,
    });
    expect(run.payments).to.deep.equal({
      count: 50,
      failed: 1,
      perSecond: 5,
      ratioToTransactions: 5,
      // 50 values 0.010 .. 0.059: rank 25 and rank 50.
      latency: { p50: 0.034, p99: 0.059 },
    });
  });

  it("ends a run without an end record at its last event", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 1_000, CLOSED),
      tradeStart(1, 1, 1_000),
      tx(1, 1, 1_500, 2_500),
      tradeEnd(1, 1, 3_500, "executed"),
      tradeStart(2, 1, 3_000),
    ]);
    const run = report.runs[0]!;
    expect(run.ended).to.equal(false);
    expect(run.startedAt).to.equal(T0 + 1_000);
    expect(run.endedAt).to.equal(T0 + 4_000);
    expect(run.durationSeconds).to.equal(3);
  });

  it("sums totals across runs and pools their measurements", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tradeStart(1, 1, 0),
      tradeEnd(1, 1, 1_000, "executed"),
      tx(1, 1, 0, 1_000),
      runEnd(1, 2_000),
      runRecord(2, 10_000, CLOSED),
      tradeStart(2, 2, 10_000),
      tradeEnd(2, 2, 13_000, "failed", { reason: "timeout" }),
      tx(2, 2, 10_000, 3_000),
      tx(3, undefined, 10_000, 100, "channel_open"),
      runEnd(2, 12_000),
    ]);
    expect(report.totals.durationSeconds).to.equal(4);
    expect(report.totals.trades).to.deep.equal({
      signed: 2,
      executed: 1,
      denied: 0,
      rejected: 0,
      failed: 1,
      failedByReason: { timeout: 1 },
      successRate: 0.5,
    });
    expect(report.totals.confirmation).to.deep.equal({
      count: 2,
      p50: 1,
      p95: 3,
      p99: 3,
      max: 3,
      mean: 2,
    });
    expect(report.totals.throughput).to.deep.equal({
      tradesPerSecond: 0.25,
      transactionsPerSecond: 0.5,
    });
    expect(report.transactionsOutsideRuns).to.equal(1);
  });

  it("attributes a transaction without a run to its trade's run", () => {
    const report = computeReport([
      testRecord(),
      runRecord(2, 0, CLOSED),
      tradeStart(7, 2, 0),
      tx(1, undefined, 0, 400, "request", { trade: 7 }),
    ]);
    expect(report.runs[0]!.run).to.equal(2);
    expect(report.runs[0]!.transactions.confirmed).to.equal(1);
    expect(report.transactionsOutsideRuns).to.equal(0);
  });

  it("charts each second: confirmed transactions, executed trades and the latency of what was mined", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tx(1, 1, 0, 200), // mined at 0.2 s, confirmed in 0.2 s
      tx(2, 1, 100, 800), // 0.9 s, confirmed in 0.8 s
      tx(3, 1, 0, 900), // 0.9 s, confirmed in 0.9 s
      tx(4, 1, 1_000, 1_500), // mined at 2.5 s, confirmed in 1.5 s
      tradeStart(1, 1, 0),
      tradeEnd(1, 1, 2_700, "executed"),
      tradeStart(2, 1, 0),
      tradeEnd(2, 1, 2_900, "denied"),
      runEnd(1, 3_200),
    ]);
    expect(report.series.startedAt).to.equal(T0);
    expect(report.series.points).to.deep.equal([
      { second: 0, transactions: 3, trades: 0, p50: 0.8, p99: 0.9 },
      { second: 1, transactions: 0, trades: 0, p50: null, p99: null },
      { second: 2, transactions: 1, trades: 1, p50: 1.5, p99: 1.5 },
      { second: 3, transactions: 0, trades: 0, p50: null, p99: null },
    ]);
  });

  it("bins the series by block period: a 2 s chain's throughput does not zig-zag to zero", () => {
    const report = computeReport([
      testRecord({ blockPeriodSeconds: 2 }),
      runRecord(1, 0, CLOSED),
      tx(1, 1, 0, 100), // every block (0, 2, 4 s) confirms two transactions
      tx(2, 1, 0, 100),
      tx(3, 1, 1_000, 1_100),
      tx(4, 1, 1_000, 1_100),
      tx(5, 1, 3_000, 1_100),
      tx(6, 1, 3_000, 1_100),
      runEnd(1, 5_000),
    ]);
    expect(report.series.binSeconds).to.equal(2);
    expect(report.series.points.map((p) => [p.second, p.transactions])).to.deep.equal([
      [0, 2],
      [2, 2],
      [4, 2],
    ]);
    const html = renderHtml(report);
    const chart = html.slice(html.indexOf('id="chart-throughput"'));
    expect(chart).to.contain("confirmed tx/s at 2 s: 1<");
    expect(chart).to.not.contain("confirmed tx/s at 2 s: 0<");
  });

  it("counts confirmation times in the catalogue's buckets, a value on a bound in that bucket", () => {
    const report = computeReport([
      testRecord(),
      runRecord(1, 0, CLOSED),
      tx(1, 1, 0, 50), // 0.05: first bucket
      tx(2, 1, 0, 51), // 0.051: second
      tx(3, 1, 0, 1_000), // 1
      tx(4, 1, 0, 12_000), // 12
      tx(5, 1, 0, 121_000), // above 120
    ]);
    expect(report.histogram.map((b) => b.le)).to.deep.equal([...CONFIRMATION_BUCKETS, null]);
    const counts = Object.fromEntries(report.histogram.map((b) => [String(b.le), b.count]));
    expect(counts).to.deep.include({ "0.05": 1, "0.1": 1, "1": 1, "12": 1, null: 1, "0.5": 0 });
    expect(report.histogram.reduce((sum, b) => sum + b.count, 0)).to.equal(5);
  });
});

describe("load-test report: paper and stress", () => {
  it("shows the grid's income of the test: read from the chain before the first run and after metering", () => {
    const journal: JournalRecord[] = [
      ...sampleJournal(),
      { t: "grid-income", phase: "before", at: T0, credits: "100" },
      { t: "grid-income", phase: "after", at: T0 + 60_000, credits: "350100" },
    ];
    const report = computeReport(journal);
    expect(report.gridIncome).to.deep.equal({ before: "100", after: "350100", earned: "350000" });
    const line =
      "Grid income (tariffs and capacity fees kept, read from the chain): 0.35 GridCredit earned during the test (0.0001 held before the first run, 0.3501 after metering).";
    expect(renderMarkdown(report)).to.include(line);
    expect(renderHtml(report)).to.include(line);
    expect(JSON.parse(JSON.stringify(report)).gridIncome.earned).to.equal("350000");
    const without = computeReport(sampleJournal());
    expect(without.gridIncome).to.equal(null);
    expect(renderMarkdown(without)).not.to.include("Grid income");
  });

  it("includes the paper's Table 1 when the paper preset ran, and not otherwise", () => {
    expect(computeReport(sampleJournal()).paper).to.equal(null);
    const report = computeReport(sampleJournal("paper"));
    expect(report.paper).to.deep.equal({
      runs: [1128, 1836, 952, 583, 98],
      signed: 4597,
      executed: 4571,
      failed: 26,
      successRate: 4571 / 4597,
      averageConfirmationSeconds: 12,
    });
    const markdown = renderMarkdown(report);
    expect(markdown).to.include(
      "| trades signed per run | 1128 / 1836 / 952 / 583 / 98 | 30 / 30 |",
    );
    expect(markdown).to.include("| success rate | 99.43 % | 100.00 % |");
    expect(markdown).to.include("| mean confirmation (s) | ~12 | 1.036 |");
    expect(renderMarkdown(computeReport(sampleJournal()))).not.to.include("paper");
    expect(PAPER_TABLE_1.executed + PAPER_TABLE_1.failed).to.equal(PAPER_TABLE_1.signed);
  });

  /** An open-loop run at `rate` with `failed` of 1000 trades failed and the given p99 (ms). */
  function stressRun(run: number, rate: number, failed: number, p99Ms: number): JournalRecord[] {
    const start = run * 100_000;
    const records: JournalRecord[] = [
      runRecord(run, start, { model: "open", tradesPerSecond: rate }),
    ];
    for (let i = 0; i < 1000; i += 1) {
      const trade = run * 10_000 + i;
      records.push(tradeStart(trade, run, start + i));
      records.push(
        tradeEnd(trade, run, start + i + 1, i < failed ? "failed" : "executed", {
          reason: "timeout",
        }),
      );
    }
    // 100 transactions: 98 at 0.5 s, two at p99Ms.
    for (let i = 0; i < 100; i += 1) {
      records.push(tx(run * 1000 + i, run, start + i, i < 98 ? 500 : p99Ms));
    }
    records.push(runEnd(run, start + 50_000));
    return records;
  }

  it("picks the knee: the highest offered rate with success >= 99.9 % and p99 <= 2 block periods", () => {
    const report = computeReport([
      testRecord({
        preset: "stress",
        blockPeriodSeconds: 1,
        stress: { successFloor: 0.999, p99BlockPeriods: 2 },
      }),
      ...stressRun(1, 50, 0, 900),
      ...stressRun(2, 100, 1, 2_000), // 99.9 % and p99 exactly 2 s: inside the bound
      ...stressRun(3, 150, 2, 1_000), // 99.8 %
      ...stressRun(4, 200, 0, 2_001), // p99 2.001 s
    ]);
    expect(report.kneeBound).to.deep.equal({ successRate: 0.999, p99Seconds: 2 });
    expect(report.knee).to.deep.equal({
      run: 2,
      tradesPerSecond: 100,
      successRate: 0.999,
      p99Seconds: 2,
    });
    const markdown = renderMarkdown(report);
    expect(markdown).to.include("Knee: 100 trades/s offered (run 2)");
    expect(markdown).to.include("| 3 | 150 | 19.96 | 99.80 % | 1.000 | no |");
  });

  it("has no knee when no open-loop run stays inside the bound, and no stress section for closed loops", () => {
    const none = computeReport([
      testRecord({ blockPeriodSeconds: 2, stress: { successFloor: 0.999, p99BlockPeriods: 2 } }),
      ...stressRun(1, 50, 5, 500),
      ...stressRun(2, 80, 0, 4_500),
    ]);
    expect(none.knee).to.equal(null);
    expect(none.kneeBound).to.deep.equal({ successRate: 0.999, p99Seconds: 4 });
    expect(renderMarkdown(none)).to.include("No open-loop run kept success >= 99.90 %");
    const closed = computeReport(mixedRun());
    expect(closed.knee).to.equal(null);
    expect(closed.kneeBound).to.equal(null);
    expect(renderMarkdown(closed)).not.to.include("knee");
    // Open-loop runs of a test that is not a stress test look for no knee either.
    const open = computeReport([
      testRecord({ blockPeriodSeconds: 1 }),
      ...stressRun(1, 50, 0, 900),
    ]);
    expect(open.knee).to.equal(null);
    expect(open.kneeBound).to.equal(null);
    expect(renderMarkdown(open)).not.to.include("knee");
  });
});
