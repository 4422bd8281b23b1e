import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { z } from "zod/v4";
import { OperatorError } from "../errors.js";
import { FAILURE_REASONS, TRADE_OUTCOMES, TRANSACTION_KINDS } from "../metrics/catalogue.js";
import type { JournalRecord } from "./protocol.js";
import { describeIssue } from "../yaml-issues.js";

const time = z.number().finite().nonnegative();
const count = z.number().int().nonnegative();
const decimal = z.string().regex(/^\d+$/, "a decimal integer string");
const signedDecimal = z.string().regex(/^-?\d+$/, "a decimal integer string");

/** One schema per record type of protocol.ts; unknown extra fields are dropped, not rejected. */
const RECORD_SCHEMAS = {
  test: z.object({
    t: z.literal("test"),
    at: time,
    scenario: z.string(),
    preset: z.string().optional(),
    nodes: count,
    producers: count,
    consumers: count,
    workers: count,
    runner: z.enum(["process", "docker"]),
    engine: z.string(),
    chainId: count,
    blockPeriodSeconds: z.number().finite().positive(),
    paymentsPerTrade: count,
    tradePath: z.enum(["standing", "request-confirm"]).optional(),
    topology: z.enum(["hub", "direct", "onchain"]).optional(),
    stress: z
      .object({
        successFloor: z.number().min(0).max(1),
        p99BlockPeriods: z.number().positive(),
      })
      .optional(),
    host: z.object({
      cpus: count,
      cpuModel: z.string(),
      memoryGiB: z.number().finite().nonnegative(),
      node: z.string(),
    }),
    network: z.string().optional(),
    gridchain: z.object({ version: z.string(), commit: z.string().optional() }).optional(),
    contracts: z
      .object({ market: z.string(), review: z.string(), credit: z.string(), channels: z.string() })
      .optional(),
  }),
  setup: z.object({
    t: z.literal("setup"),
    at: time,
    seconds: z.number().finite(),
    transactions: count,
    phases: z.record(z.string(), z.number().finite().nonnegative()).optional(),
  }),
  offers: z.object({
    t: z.literal("offers"),
    run: count,
    at: time,
    seconds: z.number().finite().nonnegative(),
    offers: count,
  }),
  payments: z.object({
    t: z.literal("payments"),
    at: time,
    topology: z.enum(["hub", "direct", "onchain"]),
    hub: z.string().optional(),
    feePerKwh: decimal.optional(),
    plannedTrades: count.optional(),
    plannedLiquidity: decimal.optional(),
    deposited: decimal.optional(),
    channels: count.optional(),
    netBefore: signedDecimal.optional(),
  }),
  "hub-end": z.object({
    t: z.literal("hub-end"),
    at: time,
    mediated: count,
    released: count,
    lockedIn: decimal,
    lockedOut: decimal,
    net: signedDecimal,
  }),
  run: z.object({
    t: z.literal("run"),
    run: count,
    at: time,
    trades: count.optional(),
    durationSeconds: z.number().finite().positive().optional(),
    load: z.discriminatedUnion("model", [
      z.object({ model: z.literal("open"), tradesPerSecond: z.number().finite().positive() }),
      z.object({ model: z.literal("closed"), inFlight: z.number().int().positive() }),
    ]),
  }),
  trade: z.object({
    t: z.literal("trade"),
    trade: count,
    run: count,
    worker: count,
    buyer: z.string(),
    at: time,
  }),
  tx: z.object({
    t: z.literal("tx"),
    trade: count.optional(),
    run: count.optional(),
    kind: z.enum(TRANSACTION_KINDS),
    agent: z.string(),
    hash: z.string(),
    sentAt: time,
    acceptedAt: time.optional(),
    minedAt: time.optional(),
    block: count.optional(),
    status: z.enum(["success", "reverted", "lost"]),
    gasUsed: decimal.optional(),
    resent: count.optional(),
  }),
  end: z.object({
    t: z.literal("end"),
    trade: count,
    run: count,
    outcome: z.enum(TRADE_OUTCOMES),
    reason: z.enum(FAILURE_REASONS).optional(),
    detail: z.string().optional(),
    orderId: z.string().optional(),
    seller: z.string().optional(),
    payments: count,
    paymentSeconds: z.array(z.number().finite().nonnegative()),
    failedPayments: count.optional(),
    at: time,
  }),
  block: z.object({
    t: z.literal("block"),
    number: count,
    timestamp: time,
    seenAt: time,
    announcedAt: time.optional(),
    transactions: count,
    gasUsed: decimal,
    gasLimit: decimal,
  }),
  "run-end": z.object({ t: z.literal("run-end"), run: count, at: time }),
  metered: z.object({
    t: z.literal("metered"),
    trade: count,
    run: count,
    orderId: decimal,
    deliveredWh: decimal,
    outcome: z.enum(["delivered", "default settled", "failed"]),
    detail: z.string().optional(),
    at: time,
  }),
  "metering-skipped": z.object({
    t: z.literal("metering-skipped"),
    at: time,
    windowEnd: time,
    detail: z.string(),
  }),
  "grid-income": z.object({
    t: z.literal("grid-income"),
    phase: z.enum(["before", "after"]),
    at: time,
    credits: decimal,
  }),
  "worker-lost": z.object({
    t: z.literal("worker-lost"),
    worker: count,
    at: time,
    detail: z.string(),
  }),
  interrupted: z.object({ t: z.literal("interrupted"), at: time, signal: z.string() }),
  done: z.object({ t: z.literal("done"), at: time }),
} as const;

const RECORD_TYPES = Object.keys(RECORD_SCHEMAS) as (keyof typeof RECORD_SCHEMAS)[];

/**
 * Reads a load-test journal (one JSON record per line). The coordinator appends whole lines, so a
 * crash can only tear the last one: a last line that does not parse is ignored. Any other line that
 * is not a valid record is an error naming the file, the line and the field. Blank lines are skipped.
 */
export async function readJournal(path: string): Promise<JournalRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new OperatorError(`${path}: cannot read the journal`, {
      details: (error as Error).message,
      hint: "pass the journal.jsonl the load test wrote",
    });
  }
  return parseJournal(text, path);
}

/** Parses journal text; `file` names it in errors. */
export function parseJournal(text: string, file: string): JournalRecord[] {
  const lines = text.split("\n");
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === "") last -= 1;
  const records: JournalRecord[] = [];
  for (let index = 0; index <= last; index += 1) {
    const line = lines[index]!;
    if (line.trim() === "") continue;
    const fail = (what: string, hint?: string): never => {
      throw new OperatorError(`${file}: line ${index + 1}: ${what}`, {
        hint: hint ?? "the journal is written by the load-test coordinator; do not edit it",
      });
    };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      // The last line of a journal cut short by a crash.
      if (index === last) break;
      fail(`not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      fail("a record must be a JSON object");
    }
    const type = (value as { t?: unknown }).t;
    if (typeof type !== "string" || !(RECORD_TYPES as string[]).includes(type)) {
      fail(`t: unknown record type ${JSON.stringify(type)}; allowed: ${RECORD_TYPES.join(", ")}`);
    }
    const schema = RECORD_SCHEMAS[type as keyof typeof RECORD_SCHEMAS];
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const { path, what } = describeIssue(parsed.error.issues[0]!, value, schema);
      fail(`${type} record: ${path || "(record)"}: ${what}`);
    }
    records.push(parsed.data as JournalRecord);
  }
  // Every journal the coordinator writes opens with the test record: without it, the file is
  // something else (or empty), and a report of it would be an empty report that looks real.
  if (records[0]?.t !== "test") {
    throw new OperatorError(`${file}: not a load-test journal`, {
      details:
        records.length === 0
          ? "it holds no record"
          : `its first record is a ${records[0]!.t} record, not the test record`,
      hint: "pass the journal.jsonl a load test wrote (network/<name>/loadtest/<run>/journal.jsonl)",
    });
  }
  return records;
}

/**
 * The test's journal: one JSON record per line, appended in the order the coordinator learns
 * facts. Lines are written in groups every `flushMs` and on close, then fsynced, so that an
 * interrupted test keeps every record up to its last flush and the report is rebuilt from it.
 */
export class Journal {
  private readonly fd: number;
  private pending: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly path: string,
    flushMs = 250,
  ) {
    this.fd = openSync(path, "a", 0o644);
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  write(record: JournalRecord): void {
    if (this.closed) throw new Error(`journal ${this.path} is closed`);
    this.pending.push(JSON.stringify(record));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
  }
}
