/**
 * The report's text as a list of sections (heading, paragraphs, one table), shared by the Markdown
 * and the HTML renderings so both always show the same figures.
 */
import { formatUnits } from "ethers";
import { FAILURE_REASONS } from "../metrics/catalogue.js";
import { paymentSections, setupLine } from "./payments-tables.js";
import type { LoadReport, Offered, RunReport, Section, Stats, Summary } from "./report-model.js";

export type { Section, Table } from "./report-model.js";

const NONE = "—";

export function seconds(value: number | null): string {
  return value === null ? NONE : value.toFixed(3);
}

export function percent(value: number | null): string {
  return value === null ? NONE : `${(value * 100).toFixed(2)} %`;
}

export function perSecond(value: number | null): string {
  return value === null ? NONE : value.toFixed(2);
}

function times(value: number | null): string {
  return value === null ? NONE : `${value.toFixed(1)}x`;
}

function offered(run: RunReport): string {
  const parts: string[] = [];
  if (run.plannedTrades !== null) parts.push(`${run.plannedTrades} trades`);
  if (run.plannedSeconds !== null) parts.push(`${run.plannedSeconds} s`);
  const load: Offered | null = run.offered;
  if (load?.model === "open") parts.push(`${load.tradesPerSecond} trades/s`);
  if (load?.model === "closed") parts.push(`${load.inFlight} in flight`);
  return parts.length === 0 ? NONE : parts.join(", ");
}

function label(run: RunReport): string {
  return run.ended ? String(run.run) : `${run.run} (cut short)`;
}

/** Rows of every run, then a "total" row from the report's totals. */
function perRun(
  report: LoadReport,
  row: (summary: Summary, run?: RunReport) => string[],
): string[][] {
  return [
    ...report.runs.map((run) => [label(run), ...row(run, run)]),
    ["total", ...row(report.totals)],
  ];
}

function statCells(s: Stats): string[] {
  return [seconds(s.p50), seconds(s.p95), seconds(s.p99), seconds(s.max), seconds(s.mean)];
}

function describeTest(report: LoadReport): string[] {
  const test = report.test;
  if (test === null) return ["The journal has no test record: host and scenario are unknown."];
  const gridchain =
    test.gridchain === undefined
      ? "gridchain (version not recorded)"
      : `gridchain ${test.gridchain.version}${test.gridchain.commit === undefined ? "" : ` (commit ${test.gridchain.commit})`}`;
  const lines = [
    `Run on ${new Date(test.at).toISOString()} against network ${test.network ?? "(not recorded)"} by ${gridchain}.`,
    ...(test.contracts === undefined
      ? []
      : [
          `Contracts: market ${test.contracts.market}, review ${test.contracts.review}, credit ${test.contracts.credit}, channels ${test.contracts.channels}.`,
        ]),
    ...(test.engine === "embedded"
      ? [
          "Warning: these figures come from the embedded engine (one anvil process, no consensus, no peers): they say nothing about a Besu network's throughput or latency.",
        ]
      : []),
    `Scenario ${test.scenario}${test.preset === undefined ? "" : ` (preset ${test.preset})`}: ` +
      `${test.nodes} nodes (${test.producers} producers, ${test.consumers} consumers) on ` +
      `${test.workers} ${test.runner} workers; engine ${test.engine}, chain id ${test.chainId}, ` +
      `block period ${test.blockPeriodSeconds} s, ${test.paymentsPerTrade} channel payments per trade; ` +
      (test.tradePath === "standing"
        ? "standing offers (a trade is one buy transaction)."
        : "request and confirm (two transactions per trade)."),
    `Host: ${test.host.cpus} CPUs (${test.host.cpuModel}), ${test.host.memoryGiB} GiB memory, ` +
      `Node ${test.host.node}.`,
  ];
  const m = report.metering;
  if (m.metered > 0) {
    lines.push(
      `Metering (step D, a sample): ${m.metered} orders metered after their window, ${m.delivered} delivered in full, ${m.defaultsSettled} shortfalls settled from the seller's bond, ${m.failed} failed.`,
    );
  } else if (m.skipped !== null) {
    lines.push(`Metering skipped: ${m.skipped}.`);
  }
  const income = report.gridIncome;
  if (income !== null) {
    const credits = (units: string) => formatUnits(BigInt(units), 6);
    lines.push(
      `Grid income (tariffs and capacity fees kept, read from the chain): ${credits(income.earned)} GridCredit earned during the test (${credits(income.before)} held before the first run, ${credits(income.after)} after metering).`,
    );
  }
  if (report.setup !== null) lines.push(setupLine(report.setup));
  return lines;
}

function incidents(report: LoadReport): string[] {
  const lines: string[] = [];
  if (report.interrupted !== null) {
    lines.push(
      `Interrupted by ${report.interrupted.signal} at ${new Date(report.interrupted.at).toISOString()}: ` +
        "trades without an end are counted as failed (interrupted).",
    );
  }
  for (const lost of report.workersLost) {
    lines.push(`Worker ${lost.worker} lost at ${new Date(lost.at).toISOString()}: ${lost.detail}.`);
  }
  for (const warning of report.warnings) lines.push(`Journal: ${warning}.`);
  return lines;
}

export function reportSections(report: LoadReport): Section[] {
  const sections: Section[] = [
    {
      level: 1,
      title: `Load test report${report.test === null ? "" : `: ${report.test.scenario}`}`,
      text: [...describeTest(report), ...incidents(report)],
    },
    {
      level: 2,
      title: "Trades per run (Table 1)",
      text: [
        "Success rate = executed / (executed + failed); a denial by the review is not a failure.",
      ],
      table: {
        headers: [
          "run",
          "offered load",
          "signed",
          "executed",
          "denied",
          "rejected",
          "failed",
          "success rate",
        ],
        numeric: [false, false, true, true, true, true, true, true],
        rows: perRun(report, (s, run) => [
          run === undefined ? "" : offered(run),
          String(s.trades.signed),
          String(s.trades.executed),
          String(s.trades.denied),
          String(s.trades.rejected),
          String(s.trades.failed),
          percent(s.trades.successRate),
        ]),
      },
    },
    {
      level: 2,
      title: "Transaction confirmation (seconds, send to block)",
      table: {
        headers: [
          "run",
          "sent",
          "confirmed",
          "lost",
          "per executed trade",
          "p50",
          "p95",
          "p99",
          "max",
          "mean",
        ],
        numeric: [false, true, true, true, true, true, true, true, true, true],
        rows: perRun(report, (s) => [
          String(s.transactions.sent),
          String(s.transactions.confirmed),
          String(s.transactions.lost),
          s.transactions.perExecutedTrade === null
            ? "—"
            : s.transactions.perExecutedTrade.toFixed(2),
          ...statCells(s.confirmation),
        ]),
      },
    },
    {
      level: 2,
      title: "Confirmation by transaction kind (seconds, all runs)",
      table: {
        headers: ["kind", "confirmed", "p50", "p95", "p99", "max", "mean"],
        numeric: [false, true, true, true, true, true, true],
        rows: Object.entries(report.totals.confirmationByKind).map(([kind, s]) => [
          kind,
          String(s.count),
          ...statCells(s),
        ]),
      },
    },
    {
      level: 2,
      title: "Trade latency (seconds, start to end of executed trades)",
      table: {
        headers: ["run", "executed", "p50", "p95", "p99", "mean"],
        numeric: [false, true, true, true, true, true],
        rows: perRun(report, (s) => [
          String(s.tradeLatency.count),
          seconds(s.tradeLatency.p50),
          seconds(s.tradeLatency.p95),
          seconds(s.tradeLatency.p99),
          seconds(s.tradeLatency.mean),
        ]),
      },
    },
    {
      level: 2,
      title: "Throughput and blocks",
      table: {
        headers: [
          "run",
          "duration (s)",
          "trades/s",
          "tx/s",
          "blocks",
          "block fill",
          "txs/block",
          "block interval (s)",
        ],
        numeric: [false, true, true, true, true, true, true, true],
        rows: perRun(report, (s) => [
          s.durationSeconds === null ? NONE : s.durationSeconds.toFixed(1),
          perSecond(s.throughput.tradesPerSecond),
          perSecond(s.throughput.transactionsPerSecond),
          String(s.blocks.count),
          percent(s.blocks.fill),
          s.blocks.meanTransactions === null ? NONE : s.blocks.meanTransactions.toFixed(1),
          seconds(s.blocks.meanIntervalSeconds),
        ]),
      },
    },
    {
      level: 2,
      title: "Channel payments (off chain)",
      table: {
        headers: [
          "run",
          "payments",
          "failed",
          "payments/s",
          "vs on-chain tx/s",
          "p50 (s)",
          "p99 (s)",
        ],
        numeric: [false, true, true, true, true, true, true],
        rows: perRun(report, (s) => [
          String(s.payments.count),
          String(s.payments.failed),
          perSecond(s.payments.perSecond),
          times(s.payments.ratioToTransactions),
          seconds(s.payments.latency.p50),
          seconds(s.payments.latency.p99),
        ]),
      },
    },
  ];

  sections.push(...paymentSections(report));

  const reasons = FAILURE_REASONS.filter(
    (reason) => report.totals.trades.failedByReason[reason] !== undefined,
  );
  if (reasons.length > 0) {
    sections.push({
      level: 2,
      title: "Failed trades by reason",
      table: {
        headers: ["reason", ...report.runs.map((run) => `run ${run.run}`), "total"],
        numeric: [false, ...report.runs.map(() => true), true],
        rows: reasons.map((reason) => [
          reason,
          ...[...report.runs, report.totals].map((s) =>
            String(s.trades.failedByReason[reason] ?? 0),
          ),
        ]),
      },
    });
  }

  if (report.paper !== null) {
    const paper = report.paper;
    const totals = report.totals;
    sections.push({
      level: 2,
      title: "Side by side with the paper (Jing, Table 1)",
      text: ["The paper gives executed and failed trades as totals only."],
      table: {
        headers: ["", "paper", "this test"],
        numeric: [false, true, true],
        rows: [
          [
            "trades signed per run",
            paper.runs.join(" / "),
            report.runs.map((run) => run.trades.signed).join(" / ") || NONE,
          ],
          ["trades signed", String(paper.signed), String(totals.trades.signed)],
          ["executed", String(paper.executed), String(totals.trades.executed)],
          ["failed", String(paper.failed), String(totals.trades.failed)],
          ["success rate", percent(paper.successRate), percent(totals.trades.successRate)],
          [
            "mean confirmation (s)",
            `~${paper.averageConfirmationSeconds}`,
            seconds(totals.confirmation.mean),
          ],
          [
            "confirmation p50 / p99 (s)",
            NONE,
            `${seconds(totals.confirmation.p50)} / ${seconds(totals.confirmation.p99)}`,
          ],
        ],
      },
    });
  }

  if (report.kneeBound !== null) {
    const bound = report.kneeBound;
    const knee = report.knee;
    sections.push({
      level: 2,
      title: "Stress: the knee",
      text: [
        knee === null
          ? `No open-loop run kept success >= ${percent(bound.successRate)} with confirmation p99 <= ${bound.p99Seconds} s.`
          : `Knee: ${knee.tradesPerSecond} trades/s offered (run ${knee.run}), the highest rate with ` +
            `success >= ${percent(bound.successRate)} and confirmation p99 <= ${bound.p99Seconds} s ` +
            `(success ${percent(knee.successRate)}, p99 ${seconds(knee.p99Seconds)} s).`,
      ],
      table: {
        headers: [
          "run",
          "offered trades/s",
          "achieved trades/s",
          "success rate",
          "p99 (s)",
          "within bound",
        ],
        numeric: [false, true, true, true, true, false],
        rows: report.runs.flatMap((run) =>
          run.offered?.model === "open"
            ? [
                [
                  label(run),
                  String(run.offered.tradesPerSecond),
                  perSecond(run.throughput.tradesPerSecond),
                  percent(run.trades.successRate),
                  seconds(run.confirmation.p99),
                  withinBound(run, bound) ? "yes" : "no",
                ],
              ]
            : [],
        ),
      },
    });
  }

  sections.push(resourcesSection(report));
  sections.push({
    level: 2,
    title: "Method",
    text: [
      "Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank " +
        "ceil(p/100 × n). A figure with no measurement is shown as —. Durations run from a run's start " +
        "to its end record, or to its last event when the journal was cut short; block figures cover " +
        "the blocks seen during the run.",
    ],
  });
  return sections;
}

function withinBound(run: RunReport, bound: NonNullable<LoadReport["kneeBound"]>): boolean {
  const success = run.trades.successRate;
  const p99 = run.confirmation.p99;
  return (
    success !== null && p99 !== null && success >= bound.successRate && p99 <= bound.p99Seconds
  );
}

function resourcesSection(report: LoadReport): Section {
  const text = [
    "CPU in percent of one core (mean over the test, and the highest one-second figure), resident memory at its peak; sampled from /proc once a second (a container through its main process).",
  ];
  if (report.resources.length === 0) {
    return { level: 2, title: "Resources", text: [...text, "No sample was taken."] };
  }
  const cpu = (value: number | null) => (value === null ? "—" : value.toFixed(0));
  return {
    level: 2,
    title: "Resources",
    text,
    table: {
      headers: ["process", "samples", "CPU mean %", "CPU peak %", "memory peak (MiB)"],
      numeric: [false, true, true, true, true],
      rows: report.resources.map((use) => [
        use.name,
        String(use.samples),
        cpu(use.cpuPercentMean),
        cpu(use.cpuPercentPeak),
        use.rssPeakMiB.toFixed(0),
      ]),
    },
  };
}
