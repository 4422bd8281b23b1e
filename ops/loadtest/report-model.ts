import type { FailureReason, JournalRecord, TxKind } from "./protocol.js";
import type { ResourceUse } from "./resources.js";

/*
 * The shape of a computed load-test report: what analysis.ts produces and the renderers
 * (tables.ts, html.ts, report.ts) read.
 */

/** Count, nearest-rank percentiles, max and mean of a set of measurements (seconds). */
export type Stats = {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
};

export type TradeCounts = {
  /** Trades started; always executed + denied + rejected + failed. */
  signed: number;
  executed: number;
  denied: number;
  rejected: number;
  failed: number;
  failedByReason: Partial<Record<FailureReason, number>>;
  /** executed / (executed + failed) (DESIGN.md); null when neither happened. */
  successRate: number | null;
};

export type Offered =
  { model: "open"; tradesPerSecond: number } | { model: "closed"; inFlight: number };

/** The figures of one run, or of all runs together (totals). */
export type Summary = {
  /** Seconds from the run's start to its end record (or its last event); summed for totals. */
  durationSeconds: number | null;
  trades: TradeCounts;
  transactions: {
    sent: number;
    /** With a receipt (success or reverted). */
    confirmed: number;
    reverted: number;
    lost: number;
    /** Times a nonce was sent again. */
    resent: number;
    /**
     * On-chain transactions sent for trades (buy, request, confirm, reject, review; not metering)
     * per executed trade; null when none executed.
     */
    perExecutedTrade: number | null;
  };
  /** Seconds from sending a transaction to the block holding it. */
  confirmation: Stats;
  confirmationByKind: Partial<Record<TxKind, Stats>>;
  /** Seconds from a trade's start to its end, executed trades only. */
  tradeLatency: Stats;
  throughput: { tradesPerSecond: number | null; transactionsPerSecond: number | null };
  blocks: {
    count: number;
    gasUsed: number;
    gasLimit: number;
    /** gasUsed / gasLimit summed over the blocks seen during the run. */
    fill: number | null;
    meanTransactions: number | null;
    /** From the chain's block timestamps (seconds). */
    meanIntervalSeconds: number | null;
  };
  payments: {
    count: number;
    failed: number;
    perSecond: number | null;
    /** Channel payments per second over confirmed on-chain transactions per second. */
    ratioToTransactions: number | null;
    latency: { p50: number | null; p99: number | null };
  };
};

export type RunReport = Summary & {
  run: number;
  /** Epoch milliseconds. */
  startedAt: number | null;
  endedAt: number | null;
  /** Whether the journal holds the run's end record. */
  ended: boolean;
  offered: Offered | null;
  plannedTrades: number | null;
  plannedSeconds: number | null;
};

export type SeriesPoint = {
  /** Seconds since the first run started, at the start of the point's bin. */
  second: number;
  /** Transactions confirmed and trades executed in the bin (binSeconds long). */
  transactions: number;
  trades: number;
  p50: number | null;
  p99: number | null;
};

export type Knee = {
  run: number;
  tradesPerSecond: number;
  successRate: number;
  p99Seconds: number;
};

/** Table 1 of the paper (Jing): five runs, totals only for executed and failed. */
export const PAPER_TABLE_1 = {
  runs: [1128, 1836, 952, 583, 98],
  signed: 4597,
  executed: 4571,
  failed: 26,
  successRate: 4571 / 4597,
  averageConfirmationSeconds: 12,
} as const;

export type PaperFigures = typeof PAPER_TABLE_1;

export type TestRecord = Extract<JournalRecord, { t: "test" }>;

/** A table of the report: headers, rows of cells, which columns are numbers. */
export type Table = { headers: string[]; rows: string[][]; numeric?: boolean[] };
/** A section of the report's text (heading, paragraphs, one table), rendered as Markdown and HTML. */
export type Section = { level: 1 | 2; title: string; text?: string[]; table?: Table };

/** What paying a test's executed trades costs on chain in one topology. */
export type TopologyCost = {
  topology: "hub" | "direct" | "onchain";
  channels: number;
  /** On-chain payment transactions (channel opens, approvals, deposits; or transfers). */
  transactions: number;
  /** Gas (decimal string): measured in this test for its topology, else estimated. */
  gas: string;
  measured: boolean;
};

/** How the test paid its orders (payments-report.ts). */
export type PaymentsReport = {
  topology: "hub" | "direct" | "onchain";
  participants: number;
  channelsOpened: number;
  /** On-chain payment transactions mined, and their gas (decimal string), in all and by kind. */
  transactions: number;
  gas: string;
  gasByKind: Partial<Record<TxKind, string>>;
  /** Payments made (hub: one mediated lock per executed order). */
  payments: number;
  /** Distinct buyer-seller pairs among the executed trades. */
  tradedPairs: number;
  /** Hub: payments mediated per second of the runs. */
  mediatedPerSecond: number | null;
  /** Hub: its plan from the schedule and its books at the end (credits as decimal strings). */
  hub: {
    address: string | null;
    feePerKwh: string | null;
    plannedTrades: number | null;
    plannedLiquidity: string | null;
    deposited: string | null;
    channels: number | null;
    mediated: number | null;
    released: number | null;
    lockedIn: string | null;
    lockedOut: string | null;
    /** What the hub received less what it sent during the test: its fees on released orders. */
    earned: string | null;
  } | null;
  /** The chosen topology (measured) next to the other two (estimated from the same trades). */
  comparison: TopologyCost[];
};

export type LoadReport = {
  test: Omit<TestRecord, "t"> | null;
  setup: {
    seconds: number;
    transactions: number;
    /** Seconds of each part of the setup (they overlap), when the journal has them. */
    phases: Record<string, number>;
    /** Seconds spent publishing offers (each offer epoch's, outside every run). */
    offersSeconds: number;
  } | null;
  payments: PaymentsReport | null;
  runs: RunReport[];
  totals: Summary;
  /** Transactions of the journal outside any run (setup). */
  transactionsOutsideRuns: number;
  /** The test over time, in bins of one block period (binSeconds). */
  series: { startedAt: number | null; binSeconds: number; points: SeriesPoint[] };
  /** Confirmation seconds counted per bucket: a value v falls in the first bucket with v <= le. */
  histogram: { le: number | null; count: number }[];
  /** CPU and memory of the chain and each worker over the test (resources.jsonl); [] unsampled. */
  resources: ResourceUse[];
  paper: PaperFigures | null;
  /** Stress: the highest offered trade rate whose run kept success >= 99.9 % and p99 <= 2 blocks. */
  knee: Knee | null;
  kneeBound: { successRate: number; p99Seconds: number } | null;
  workersLost: { worker: number; at: number; detail: string }[];
  /** Step D for a sample: orders metered after their window, shortfalls settled from the bond. */
  metering: {
    metered: number;
    delivered: number;
    defaultsSettled: number;
    failed: number;
    /** Why metering did not run (the windows end later than the test may wait). */
    skipped: string | null;
  };
  /**
   * What the grid earned from the market during the test (tariffs and kept capacity fees, GridCredit
   * base units as decimal strings), read from the chain before the first run and after metering;
   * null when the journal lacks either reading.
   */
  gridIncome: { before: string; after: string; earned: string } | null;
  interrupted: { at: number; signal: string } | null;
  /** Inconsistencies of the journal that the counts had to work around. */
  warnings: string[];
};
