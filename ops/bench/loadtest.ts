/**
 * The load-test benchmark: brings up the consortium's embedded chain (generate, up, deploy; each
 * step a no-op when already done), runs a load-test preset on it and prints the report with the
 * issue's targets checked against the measured numbers.
 *
 *   npm run bench:loadtest -- [preset] [consortium.yaml]     (default: paper on loadtest-3000)
 */
import { cpus, totalmem } from "node:os";
import { chainContext, rememberEngine } from "../commands/context.js";
import { deploy } from "../commands/deploy.js";
import { generate } from "../commands/generate.js";
import { loadtest } from "../commands/loadtest.js";
import { computeReport, readJournal } from "../loadtest/report.js";

const preset = process.argv[2] ?? "paper";
const config = process.argv[3] ?? "network/examples/loadtest-3000.yaml";
const say = (line: string) => console.log(line);

say(
  `machine: ${cpus().length} x ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
);
for (const line of await generate({ config, rotate: false })) say(line);
const options = { config, engine: "embedded" as const };
const context = await chainContext(options);
if (!(await context.engine.status()).running) {
  await context.engine.up();
  rememberEngine(context);
  await context.engine.ready();
}
for (const line of await deploy(options, say)) say(line);

const outcome = await loadtest(
  {
    ...options,
    preset,
    metrics: true,
    metricsPort: "9465",
    exporterPort: "9464",
    progress: true,
  },
  say,
);
say(outcome.summary);

const report = computeReport(await readJournal(outcome.journalPath));
const { totals } = report;
const period = context.spec.consensus.blockPeriodSeconds;
const checks: [string, boolean][] = [];
if (preset === "paper") {
  checks.push(["0 failed trades", totals.trades.failed === 0]);
  checks.push(["confirmation p50 <= 1.0 s", (totals.confirmation.p50 ?? Infinity) <= 1.0]);
  checks.push(["confirmation p99 <= 2.0 s", (totals.confirmation.p99 ?? Infinity) <= 2.0]);
}
if (preset === "stress") {
  checks.push([`knee found (success >= 99.9%, p99 <= ${2 * period} s)`, report.knee !== null]);
  checks.push([">= 200 trades/s at the knee", (report.knee?.tradesPerSecond ?? 0) >= 200]);
}
if (totals.payments.count > 0) {
  checks.push([
    "off-chain payments >= 10x on-chain transaction rate",
    (totals.payments.ratioToTransactions ?? 0) >= 10,
  ]);
}
for (const [what, ok] of checks) say(`${ok ? "MET   " : "MISSED"} ${what}`);
process.exit(0);
