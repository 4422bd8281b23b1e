/**
 * Benchmark: the report of a journal ten times the paper's test (45,970 trades in five runs, three
 * transactions and two channel payments per trade, a block per second), written to a temporary
 * folder as JSONL, then read, computed and rendered as `gridchain loadtest report` does.
 * Prints the journal size, the seconds of each step and the peak resident memory.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { JournalRecord } from "../loadtest/protocol.js";
import { computeReport, readJournal, renderHtml, renderMarkdown } from "../loadtest/report.js";

const RUNS = [1128, 1836, 952, 583, 98].map((trades) => trades * 10);
const TRADES_PER_SECOND = 100;
const TARGET_SECONDS = 10;
const T0 = 1_767_225_600_000;

/** A deterministic spread of confirmation times around 0.6 s, with a tail. */
function confirmMs(n: number): number {
  const u = ((n * 2_654_435_761) % 4_294_967_296) / 4_294_967_296;
  return Math.round(200 + 800 * u + (u > 0.99 ? 1500 : 0));
}

async function writeJournal(path: string): Promise<number> {
  const out = createWriteStream(path);
  let lines = 0;
  const write = async (record: JournalRecord) => {
    lines += 1;
    if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
  };
  await write({
    t: "test",
    at: T0,
    scenario: "bench",
    preset: "paper",
    nodes: 3000,
    producers: 1000,
    consumers: 2000,
    workers: 4,
    runner: "process",
    engine: "embedded",
    chainId: 1337,
    blockPeriodSeconds: 1,
    paymentsPerTrade: 2,
    host: { cpus: 2, cpuModel: "bench", memoryGiB: 8, node: process.version },
  });
  let at = T0 + 1000;
  let trade = 0;
  let tx = 0;
  for (const [index, trades] of RUNS.entries()) {
    const run = index + 1;
    const start = at;
    await write({ t: "run", run, at: start, trades, load: { model: "closed", inFlight: 200 } });
    for (let i = 0; i < trades; i += 1) {
      trade += 1;
      const began = start + Math.floor((i * 1000) / TRADES_PER_SECOND);
      await write({
        t: "trade",
        trade,
        run,
        worker: trade % 4,
        buyer: `c${trade % 2000}`,
        at: began,
      });
      let sent = began;
      for (const kind of ["request", "confirm", "meter"] as const) {
        tx += 1;
        const minedAt = sent + confirmMs(tx);
        await write({
          t: "tx",
          trade,
          run,
          kind,
          agent: `c${trade % 2000}`,
          hash: `0x${tx.toString(16).padStart(64, "0")}`,
          sentAt: sent,
          minedAt,
          block: Math.floor((minedAt - T0) / 1000),
          status: "success",
          gasUsed: "120000",
        });
        sent = minedAt;
      }
      await write({
        t: "end",
        trade,
        run,
        outcome: "executed",
        payments: 2,
        paymentSeconds: [0.004, 0.006],
        at: sent + 20,
      });
      at = Math.max(at, sent + 20);
    }
    await write({ t: "run-end", run, at });
    at += 2000;
  }
  for (let n = 0; n * 1000 < at - T0; n += 1) {
    await write({
      t: "block",
      number: n,
      timestamp: T0 / 1000 + n,
      seenAt: T0 + n * 1000 + 30,
      transactions: 300,
      gasUsed: "36000000",
      gasLimit: "1000000000",
    });
  }
  await write({ t: "done", at });
  out.end();
  await once(out, "finish");
  return lines;
}

const dir = mkdtempSync(join(tmpdir(), "gridchain-bench-"));
try {
  const path = join(dir, "journal.jsonl");
  const lines = await writeJournal(path);
  const mib = statSync(path).size / 2 ** 20;
  const step = async <T>(run: () => T | Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    const value = await run();
    return [value, (performance.now() - started) / 1000];
  };
  const [records, readSeconds] = await step(() => readJournal(path));
  const [report, computeSeconds] = await step(() => computeReport(records));
  const [markdown, markdownSeconds] = await step(() => renderMarkdown(report));
  const [html, htmlSeconds] = await step(() => renderHtml(report));
  const total = readSeconds + computeSeconds + markdownSeconds + htmlSeconds;
  console.log(`bench:report journal: ${lines} records, ${mib.toFixed(1)} MiB, ${RUNS.length} runs`);
  console.log(
    `trades: ${report.totals.trades.signed}, transactions: ${report.totals.transactions.sent}`,
  );
  console.log(
    `read + validate: ${readSeconds.toFixed(2)} s (${Math.round(lines / readSeconds)} records/s)`,
  );
  console.log(`compute: ${computeSeconds.toFixed(2)} s`);
  console.log(`markdown: ${markdownSeconds.toFixed(3)} s (${markdown.length} chars)`);
  console.log(`html: ${htmlSeconds.toFixed(3)} s (${(html.length / 1024).toFixed(0)} KiB)`);
  console.log(`total: ${total.toFixed(2)} s (target < ${TARGET_SECONDS} s)`);
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  if (total >= TARGET_SECONDS) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
