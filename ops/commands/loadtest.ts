import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import type { Progress } from "../loadtest/coordinator.js";
import type { WorkerHandle } from "../loadtest/runners/types.js";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

export type LoadTestCommandOptions = ChainOptions & {
  preset?: string;
  scenario?: string;
  runner?: "process" | "docker";
  /** Docker engines the docker runner spreads workers over (default: the local one). */
  dockerHost?: string[];
  workers?: string;
  /** standing (one `buy` per trade) or request-confirm (two transactions); overrides the scenario. */
  tradePath?: string;
  /** hub, direct or onchain: how orders are paid; overrides the scenario. */
  payments?: string;
  out?: string;
  /** Serve /metrics (load test on --metrics-port, chain and market exporter on 9464). */
  metrics: boolean;
  metricsPort: string;
  exporterPort: string;
  /** 127.0.0.1, or the compose network's gateway so that the besu engine's Prometheus scrapes. */
  metricsHost?: string;
  progress: boolean;
};

/** `gridchain loadtest`: the paper's load test, run against the consortium's running chain. */
export function register(program: Command): void {
  const command = chainOptions(
    program
      .command("loadtest")
      .description(
        "simulate trading nodes against the running market; journal, report (JSON, Markdown, HTML) and live metrics",
      ),
  )
    .option("--preset <name>", "built-in scenario: smoke, paper or stress")
    .option("--scenario <file>", "scenario YAML file (instead of a preset)")
    .option("--runner <kind>", "process (worker child processes) or docker (worker containers)")
    .option(
      "--docker-host <address>",
      "a Docker engine for the docker runner's workers (unix:///path.sock or tcp://host:port); repeat to spread workers over several",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--workers <n>", "number of workers (overrides the scenario)")
    .option(
      "--trade-path <path>",
      "standing (offers carry acceptance terms: one buy per trade) or request-confirm (two transactions); overrides the scenario",
    )
    .option(
      "--payments <topology>",
      "hub (one channel each with the grid operator's hub, any consumer buys from any producer), direct (a channel per consumer with one seller) or onchain (a transfer per order); overrides the scenario",
    )
    .option("--out <dir>", "output folder (default: network/<name>/loadtest/<time>-<scenario>)")
    .option("--no-metrics", "serve no /metrics while the test runs")
    .option("--metrics-port <port>", "port of the load test's /metrics on 127.0.0.1", "9465")
    .option("--exporter-port <port>", "port of the chain and market exporter on 127.0.0.1", "9464")
    .option(
      "--metrics-host <ip>",
      "address the metrics bind: 127.0.0.1, or the compose network's gateway for the besu engine's Prometheus",
      "127.0.0.1",
    )
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  gridchain loadtest --preset smoke",
        "  gridchain loadtest --preset stress --trade-path request-confirm",
        "  gridchain loadtest --preset smoke --payments hub",
        "  gridchain loadtest -c network/examples/loadtest-3000.yaml --preset paper",
        "  gridchain loadtest --scenario my-scenario.yaml --runner docker",
        "  gridchain loadtest --preset smoke --docker-host unix:///var/run/docker.sock --docker-host unix:///run/docker-b.sock",
        "  gridchain loadtest report network/pilot/loadtest/<run>/journal.jsonl",
      ].join("\n"),
    )
    .action(async (options: LoadTestCommandOptions) => {
      const result = await loadtest(options, (line) => console.log(line));
      console.log(result.summary);
      if (result.interrupted) process.exitCode = 130;
    });
  // Positional options (with the program's): the load test's own --out is not the report's.
  command.enablePositionalOptions();
  command
    .command("report <journal>")
    .description("recompute the report (JSON, Markdown, HTML) from a load test's journal")
    .option(
      "--payments <topology>",
      "hub (one channel each with the grid operator's hub, any consumer buys from any producer), direct (a channel per consumer with one seller) or onchain (a transfer per order); overrides the scenario",
    )
    .option("--out <dir>", "output folder (default: the journal's folder)")
    .action(async (journal: string, options: { out?: string }) => {
      const { readJournal, computeReport, renderMarkdown, writeReport } =
        await import("../loadtest/report.js");
      const { readResources } = await import("../loadtest/resources.js");
      const report = computeReport(
        await readJournal(journal),
        readResources(join(dirname(journal), "resources.jsonl")),
      );
      const dir = options.out ?? resolve(journal, "..");
      await writeReport(dir, report);
      console.log(renderMarkdown(report));
      console.log(`report written to ${dir}/report.{json,md,html}`);
    });
}

export type LoadTestOutcome = {
  outDir: string;
  journalPath: string;
  summary: string;
  interrupted: boolean;
};

/**
 * Runs a load test on the running chain of the consortium and writes its report. `signal`
 * interrupts it (the CLI wires Ctrl-C to it); the report then covers every trade started.
 */
export async function loadtest(
  options: LoadTestCommandOptions,
  log: (line: string) => void,
  hooks: {
    signal?: AbortSignal;
    onWorker?: (worker: WorkerHandle) => void;
    onProgress?: (progress: Progress) => void;
  } = {},
): Promise<LoadTestOutcome> {
  const { agentSplit, loadScenario, presetScenario } = await import("../loadtest/scenario.js");
  if (options.preset !== undefined && options.scenario !== undefined) {
    throw new OperatorError("--preset and --scenario exclude each other", {
      hint: "pick one: a built-in scenario or your file",
    });
  }
  const scenario =
    options.scenario !== undefined
      ? loadScenario(options.scenario)
      : presetScenario(options.preset ?? "smoke");
  if (options.runner !== undefined) {
    if (options.runner !== "process" && options.runner !== "docker") {
      throw new OperatorError(`--runner ${String(options.runner)} is not a runner`, {
        hint: "use process or docker",
      });
    }
    scenario.runner = options.runner;
  }
  if (options.dockerHost !== undefined && options.dockerHost.length > 0) {
    if (options.runner === "process") {
      throw new OperatorError("--docker-host is for the docker runner, not --runner process", {
        hint: "leave out --runner (--docker-host picks the docker runner), or --docker-host",
      });
    }
    scenario.runner = "docker";
  }
  if (options.workers !== undefined) {
    const workers = Number(options.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new OperatorError(`--workers ${options.workers} is not allowed`, { hint: "use 1..64" });
    }
    scenario.workers = workers;
  }
  if (options.tradePath !== undefined) {
    if (options.tradePath !== "standing" && options.tradePath !== "request-confirm") {
      throw new OperatorError(`--trade-path ${options.tradePath} is not a trade path`, {
        hint: "use standing or request-confirm",
      });
    }
    if (options.tradePath === "standing" && scenario.trade.rejectShare > 0) {
      throw new OperatorError(
        `--trade-path standing: scenario ${scenario.name} has trade.rejectShare ${scenario.trade.rejectShare}`,
        { hint: "a standing offer accepts every request within its terms; use request-confirm" },
      );
    }
    scenario.trade.path = options.tradePath;
  }
  if (options.payments !== undefined) {
    const { PAYMENT_TOPOLOGIES } = await import("../loadtest/scenario.js");
    const topology = PAYMENT_TOPOLOGIES.find((name) => name === options.payments);
    if (topology === undefined) {
      throw new OperatorError(`--payments ${options.payments} is not a payment topology`, {
        hint: `use ${PAYMENT_TOPOLOGIES.join(", ")}`,
      });
    }
    scenario.payments.topology = topology;
  }
  const metricsPort = port("--metrics-port", options.metricsPort);
  const exporterPort = port("--exporter-port", options.exporterPort);

  const context = await chainContext(options);
  const { readAccountKey, readAccounts, requireRunning } = await import("./hardhat.js");
  const { readManifest } = await import("../contracts/manifest.js");
  await requireRunning(context);
  if (!existsSync(context.manifestPath)) {
    throw new OperatorError(`no market deployed: ${context.manifestPath} is missing`, {
      hint: `run 'gridchain deploy -c ${options.config}' first`,
    });
  }
  const manifest = await readManifest(context.manifestPath);
  const rpcUrl = context.engine.rpcUrl();
  const zoneIds = new Map(context.spec.market.zones.map((zone, index) => [zone.id, index + 1]));
  const accounts = readAccounts(context.networkDir).map((account) => ({
    id: account.id,
    address: account.address as `0x${string}`,
    role: account.role,
    zone: zoneIds.get(account.zone) ?? 0,
  }));
  const keyOf = (id: string) => readAccountKey(context.networkDir, id);

  const { subnetAddress } = await import("../consortium/layout.js");
  const host = options.metricsHost ?? "127.0.0.1";
  const gateway = subnetAddress(context.spec.docker.subnet, 1);
  if (host !== "127.0.0.1" && host !== gateway) {
    throw new OperatorError(`--metrics-host ${host} is not allowed`, {
      details: "metrics name accounts and rates: they stay on this host",
      hint: `use 127.0.0.1, or ${gateway} (the compose network's gateway) for the besu engine's Prometheus`,
    });
  }
  // Every check before anything is written or served: a refused test leaves nothing behind.
  const { requireAgents, slotCapacity } = await import("../loadtest/preflight.js");
  requireAgents(scenario, accounts);
  const capacity = slotCapacity(context.spec.market, agentSplit(scenario), scenario.trade.wh);
  const { portFree } = await import("../process.js");
  if (options.metrics && !(await portFree(host, metricsPort))) {
    throw new OperatorError(`--metrics-port ${metricsPort} on ${host} is already in use`, {
      hint: "stop what listens there, pick another port with --metrics-port, or run with --no-metrics",
    });
  }
  const docker = scenario.runner === "docker" ? await dockerEngines(options.dockerHost) : undefined;

  const base = join(context.networkDir, "loadtest");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outDir = resolve(options.out ?? join(base, `${stamp}-${scenario.name}`));
  const storeDir = resolve(join(base, "channels"));
  mkdirSync(outDir, { recursive: true });
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });

  const runner = await makeRunner(scenario, docker, outDir, storeDir, log);
  const { LoadTestMetrics } = await import("../loadtest/metrics.js");
  const metrics = new LoadTestMetrics();
  const closers: (() => Promise<void>)[] = [];
  if (options.metrics) {
    const { serveMetrics } = await import("../metrics/server.js");
    const server = await serveMetrics(metrics.registry, { host, port: metricsPort });
    closers.push(server.close);
    log(`load-test metrics: ${server.url}`);
    if (await portFree(host, exporterPort)) {
      const { marketAddresses, startExporter } = await import("../metrics/exporter.js");
      const { governanceRecordPath, readGovernanceRecord } =
        await import("../governance/deploy.js");
      const exporter = await startExporter({
        rpcUrl,
        market: await marketAddresses(rpcUrl, manifest),
        // The members' governance `gridchain deploy` wired, for the dashboard's Governance row.
        governance: readGovernanceRecord(governanceRecordPath(context.manifestPath)),
        besu: context.kind === "besu" ? context.spec.consensus.protocol : undefined,
        host,
        port: exporterPort,
      });
      closers.push(exporter.close);
      log(`chain and market metrics: ${exporter.url}`);
      await exporterCaughtUp(exporter.registry, rpcUrl, log);
    } else {
      log(`port ${exporterPort} is busy (an exporter already runs?): using it as it is`);
    }
  }

  const controller = new AbortController();
  hooks.signal?.addEventListener("abort", () => controller.abort());
  const onSignal = () => {
    log("interrupted: ending the trades in flight and writing the report");
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const bar = options.progress && process.stderr.isTTY ? await progressBar() : undefined;
  const { runLoadTest } = await import("../loadtest/coordinator.js");
  const { samePortWebSocket } = await import("../loadtest/chain/follower.js");
  const { gridchainVersion } = await import("../version.js");
  const { chainTargets, readResources, sampleResources } = await import("../loadtest/resources.js");
  const chain = await chainTargets(await context.engine.status());
  const workerPids = new Map<number, number>();
  const sampler = sampleResources({
    file: join(outDir, "resources.jsonl"),
    targets: () => [
      ...chain,
      { name: "coordinator", pid: process.pid },
      ...[...workerPids].map(([id, pid]) => ({ name: `worker ${id}`, pid })),
    ],
  });
  let result;
  try {
    result = await runLoadTest({
      scenario,
      preset: options.scenario === undefined ? (options.preset ?? "smoke") : undefined,
      about: { network: context.spec.name, gridchain: gridchainVersion() },
      rpcUrl,
      // anvil serves WebSocket JSON-RPC on its HTTP port; Besu's WebSocket port is not published.
      ...(context.kind === "embedded" ? { wsUrl: samePortWebSocket(rpcUrl) } : {}),
      chainId: manifest.chainId,
      engine: context.kind,
      blockPeriodSeconds: context.spec.consensus.blockPeriodSeconds,
      capacity,
      contracts: {
        market: manifest.contracts.EnergyMarket.proxy as `0x${string}`,
        review: manifest.contracts.GridReview.proxy as `0x${string}`,
        credit: manifest.contracts.GridCredit.proxy as `0x${string}`,
        channels: manifest.contracts.PaymentChannels.proxy as `0x${string}`,
      },
      accounts,
      keyOf,
      runner,
      outDir,
      storeDir,
      metrics,
      signal: controller.signal,
      onProgress: (progress) => {
        bar?.update(progress);
        hooks.onProgress?.(progress);
      },
      onWorker: (worker) => {
        if (worker.pid !== undefined) workerPids.set(worker.id, worker.pid);
        hooks.onWorker?.(worker);
      },
      log: (line) => (bar ? bar.log(line) : log(line)),
    });
  } finally {
    await sampler.stop();
    bar?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const close of closers) await close();
  }
  const { readJournal, computeReport, renderMarkdown, writeReport } =
    await import("../loadtest/report.js");
  const report = computeReport(
    await readJournal(result.journalPath),
    readResources(join(outDir, "resources.jsonl")),
  );
  await writeReport(outDir, report);
  return {
    outDir,
    journalPath: result.journalPath,
    interrupted: result.interrupted,
    summary: `${renderMarkdown(report)}\nreport: ${join(outDir, "report.html")} (also report.md, report.json; journal ${result.journalPath})`,
  };
}

/**
 * Waits (at most two minutes) until the exporter has read the market's past events: on a chain
 * with a long history its catch-up would otherwise compete with the test's first minute.
 */
async function exporterCaughtUp(
  registry: import("prom-client").Registry,
  rpcUrl: string,
  log: (line: string) => void,
): Promise<void> {
  const { rpcCall } = await import("../engines/rpc.js");
  const head = Number(BigInt(await rpcCall<string>(rpcUrl, "eth_blockNumber")));
  const read = async () => {
    const metric = registry.getSingleMetric("gridchain_exporter_last_block");
    const value = (await metric?.get())?.values[0]?.value ?? 0;
    return value;
  };
  const started = Date.now();
  if ((await read()) >= head) return;
  while ((await read()) < head && Date.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  log(
    `exporter: read the market's past events up to block ${head} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    throw new OperatorError(`${flag} ${value} is not a TCP port`, { hint: "use 1..65535" });
  }
  return n;
}

/** The Docker engines the docker runner uses, each checked to answer before the test starts. */
async function dockerEngines(addresses: readonly string[] = []) {
  const { default: Docker } = await import("dockerode");
  const { dockerEngine } = await import("../loadtest/runners/spread.js");
  const engines =
    addresses.length === 0
      ? [{ address: "the local engine", docker: new Docker() }]
      : addresses.map((address) => ({ address, docker: dockerEngine(address) }));
  for (const { address, docker } of engines) {
    try {
      await docker.ping();
    } catch (cause) {
      throw new OperatorError(`the docker runner needs ${address}, and it does not answer`, {
        details: (cause as Error).message,
        hint: "start dockerd there, leave it out of --docker-host, or use --runner process",
        cause,
      });
    }
  }
  return engines.map(({ docker }) => docker);
}

async function makeRunner(
  scenario: import("../loadtest/scenario.js").Scenario,
  engines: import("dockerode")[] | undefined,
  outDir: string,
  storeDir: string,
  log: (line: string) => void,
) {
  if (engines === undefined) {
    const { processRunner } = await import("../loadtest/runners/process.js");
    return processRunner();
  }
  const { dockerRunner } = await import("../loadtest/runners/docker.js");
  const { ensureClientImage } = await import("../loadtest/runners/image.js");
  const runners = [];
  for (const [index, docker] of engines.entries()) {
    // Each engine builds the client image itself: no registry is needed between them.
    const image = await ensureClientImage(docker);
    log(`docker runner: image ${image}${engines.length > 1 ? ` on engine ${index + 1}` : ""}`);
    runners.push(
      dockerRunner({
        docker,
        testId: outDir.split("/").at(-1)!,
        image,
        cpus: scenario.docker.cpus,
        memoryBytes: scenario.docker.memoryMiB * 2 ** 20,
        mounts: [
          { hostPath: outDir, readOnly: false },
          { hostPath: storeDir, readOnly: false },
        ],
      }),
    );
  }
  if (runners.length === 1) return runners[0]!;
  const { pingEngine, spreadRunner } = await import("../loadtest/runners/spread.js");
  return spreadRunner(
    runners.map((runner, index) => ({ runner, ping: () => pingEngine(engines[index]!) })),
    log,
  );
}

/** A progress bar on stderr: trades ended of the run, executed and failed so far. */
async function progressBar() {
  const { SingleBar, Presets } = await import("cli-progress");
  const bar = new SingleBar(
    {
      format:
        "{phase} run {run}/{runs} |{bar}| {value}/{total} trades | executed {executed} | failed {failed}",
      hideCursor: true,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress: Progress) {
      const total = progress.total ?? Math.max(progress.started, 1);
      const payload = {
        phase: progress.phase,
        run: progress.run,
        runs: progress.runs,
        executed: progress.executed,
        failed: progress.failed,
      };
      if (!started) {
        bar.start(total, progress.ended, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(progress.ended, payload);
      }
    },
    log(line: string) {
      if (started) process.stderr.write("\n");
      console.log(line);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
