/**
 * The load-test benchmark: brings up the consortium's embedded chain (generate, up, deploy; each
 * step a no-op when already done), measures the engine's ceiling (ceiling.ts), then runs the
 * stress ramp on standing offers and on the two-transaction path, and the paper preset, on the
 * same chain, and prints one table: setup time, knee in trades/s and tx/s, knee as a share of the
 * ceiling, the load generator's CPU per confirmed transaction (coordinator and workers, from
 * /proc), confirmation in block periods; then the issue's targets, met or missed.
 *
 *   npm run bench:loadtest -- [consortium.yaml]      (default: network/examples/loadtest-3000.yaml)
 *
 * Environment: AGENTS (default: the presets' 3000), STEP_SECONDS (stress step, default 20),
 * MAX_RATE (highest stress step, trades/s, default 800), PAPER=0 skips the paper preset.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { chainContext, rememberEngine } from "../commands/context.js";
import { deploy } from "../commands/deploy.js";
import { generate } from "../commands/generate.js";
import { loadtest } from "../commands/loadtest.js";
import { readManifest } from "../contracts/manifest.js";
import { samePortWebSocket } from "../loadtest/chain/follower.js";
import { computeReport, readJournal } from "../loadtest/report.js";
import { clientCpuSeconds, readResources } from "../loadtest/resources.js";
import { PRESETS } from "../loadtest/scenario.js";
import { measureCeiling } from "./ceiling.js";
import { presetRow, printTable, type Row } from "./loadtest-table.js";

const config = process.argv[2] ?? "network/examples/loadtest-3000.yaml";
const agents = process.env.AGENTS === undefined ? undefined : Number(process.env.AGENTS);
const stepSeconds = Number(process.env.STEP_SECONDS ?? 20);
const maxRate = Number(process.env.MAX_RATE ?? 800);
const say = (line: string) => console.log(line);

say(
  `machine: ${cpus().length} x ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} at start`,
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
const period = context.spec.consensus.blockPeriodSeconds;
const rpcUrl = context.engine.rpcUrl();

say("ceiling: pre-signed transfers from fresh accounts, JSON-RPC batches of raw transactions");
const ceiling = await measureCeiling({
  rpcUrl,
  chainId: (await readManifest(context.manifestPath)).chainId,
  blockPeriodSeconds: period,
  wsUrl: samePortWebSocket(rpcUrl),
  accounts: 200,
  perAccount: 60,
});
say(
  `ceiling: ${ceiling.confirmedPerSecond.toFixed(0)} tx/s confirmed (${ceiling.transactions} in ${ceiling.blocks} blocks; node accepted ${ceiling.acceptedPerSecond.toFixed(0)} tx/s, ${ceiling.refused} refused; sender ${ceiling.clientCpuMicrosPerTx.toFixed(0)} µs CPU/tx, signing ${ceiling.signMicrosPerTx.toFixed(0)} µs/tx before the clock)`,
);

const dir = mkdtempSync(join(tmpdir(), "gridchain-bench-loadtest-"));
/** A preset as a scenario file, with the benchmark's overrides. */
const scenarioFile = (name: "stress" | "paper", path: string): string => {
  const preset = structuredClone(PRESETS[name]) as Record<string, unknown>;
  if (agents !== undefined) preset.agents = agents;
  if (name === "stress")
    preset.stress = { ...PRESETS.stress.stress, stepSeconds, maxTradesPerSecond: maxRate };
  preset.trade = { ...(preset.trade as object), path };
  const file = join(dir, `${name}-${path}.yaml`);
  writeFileSync(file, JSON.stringify(preset));
  return file;
};

const rows: Row[] = [];
try {
  const runs: ["stress" | "paper", "standing" | "request-confirm"][] = [
    ["stress", "standing"],
    ["stress", "request-confirm"],
  ];
  if (process.env.PAPER !== "0") runs.push(["paper", "standing"]);
  for (const [preset, path] of runs) {
    say(`${preset} (${path}) ...`);
    const outcome = await loadtest(
      {
        ...options,
        scenario: scenarioFile(preset, path),
        // No /metrics: the coordinator's CPU is the load generator's alone.
        metrics: false,
        metricsPort: "9465",
        exporterPort: "9464",
        progress: false,
      },
      say,
    );
    const samples = readResources(join(outcome.outDir, "resources.jsonl"));
    const report = computeReport(await readJournal(outcome.journalPath), samples);
    rows.push(
      presetRow(`${preset} ${path}`, report, period, (from, to) =>
        clientCpuSeconds(samples, from, to),
      ),
    );
    say(`${preset} (${path}): report ${join(outcome.outDir, "report.md")}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
printTable(say, ceiling.confirmedPerSecond, rows);
process.exit(0);
