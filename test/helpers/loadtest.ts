import { expect } from "chai";
import { OperatorError } from "../../ops/errors.js";
import type { JournalRecord, TxKind } from "../../ops/loadtest/protocol.js";
import { parseScenario } from "../../ops/loadtest/scenario.js";

/** Journal times are epoch milliseconds; tests count from here. */
export const T0 = 1_767_225_600_000;

type Test = Extract<JournalRecord, { t: "test" }>;
type Run = Extract<JournalRecord, { t: "run" }>;
type Tx = Extract<JournalRecord, { t: "tx" }>;
type End = Extract<JournalRecord, { t: "end" }>;
type Block = Extract<JournalRecord, { t: "block" }>;

export function testRecord(overrides: Partial<Test> = {}): Test {
  return {
    t: "test",
    at: T0 - 60_000,
    scenario: "hand-built",
    nodes: 6,
    producers: 2,
    consumers: 4,
    workers: 2,
    runner: "process",
    engine: "embedded",
    chainId: 1337,
    blockPeriodSeconds: 1,
    paymentsPerTrade: 2,
    host: { cpus: 2, cpuModel: "Test CPU", memoryGiB: 8, node: "v22.0.0" },
    ...overrides,
  };
}

export function runRecord(run: number, atMs: number, load: Run["load"], trades?: number): Run {
  return { t: "run", run, at: T0 + atMs, load, ...(trades === undefined ? {} : { trades }) };
}

export function runEnd(run: number, atMs: number): JournalRecord {
  return { t: "run-end", run, at: T0 + atMs };
}

export function tradeStart(trade: number, run: number, atMs: number, worker = 0): JournalRecord {
  return { t: "trade", trade, run, worker, buyer: `consumer-${trade % 4}`, at: T0 + atMs };
}

export function tradeEnd(
  trade: number,
  run: number,
  atMs: number,
  outcome: End["outcome"],
  extra: Partial<End> = {},
): End {
  return {
    t: "end",
    trade,
    run,
    outcome,
    payments: 0,
    paymentSeconds: [],
    at: T0 + atMs,
    ...extra,
  };
}

/** A transaction sent at `sentMs` and mined `confirmMs` later (never mined when null). */
export function tx(
  hash: number,
  run: number | undefined,
  sentMs: number,
  confirmMs: number | null,
  kind: TxKind = "request",
  extra: Partial<Tx> = {},
): Tx {
  return {
    t: "tx",
    ...(run === undefined ? {} : { run }),
    kind,
    agent: "consumer-0",
    hash: `0x${hash.toString(16).padStart(64, "0")}`,
    sentAt: T0 + sentMs,
    ...(confirmMs === null ? {} : { minedAt: T0 + sentMs + confirmMs }),
    status: confirmMs === null ? "lost" : "success",
    ...extra,
  };
}

export function block(
  number: number,
  timestampSeconds: number,
  seenMs: number,
  transactions: number,
  gasUsed: bigint,
  gasLimit: bigint,
): Block {
  return {
    t: "block",
    number,
    timestamp: timestampSeconds,
    seenAt: T0 + seenMs,
    transactions,
    gasUsed: gasUsed.toString(),
    gasLimit: gasLimit.toString(),
  };
}

/**
 * A plausible two-run journal for rendering: run 1 closed loop, run 2 open loop, every trade
 * executed with two transactions and two channel payments, blocks every second.
 */
export function sampleJournal(preset?: string): JournalRecord[] {
  const records: JournalRecord[] = [testRecord(preset === undefined ? {} : { preset })];
  records.push({ t: "setup", at: T0 - 30_000, seconds: 12.5, transactions: 40 });
  let trade = 0;
  let hash = 0;
  for (const [run, start] of [
    [1, 0],
    [2, 20_000],
  ] as const) {
    records.push(
      runRecord(
        run,
        start,
        run === 1 ? { model: "closed", inFlight: 4 } : { model: "open", tradesPerSecond: 3 },
        30,
      ),
    );
    for (let i = 0; i < 30; i += 1) {
      trade += 1;
      const at = start + i * 500;
      const confirm = 300 + ((i * 137) % 1500);
      records.push(tradeStart(trade, run, at));
      records.push(tx((hash += 1), run, at, confirm, "request", { trade }));
      records.push(tx((hash += 1), run, at + confirm, confirm + 200, "confirm", { trade }));
      records.push(
        tradeEnd(trade, run, at + 2 * confirm + 400, "executed", {
          payments: 2,
          paymentSeconds: [0.004 + i / 10_000, 0.006],
        }),
      );
    }
    records.push(runEnd(run, start + 18_000));
  }
  for (let n = 0; n < 40; n += 1) {
    records.push(block(100 + n, 1_767_225_600 + n, n * 1000 + 50, 3, 3_000_000n, 30_000_000n));
  }
  records.push({ t: "done", at: T0 + 40_000 });
  return records;
}

/** Six trades of run 1: two executed, one denied, one rejected, one reverted, one never ended. */
export function mixedRun(): JournalRecord[] {
  return [
    testRecord(),
    runRecord(1, 0, { model: "closed", inFlight: 8 }, 6),
    ...[1, 2, 3, 4, 5, 6].map((trade) => tradeStart(trade, 1, trade * 100)),
    tradeEnd(1, 1, 1_100, "executed"),
    tradeEnd(2, 1, 3_200, "executed"),
    tradeEnd(3, 1, 1_300, "denied"),
    tradeEnd(4, 1, 1_400, "rejected"),
    tradeEnd(5, 1, 1_500, "failed", { reason: "revert", detail: "MarketOfferExpired" }),
    { t: "interrupted", at: T0 + 4_000, signal: "SIGINT" },
  ];
}

export async function expectOperatorError(
  run: () => Promise<unknown>,
  message: string,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).message).to.equal(message);
    return;
  }
  expect.fail(`expected OperatorError: ${message}`);
}

/** The one-line error a scenario text is refused with (fails if it is accepted). */
export function scenarioProblem(text: string): string {
  try {
    parseScenario(text, "scenario.yaml");
  } catch (error) {
    expect(error).to.be.instanceOf(OperatorError);
    return (error as OperatorError).oneLine();
  }
  throw new Error("the scenario was accepted");
}
