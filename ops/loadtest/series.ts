import { OperatorError } from "../errors.js";
import type { LoadReport, RunReport } from "./report-model.js";
import { greatest, least, percentile } from "./statistics.js";

/** A week: longer spans mean a corrupt time, and would chart millions of empty bins. */
const MAX_SERIES_SECONDS = 7 * 24 * 3600;

/**
 * The test over time, in bins of one block period: a chain that makes a block every 2 s confirms
 * nothing in every other second, so 1 s bins would zig-zag between a burst and zero. Each point
 * counts what was confirmed and executed in its bin; the charts divide by the bin for rates.
 */
export function timeSeries(input: {
  runs: readonly RunReport[];
  executedAt: readonly number[];
  confirmations: readonly { minedAt: number; seconds: number }[];
  binSeconds: number;
}): LoadReport["series"] {
  const { runs, executedAt, confirmations } = input;
  const binSeconds = Math.max(1, input.binSeconds);
  const starts = runs.flatMap((run) => (run.startedAt === null ? [] : [run.startedAt]));
  const times = [...starts, ...executedAt, ...confirmations.map((c) => c.minedAt)];
  if (times.length === 0) return { startedAt: null, binSeconds, points: [] };
  const origin = least(times)!;
  const ends = runs.flatMap((run) => (run.endedAt === null ? [] : [run.endedAt]));
  const lastSecond = Math.floor((greatest([...times, ...ends])! - origin) / 1000);
  if (lastSecond > MAX_SERIES_SECONDS) {
    throw new OperatorError(`the journal's runs span ${lastSecond} s`, {
      details: `a load test is charted over time, up to ${MAX_SERIES_SECONDS} s`,
      hint: "check the times (milliseconds since the epoch) of the run, trade, end and tx records",
    });
  }
  const binOf = (at: number) => Math.floor((at - origin) / 1000 / binSeconds);
  const bins = Array.from({ length: Math.floor(lastSecond / binSeconds) + 1 }, () => ({
    transactions: [] as number[],
    trades: 0,
  }));
  for (const { minedAt, seconds: value } of confirmations) {
    bins[binOf(minedAt)]!.transactions.push(value);
  }
  for (const at of executedAt) bins[binOf(at)]!.trades += 1;
  return {
    startedAt: origin,
    binSeconds,
    points: bins.map(({ transactions, trades }, index) => {
      const sorted = transactions.sort((a, b) => a - b);
      return {
        second: index * binSeconds,
        transactions: sorted.length,
        trades,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
      };
    }),
  };
}
