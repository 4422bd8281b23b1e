/**
 * The load-test benchmark's table: one row per preset run (stress on each trade path, paper),
 * read from its computed report, and the targets checked against them.
 */
import type { LoadReport, RunReport } from "../loadtest/report-model.js";

export type Row = {
  name: string;
  path: "standing" | "request-confirm" | null;
  agents: number | null;
  setupSeconds: number | null;
  executed: number;
  failed: number;
  /** Stress: the offered trade rate of the knee step; paper: null. */
  kneeTradesPerSecond: number | null;
  /** Whether the knee is the ramp's highest step (the limit lies above it). */
  kneeAtTop: boolean;
  /** Confirmed tx/s over the knee step (stress) or over the runs (paper). */
  txPerSecond: number | null;
  txPerTrade: number | null;
  p50Periods: number | null;
  p99Periods: number | null;
  /** Load generator CPU (coordinator and workers) per confirmed transaction, milliseconds. */
  cpuMsPerTx: number | null;
};

/** A row from a report; `cpu(from, to)` gives the load generator's CPU seconds in a window. */
export function presetRow(
  name: string,
  report: LoadReport,
  periodSeconds: number,
  cpu: (from: number, to: number) => number,
): Row {
  const knee = report.knee;
  const kneeRun = knee === null ? undefined : report.runs.find((run) => run.run === knee.run);
  const stress = report.kneeBound !== null;
  const runs: RunReport[] = stress ? (kneeRun === undefined ? [] : [kneeRun]) : report.runs;
  const from = runs[0]?.startedAt ?? null;
  const to = runs.at(-1)?.endedAt ?? null;
  const confirmed = runs.reduce((sum, run) => sum + run.transactions.confirmed, 0);
  const summary = stress ? kneeRun : report.totals;
  const periods = (seconds: number | null | undefined) =>
    seconds === null || seconds === undefined ? null : seconds / periodSeconds;
  return {
    name,
    path: report.test?.tradePath ?? null,
    agents: report.test?.nodes ?? null,
    setupSeconds: report.setup?.seconds ?? null,
    executed: report.totals.trades.executed,
    failed: report.totals.trades.failed,
    kneeTradesPerSecond: knee?.tradesPerSecond ?? null,
    kneeAtTop: knee !== null && knee.run === Math.max(...report.runs.map((run) => run.run)),
    txPerSecond:
      from === null || to === null || to <= from ? null : confirmed / ((to - from) / 1000),
    txPerTrade: summary?.transactions.perExecutedTrade ?? null,
    p50Periods: periods(summary?.confirmation.p50),
    p99Periods: periods(summary?.confirmation.p99),
    cpuMsPerTx:
      from === null || to === null || confirmed === 0 ? null : (1000 * cpu(from, to)) / confirmed,
  };
}

export type Target = { what: string; met: boolean | null; measured: string };

const fixed = (value: number | null, digits: number) =>
  value === null ? "—" : value.toFixed(digits);

/** The targets; a target whose inputs were not measured is neither met nor missed. */
export function targets(ceiling: number, rows: readonly Row[]): Target[] {
  const stress = (path: Row["path"]) =>
    rows.find((row) => row.path === path && row.kneeTradesPerSecond !== null);
  const standing = stress("standing");
  const twoTx = stress("request-confirm");
  const paper = rows.find((row) => row.kneeTradesPerSecond === null && row.path === "standing");
  const check = (value: number | null | undefined, ok: (v: number) => boolean) =>
    value === null || value === undefined ? null : ok(value);
  const share = standing?.txPerSecond == null ? null : standing.txPerSecond / ceiling;
  const ratio =
    standing?.kneeTradesPerSecond == null || twoTx?.kneeTradesPerSecond == null
      ? null
      : standing.kneeTradesPerSecond / twoTx.kneeTradesPerSecond;
  return [
    {
      what: "knee tx/s >= 90 % of the ceiling (standing offers)",
      met: check(share, (v) => v >= 0.9),
      measured: share === null ? "—" : `${(100 * share).toFixed(0)} %`,
    },
    {
      what: "standing-offer knee >= 1.8x the two-transaction knee (trades/s)",
      met: check(ratio, (v) => v >= 1.8),
      measured: ratio === null ? "—" : `${ratio.toFixed(2)}x`,
    },
    {
      what: "client CPU per confirmed transaction <= 0.8 ms (standing offers, at the knee)",
      met: check(standing?.cpuMsPerTx, (v) => v <= 0.8),
      measured: `${fixed(standing?.cpuMsPerTx ?? null, 2)} ms`,
    },
    {
      what: "paper: confirmation p50 <= 0.7 block periods",
      met: check(paper?.p50Periods, (v) => v <= 0.7),
      measured: fixed(paper?.p50Periods ?? null, 2),
    },
    {
      what: "paper: confirmation p99 <= 1.5 block periods",
      met: check(paper?.p99Periods, (v) => v <= 1.5),
      measured: fixed(paper?.p99Periods ?? null, 2),
    },
    {
      what: "paper: 0 failed trades",
      met: paper === undefined ? null : paper.failed === 0,
      measured: paper === undefined ? "—" : String(paper.failed),
    },
  ];
}

export function printTable(say: (line: string) => void, ceiling: number, rows: Row[]): void {
  say("");
  say(`engine ceiling: ${ceiling.toFixed(0)} tx/s`);
  say(
    "| run | agents | setup (s) | executed | failed | knee trades/s | tx/s | knee / ceiling | tx per trade | p50 (periods) | p99 (periods) | client CPU ms/tx |",
  );
  say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const knee =
      row.kneeTradesPerSecond === null
        ? "—"
        : `${row.kneeTradesPerSecond}${row.kneeAtTop ? " (top step)" : ""}`;
    const share =
      row.kneeTradesPerSecond === null || row.txPerSecond === null
        ? "—"
        : `${((100 * row.txPerSecond) / ceiling).toFixed(0)} %`;
    say(
      `| ${row.name} | ${row.agents ?? "—"} | ${fixed(row.setupSeconds, 1)} | ${row.executed} | ${row.failed} | ${knee} | ${fixed(row.txPerSecond, 0)} | ${share} | ${fixed(row.txPerTrade, 2)} | ${fixed(row.p50Periods, 2)} | ${fixed(row.p99Periods, 2)} | ${fixed(row.cpuMsPerTx, 2)} |`,
    );
  }
  say("");
  for (const target of targets(ceiling, rows)) {
    const verdict = target.met === null ? "NOT RUN" : target.met ? "MET   " : "MISSED";
    say(`${verdict} ${target.what}: ${target.measured}`);
  }
}
