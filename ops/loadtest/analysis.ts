/**
 * The report of a load test, computed from its journal alone (protocol.ts), so an interrupted test
 * reports every trade it started. `computeReport` is pure; `writeReport` is the only writer.
 *
 * Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
 * ceil(p / 100 * n) (1-based), so it is always a value that was measured. A statistic of no values
 * is null, never 0.
 */
import { CONFIRMATION_BUCKETS, FAILURE_REASONS, TRANSACTION_KINDS } from "../metrics/catalogue.js";
import type { FailureReason, JournalRecord, TxKind } from "./protocol.js";
import {
  PAPER_TABLE_1,
  type Knee,
  type LoadReport,
  type Offered,
  type RunReport,
  type Stats,
  type Summary,
  type TestRecord,
  type TradeCounts,
} from "./report-model.js";

import { paymentsReport } from "./payments-report.js";
import { summariseResources, type ResourceSample } from "./resources.js";
import { timeSeries } from "./series.js";
import { greatest, least, percentile, stats } from "./statistics.js";

export * from "./report-model.js";
export { percentile, stats } from "./statistics.js";

type TradeRecord = Extract<JournalRecord, { t: "trade" }>;
type TxRecord = Extract<JournalRecord, { t: "tx" }>;
type EndRecord = Extract<JournalRecord, { t: "end" }>;
type BlockRecord = Extract<JournalRecord, { t: "block" }>;
type RunRecord = Extract<JournalRecord, { t: "run" }>;

/** Everything the journal says about one run. */
type RunFacts = {
  run: number;
  record: RunRecord | null;
  endAt: number | null;
  trades: Map<number, TradeRecord | null>;
  ends: Map<number, EndRecord>;
  txs: TxRecord[];
};

/** Computes the report of a journal. Pure: the same records give the same report. */
export function computeReport(
  records: readonly JournalRecord[],
  resources: readonly ResourceSample[] = [],
): LoadReport {
  const warnings: string[] = [];
  let test: TestRecord | null = null;
  let setup: LoadReport["setup"] = null;
  let interrupted: LoadReport["interrupted"] = null;
  const workersLost: LoadReport["workersLost"] = [];
  const blocks = new Map<number, BlockRecord>();
  const runs = new Map<number, RunFacts>();
  const tradeRun = new Map<number, number>();
  const looseTxs: TxRecord[] = [];
  const metering: LoadReport["metering"] = {
    metered: 0,
    delivered: 0,
    defaultsSettled: 0,
    failed: 0,
    skipped: null,
  };
  const income: { before?: string; after?: string } = {};
  let offersSeconds = 0;

  const facts = (run: number): RunFacts => {
    let entry = runs.get(run);
    if (entry === undefined) {
      entry = { run, record: null, endAt: null, trades: new Map(), ends: new Map(), txs: [] };
      runs.set(run, entry);
    }
    return entry;
  };

  for (const record of records) {
    switch (record.t) {
      case "test":
        if (test === null) test = record;
        else warnings.push("the journal holds more than one test record; the first one is used");
        break;
      case "setup":
        setup = {
          seconds: record.seconds,
          transactions: record.transactions,
          phases: record.phases ?? {},
          offersSeconds: 0,
        };
        break;
      case "offers":
        offersSeconds += record.seconds;
        break;
      case "run": {
        const entry = facts(record.run);
        if (entry.record === null) entry.record = record;
        else warnings.push(`run ${record.run} started twice; the first start is used`);
        break;
      }
      case "run-end":
        facts(record.run).endAt ??= record.at;
        break;
      case "trade": {
        const entry = facts(record.run);
        if (entry.trades.get(record.trade)) {
          warnings.push(`trade ${record.trade} started twice; the first start is used`);
        } else {
          entry.trades.set(record.trade, record);
          tradeRun.set(record.trade, record.run);
        }
        break;
      }
      case "end": {
        const entry = facts(record.run);
        if (entry.ends.has(record.trade)) {
          warnings.push(`trade ${record.trade} ended twice; the first end is used`);
        } else {
          entry.ends.set(record.trade, record);
        }
        break;
      }
      case "tx":
        looseTxs.push(record);
        break;
      case "block":
        if (!blocks.has(record.number)) blocks.set(record.number, record);
        break;
      case "worker-lost":
        workersLost.push({ worker: record.worker, at: record.at, detail: record.detail });
        break;
      case "interrupted":
        interrupted ??= { at: record.at, signal: record.signal };
        break;
      case "metered":
        metering.metered += 1;
        if (record.outcome === "delivered") metering.delivered += 1;
        else if (record.outcome === "default settled") metering.defaultsSettled += 1;
        else metering.failed += 1;
        break;
      case "metering-skipped":
        metering.skipped = record.detail;
        break;
      case "grid-income":
        income[record.phase] = record.credits;
        break;
      case "done":
      case "payments":
      case "hub-end":
        break;
    }
  }

  // A trade that ended without a start record still counts as started: nothing is lost.
  for (const entry of runs.values()) {
    for (const [trade, end] of entry.ends) {
      const startRun = tradeRun.get(trade);
      if (!entry.trades.has(trade) && startRun !== undefined) {
        // The end names another run than the start: count the trade once, in its start's run.
        warnings.push(
          `trade ${trade} started in run ${startRun} and ended in run ${entry.run}; counted in run ${startRun}`,
        );
        entry.ends.delete(trade);
        const home = facts(startRun);
        if (!home.ends.has(trade)) home.ends.set(trade, end);
      } else if (!entry.trades.has(trade)) {
        warnings.push(`trade ${trade} of run ${entry.run} ended without a start record`);
        entry.trades.set(trade, null);
        tradeRun.set(trade, entry.run);
      }
    }
  }

  let transactionsOutsideRuns = 0;
  for (const tx of looseTxs) {
    const run = tx.run ?? (tx.trade === undefined ? undefined : tradeRun.get(tx.trade));
    if (run === undefined) transactionsOutsideRuns += 1;
    else facts(run).txs.push(tx);
  }

  // A run only named by a misplaced end record holds nothing to report.
  for (const [run, entry] of runs) {
    const empty = entry.record === null && entry.endAt === null && entry.txs.length === 0;
    if (empty && entry.trades.size === 0 && entry.ends.size === 0) runs.delete(run);
  }

  const sortedBlocks = [...blocks.values()].sort((a, b) => a.number - b.number);
  const runReports: RunReport[] = [...runs.values()]
    .sort((a, b) => a.run - b.run)
    .map((entry) => runReport(entry, sortedBlocks));

  const runBlocks = new Map<number, BlockRecord>();
  for (const run of runReports) {
    for (const block of blocksWithin(sortedBlocks, run.startedAt, run.endedAt)) {
      runBlocks.set(block.number, block);
    }
  }
  const allRuns = [...runs.values()];
  const totalDuration = runReports.some((run) => run.durationSeconds !== null)
    ? runReports.reduce((sum, run) => sum + (run.durationSeconds ?? 0), 0)
    : null;
  const totals = summarise({
    durationSeconds: totalDuration,
    trades: allRuns.flatMap((entry) => tradeOutcomes(entry)),
    txs: allRuns.flatMap((entry) => entry.txs),
    ends: allRuns.flatMap((entry) => [...entry.ends.values()]),
    blocks: [...runBlocks.values()].sort((a, b) => a.number - b.number),
  });

  const confirmations = allRuns
    .flatMap((entry) => entry.txs)
    .filter((tx) => tx.minedAt !== undefined)
    .map((tx) => ({ minedAt: tx.minedAt!, seconds: confirmationSeconds(tx) }));

  // Only a stress test looks for a knee, with the bounds its scenario set.
  const stress = (test as TestRecord | null)?.stress;
  const kneeBound: LoadReport["kneeBound"] =
    test === null ||
    stress === undefined ||
    !runReports.some((run) => run.offered?.model === "open")
      ? null
      : {
          successRate: stress.successFloor,
          p99Seconds: stress.p99BlockPeriods * (test as TestRecord).blockPeriodSeconds,
        };
  return {
    test: test === null ? null : withoutType(test),
    setup: setup === null ? null : { ...setup, offersSeconds },
    payments: paymentsReport(records, totalDuration),
    runs: runReports,
    totals,
    transactionsOutsideRuns,
    series: timeSeries({
      runs: runReports,
      executedAt: allRuns.flatMap((entry) =>
        [...entry.ends.values()].filter((end) => end.outcome === "executed").map((end) => end.at),
      ),
      confirmations,
      binSeconds: test?.blockPeriodSeconds ?? 1,
    }),
    histogram: histogram(confirmations.map((c) => c.seconds)),
    resources: summariseResources(resources),
    paper: test?.preset === "paper" ? PAPER_TABLE_1 : null,
    knee: kneeBound === null ? null : knee(runReports, kneeBound),
    kneeBound,
    workersLost,
    metering,
    gridIncome:
      income.before === undefined || income.after === undefined
        ? null
        : {
            before: income.before,
            after: income.after,
            earned: (BigInt(income.after) - BigInt(income.before)).toString(),
          },
    interrupted,
    warnings,
  };
}

// ---- private

function withoutType(record: TestRecord): Omit<TestRecord, "t"> {
  const { t: _type, ...rest } = record;
  return rest;
}

function confirmationSeconds(tx: TxRecord): number {
  return (tx.minedAt! - tx.sentAt) / 1000;
}

/** A trade's start (when journalled) and its end, or none when the journal was cut short. */
type TradeOutcome = { start: TradeRecord | null; end: EndRecord | null };

function tradeOutcomes(entry: RunFacts): TradeOutcome[] {
  return [...entry.trades].map(([trade, start]) => ({ start, end: entry.ends.get(trade) ?? null }));
}

function runReport(entry: RunFacts, blocks: readonly BlockRecord[]): RunReport {
  const record = entry.record;
  const ends = [...entry.ends.values()];
  const eventTimes = [
    ...[...entry.trades.values()].flatMap((trade) => (trade === null ? [] : [trade.at])),
    ...ends.map((end) => end.at),
    ...entry.txs.map((tx) => tx.minedAt ?? tx.sentAt),
  ];
  const startedAt = record?.at ?? least(eventTimes);
  const lastEvent = greatest(eventTimes);
  const endedAt = entry.endAt ?? lastEvent ?? startedAt;
  const durationSeconds =
    startedAt === null || endedAt === null ? null : Math.max(0, endedAt - startedAt) / 1000;
  const summary = summarise({
    durationSeconds,
    trades: tradeOutcomes(entry),
    txs: entry.txs,
    ends,
    blocks: blocksWithin(blocks, startedAt, endedAt),
  });
  return {
    run: entry.run,
    startedAt,
    endedAt,
    ended: entry.endAt !== null,
    offered: record?.load ?? null,
    plannedTrades: record?.trades ?? null,
    plannedSeconds: record?.durationSeconds ?? null,
    ...summary,
  };
}

function blocksWithin(
  blocks: readonly BlockRecord[],
  from: number | null,
  to: number | null,
): BlockRecord[] {
  if (from === null || to === null) return [];
  return blocks.filter((block) => block.seenAt >= from && block.seenAt <= to);
}

/** The record step's transactions: metering, not the trade itself. */
const RECORD_KINDS: ReadonlySet<TxKind> = new Set(["meter", "settle_default"]);

function summarise(input: {
  durationSeconds: number | null;
  trades: TradeOutcome[];
  txs: TxRecord[];
  ends: EndRecord[];
  blocks: BlockRecord[];
}): Summary {
  const { durationSeconds, txs, blocks } = input;
  const trades = countTrades(input.trades);
  const confirmed = txs.filter((tx) => tx.minedAt !== undefined);
  const byKind: Partial<Record<TxKind, Stats>> = {};
  for (const kind of TRANSACTION_KINDS) {
    const ofKind = confirmed.filter((tx) => tx.kind === kind);
    if (ofKind.length > 0) byKind[kind] = stats(ofKind.map(confirmationSeconds));
  }
  const latencies = input.trades.flatMap(({ start, end }) =>
    start !== null && end?.outcome === "executed" ? [(end.at - start.at) / 1000] : [],
  );
  const rate = (n: number): number | null =>
    durationSeconds === null || durationSeconds <= 0 ? null : n / durationSeconds;
  const transactionsPerSecond = rate(confirmed.length);

  const gasUsed = blocks.reduce((sum, block) => sum + BigInt(block.gasUsed), 0n);
  const gasLimit = blocks.reduce((sum, block) => sum + BigInt(block.gasLimit), 0n);
  const first = blocks[0];
  const last = blocks[blocks.length - 1];

  const paymentCount = input.ends.reduce((sum, end) => sum + end.payments, 0);
  const paymentSeconds = [...input.ends.flatMap((end) => end.paymentSeconds)].sort((a, b) => a - b);
  const paymentsPerSecond = rate(paymentCount);

  return {
    durationSeconds,
    trades,
    transactions: {
      sent: txs.length,
      confirmed: confirmed.length,
      reverted: txs.filter((tx) => tx.status === "reverted").length,
      lost: txs.filter((tx) => tx.status === "lost").length,
      resent: txs.reduce((sum, tx) => sum + (tx.resent ?? 0), 0),
      perExecutedTrade:
        trades.executed === 0
          ? null
          : txs.filter((tx) => tx.trade !== undefined && !RECORD_KINDS.has(tx.kind)).length /
            trades.executed,
    },
    confirmation: stats(confirmed.map(confirmationSeconds)),
    confirmationByKind: byKind,
    tradeLatency: stats(latencies),
    throughput: { tradesPerSecond: rate(trades.executed), transactionsPerSecond },
    blocks: {
      count: blocks.length,
      gasUsed: Number(gasUsed),
      gasLimit: Number(gasLimit),
      fill: gasLimit === 0n ? null : ratio(gasUsed, gasLimit),
      meanTransactions:
        blocks.length === 0
          ? null
          : blocks.reduce((sum, block) => sum + block.transactions, 0) / blocks.length,
      meanIntervalSeconds:
        first === undefined || last === undefined || last.number === first.number
          ? null
          : (last.timestamp - first.timestamp) / (last.number - first.number),
    },
    payments: {
      count: paymentCount,
      failed: input.ends.reduce((sum, end) => sum + (end.failedPayments ?? 0), 0),
      perSecond: paymentsPerSecond,
      ratioToTransactions:
        paymentsPerSecond === null || transactionsPerSecond === null || transactionsPerSecond === 0
          ? null
          : paymentsPerSecond / transactionsPerSecond,
      latency: { p50: percentile(paymentSeconds, 50), p99: percentile(paymentSeconds, 99) },
    },
  };
}

/** a / b as a number, exact to 12 digits even when the sums exceed 2^53. */
function ratio(a: bigint, b: bigint): number {
  const scale = 10n ** 12n;
  return Number((a * scale) / b) / 1e12;
}

function countTrades(trades: readonly TradeOutcome[]): TradeCounts {
  const counts: TradeCounts = {
    signed: trades.length,
    executed: 0,
    denied: 0,
    rejected: 0,
    failed: 0,
    failedByReason: {},
    successRate: null,
  };
  for (const { end } of trades) {
    // A trade the journal started and never ended was cut short: failed, "interrupted".
    const outcome = end?.outcome ?? "failed";
    counts[outcome] += 1;
    if (outcome === "failed") {
      const reason: FailureReason = end === null ? "interrupted" : (end.reason ?? "other");
      counts.failedByReason[reason] = (counts.failedByReason[reason] ?? 0) + 1;
    }
  }
  const decided = counts.executed + counts.failed;
  counts.successRate = decided === 0 ? null : counts.executed / decided;
  // Reasons in the catalogue's order, so the JSON reads the same every time.
  counts.failedByReason = Object.fromEntries(
    FAILURE_REASONS.filter((reason) => counts.failedByReason[reason] !== undefined).map(
      (reason) => [reason, counts.failedByReason[reason]!],
    ),
  );
  return counts;
}

function histogram(values: readonly number[]): LoadReport["histogram"] {
  const buckets: LoadReport["histogram"] = [
    ...CONFIRMATION_BUCKETS.map((le) => ({ le, count: 0 })),
    { le: null, count: 0 },
  ];
  for (const value of values) {
    const bucket = buckets.find((b) => b.le === null || value <= b.le)!;
    bucket.count += 1;
  }
  return buckets;
}

function knee(
  runs: readonly RunReport[],
  bound: NonNullable<LoadReport["kneeBound"]>,
): Knee | null {
  let best: Knee | null = null;
  for (const run of runs) {
    if (run.offered?.model !== "open") continue;
    const success = run.trades.successRate;
    const p99 = run.confirmation.p99;
    if (success === null || p99 === null) continue;
    if (success < bound.successRate || p99 > bound.p99Seconds) continue;
    if (best === null || run.offered.tradesPerSecond > best.tradesPerSecond) {
      best = {
        run: run.run,
        tradesPerSecond: run.offered.tradesPerSecond,
        successRate: success,
        p99Seconds: p99,
      };
    }
  }
  return best;
}
