/**
 * Load-test setup time by size: for each agent count, a fresh embedded chain from the consortium
 * (generate, up, deploy into a temporary folder), then a bounded load test (20 trades, no
 * metering) whose setup is what is measured: the grid operator's mints, the producers' bonds, one
 * channel per participant with the hub and its deposits (or the scenario's topology), then the
 * first offers. Prints one row per size from the test's journal; the chain is stopped after each.
 *
 *   npm run bench:setup -- [consortium.yaml]
 *
 * Without a file: one grid validator, one producer organisation, as many accounts as agents (a fifth
 * of them producers) in two zones, 1 s blocks.
 *
 * Environment: SIZES (default "300,1000,3000"), PAYMENTS (hub, direct or onchain; default hub).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { chainContext, rememberEngine } from "../commands/context.js";
import { deploy } from "../commands/deploy.js";
import { generate } from "../commands/generate.js";
import { loadtest } from "../commands/loadtest.js";
import { computeReport, readJournal } from "../loadtest/report.js";

const source = process.argv[2];
/** One grid validator, one producer organisation, the agents' accounts in two zones. */
const consortium = (agents: number) => `name: setupbench
chainId: 3001
consensus:
  blockPeriodSeconds: 1
organisations:
  - id: grid
    role: grid-operator
    zone: north
    validators: 1
  - id: solar
    role: producer
    zone: south
    validators: 1
accounts:
  producers: ${Math.round(agents * 0.2)}
  consumers: ${agents - Math.round(agents * 0.2)}
market:
  zones:
    - { id: north, importKw: 100000, exportKw: 100000 }
    - { id: south, importKw: 100000, exportKw: 100000 }
  startingCredits:
    producer: "100"
    consumer: "1000"
engine:
  embedded:
    port: 18645
`;
const sizes = (process.env.SIZES ?? "300,1000,3000").split(",").map(Number);
const topology = process.env.PAYMENTS ?? "hub";
const say = (line: string) => console.log(line);

say(
  `machine: ${cpus().length} x ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} at start`,
);
const rows: string[] = [];
for (const agents of sizes) {
  const dir = mkdtempSync(join(tmpdir(), "gridchain-bench-setup-"));
  const config = join(dir, "consortium.yaml");
  writeFileSync(config, source === undefined ? consortium(agents) : readFileSync(source, "utf8"));
  const options = {
    config,
    network: join(dir, "network"),
    manifest: join(dir, "deployment.json"),
    engine: "embedded" as const,
  };
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(
    scenario,
    JSON.stringify({
      name: `setup-${agents}`,
      agents,
      producerShare: 0.2,
      runs: [{ trades: 20 }],
      load: { model: "open", tradesPerSecond: 20 },
      trade: { wh: 500, paymentsPerTrade: 1 },
      payments: { topology },
      workers: 2,
    }),
  );
  await generate({ config, out: options.network, rotate: false });
  const context = await chainContext(options);
  try {
    await context.engine.up();
    rememberEngine(context);
    await context.engine.ready();
    await deploy(options, () => {});
    const outcome = await loadtest(
      {
        ...options,
        scenario,
        metrics: false,
        metricsPort: "9465",
        exporterPort: "9464",
        progress: false,
      },
      () => {},
    );
    const report = computeReport(await readJournal(outcome.journalPath));
    const setup = report.setup!;
    const phases = Object.entries(setup.phases)
      .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`)
      .join(", ");
    const row = `| ${agents} | ${topology} | ${setup.seconds.toFixed(1)} | ${setup.transactions} | ${report.payments?.channelsOpened ?? 0} | ${setup.offersSeconds.toFixed(1)} | ${phases} | ${report.totals.trades.executed}/${report.totals.trades.signed} |`;
    say(row);
    rows.push(row);
  } finally {
    await context.engine.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
say("");
say(
  "| agents | payments | setup (s) | setup transactions | channels opened | first offers (s) | phases (s, overlapping) | executed |",
);
say("|---:|---|---:|---:|---:|---:|---|---:|");
for (const row of rows) say(row);
process.exit(0);
