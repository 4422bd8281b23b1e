/**
 * Where confirmation time goes in a load test, from its journal:
 *   npm run bench:confirmation -- <journal.jsonl> [block period seconds] [kind,kind]
 * Prints, per part (wait for the block, learning of it), p50 / p95 / p99 in seconds and in block
 * periods, and where in the period the sends fell. See ops/loadtest/latency.ts.
 */
import { confirmationParts } from "../loadtest/latency.js";
import { readJournal } from "../loadtest/report.js";

const [path, periodArg, kindsArg] = process.argv.slice(2);
if (path === undefined) {
  console.error("usage: npm run bench:confirmation -- <journal.jsonl> [period s] [kinds]");
  process.exit(2);
}
const records = await readJournal(path);
const test = records.find((record) => record.t === "test");
const period = Number(periodArg ?? (test?.t === "test" ? test.blockPeriodSeconds : 1));
const parts = confirmationParts(records, kindsArg?.split(","));
const cell = (value: number | null, scale = 1) =>
  value === null ? "—" : (value / scale).toFixed(3);
console.log(`${parts.transactions} transactions, block period ${period} s`);
console.log("part                      p50 s   p95 s   p99 s   p50 per.  p99 per.");
for (const [name, s] of [
  ["send -> node took it", parts.intake],
  ["send -> newHeads", parts.waitForBlock],
  ["newHeads -> receipt", parts.learn],
  ["confirmation", parts.confirmation],
] as const) {
  console.log(
    `${name.padEnd(24)}  ${cell(s.p50).padStart(6)}  ${cell(s.p95).padStart(6)}  ${cell(s.p99).padStart(6)}  ${cell(s.p50, period).padStart(8)}  ${cell(s.p99, period).padStart(8)}`,
  );
}
console.log(
  `send phase in the period: p50 ${cell(parts.sendPhase.p50)}, mean ${cell(parts.sendPhase.mean)} (even sends: 0.5)`,
);
