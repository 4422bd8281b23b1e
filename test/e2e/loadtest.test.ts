import { expect } from "chai";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { loadtest, type LoadTestCommandOptions } from "../../ops/commands/loadtest.js";
import { readManifest } from "../../ops/contracts/index.js";
import type { JournalRecord } from "../../ops/loadtest/protocol.js";
import { computeReport, readJournal } from "../../ops/loadtest/report.js";
import { readResources } from "../../ops/loadtest/resources.js";
import {
  EnergyMarket__factory,
  GridReview__factory,
  PaymentChannels__factory,
} from "../../types/ethers-contracts/index.js";
import { marketDashboard, dashboardExpressions } from "../../monitoring/grafana/dashboards.js";
import { LocalPrometheus } from "../../ops/metrics/local-prometheus.js";
import {
  alertRules,
  gridchainJobs,
  recordingRules,
  renderPrometheusConfig,
  yaml,
} from "../../ops/metrics/prometheus.js";
import { gridchain, smallConsortiumYaml } from "../support/cli.js";
import { freePort } from "../support/net.js";
import { startSecondDockerd } from "../helpers/dockerd.js";

type QueryResult = { status: string; error?: string; data?: { result: unknown[] } };

async function query(base: string, expr: string): Promise<QueryResult> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResult;
}

/**
 * While the load test still serves its metrics: every expression of the market / load dashboard
 * and every recording rule returns data from a real Prometheus scraping the exporter and the test.
 */
async function checkPrometheus(base: string): Promise<{ empty: string[]; failed: string[] }> {
  const deadline = Date.now() + 30_000;
  // Rates need two scrapes of a moving counter inside their window.
  for (;;) {
    const ready = await query(base, "gridchain:trades_per_second:rate1m").catch(() => undefined);
    if ((ready?.data?.result.length ?? 0) > 0) break;
    if (Date.now() > deadline) throw new Error("Prometheus never saw the load test trade");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const empty: string[] = [];
  const failed: string[] = [];
  const expressions = dashboardExpressions(marketDashboard()).map(({ panel, expr }) => ({
    what: `${panel}: ${expr}`,
    expr: expr.replaceAll("$node", ".*"),
  }));
  const records = recordingRules().groups.flatMap((group) =>
    group.rules.map((rule) => ("record" in rule ? rule.record : "")),
  );
  for (const { what, expr } of [
    ...expressions,
    ...records.map((record) => ({ what: `rule ${record}`, expr: record })),
  ]) {
    const result = await query(base, expr);
    if (result.status !== "success") failed.push(`${what}: ${result.error}`);
    else if (result.data!.result.length === 0) empty.push(what);
  }
  return { empty, failed };
}

/** Every trade started ends exactly once; returns ends by trade. */
/** dockerode, once a Docker engine answers; skips the test without one (CI must have one). */
async function requireDocker(context: Mocha.Context) {
  const Docker = (await import("dockerode")).default;
  try {
    await new Docker().ping();
  } catch (error) {
    if (process.env.CI) throw new Error(`CI needs a Docker engine: ${(error as Error).message}`);
    context.skip();
  }
  return Docker;
}

function endsByTrade(records: JournalRecord[]) {
  const started = records.filter((record) => record.t === "trade");
  const ends = new Map<number, Extract<JournalRecord, { t: "end" }>>();
  for (const record of records) {
    if (record.t !== "end") continue;
    expect(ends.has(record.trade), `trade ${record.trade} ended twice`).to.equal(false);
    ends.set(record.trade, record);
  }
  expect([...ends.keys()].sort((a, b) => a - b)).to.deep.equal(
    started.map((record) => record.trade).sort((a, b) => a - b),
  );
  return ends;
}

function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

describe("gridchain loadtest end to end (embedded engine)", function () {
  this.timeout(300_000);
  let dir: string;
  let config: string;
  let networkDir: string;
  let manifestPath: string;
  let rpc: string;
  const name = `lt${process.pid}`;

  const options = async (
    extra: Partial<LoadTestCommandOptions>,
  ): Promise<LoadTestCommandOptions> => ({
    config,
    network: networkDir,
    manifest: manifestPath,
    metrics: true,
    metricsPort: String(await freePort()),
    exporterPort: String(await freePort()),
    progress: false,
    ...extra,
  });

  const scenarioFile = async (file: string, text: string) => {
    const path = join(dir, file);
    await writeFile(path, text);
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-loadtest-"));
    const port = await freePort();
    rpc = `http://127.0.0.1:${port}`;
    config = join(dir, "consortium.yaml");
    networkDir = join(dir, "network");
    manifestPath = join(dir, "deployments", `${name}.json`);
    await writeFile(
      config,
      smallConsortiumYaml({
        name,
        chainId: 43_000 + (process.pid % 1000),
        port,
        // The smoke preset's size, with 20 s delivery slots so that metering runs.
        producers: 4,
        consumers: 8,
        zoneKw: 4000,
        slotSeconds: 20,
        startingCredits: { consumer: "100", producer: "100" },
      }),
    );
    const chain = ["-c", config, "--network", networkDir, "--manifest", manifestPath];
    for (const step of [
      ["generate", "-c", config, "--out", networkDir],
      ["up", ...chain],
      ["deploy", ...chain],
    ]) {
      const run = await gridchain(...step);
      expect(run.code, `${step[0]}: ${run.stderr}`).to.equal(0);
    }
  });

  after(async () => {
    await gridchain("down", "-c", config, "--network", networkDir, "--manifest", manifestPath);
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the smoke preset: every trade ends, the report is the journal's, the chain agrees, every dashboard query has data", async function () {
    const ports = { exporter: await freePort(), loadtest: await freePort() };
    const promDir = join(dir, "prometheus");
    await mkdir(promDir, { recursive: true });
    await writeFile(join(promDir, "recording.yml"), yaml(recordingRules()));
    await writeFile(
      join(promDir, "alerts.yml"),
      yaml(alertRules({ blockPeriodSeconds: 1, minPeers: 1 })),
    );
    await writeFile(
      join(promDir, "prometheus.yml"),
      renderPrometheusConfig({
        scrapeInterval: "1s",
        ruleFiles: [join(promDir, "recording.yml"), join(promDir, "alerts.yml")],
        jobs: gridchainJobs("127.0.0.1", name, ports),
      }),
    );
    const prometheus = new LocalPrometheus({
      configFile: join(promDir, "prometheus.yml"),
      dataDir: join(promDir, "data"),
      stateDir: promDir,
      port: await freePort(),
    });
    await prometheus.up();
    let checked: Promise<{ empty: string[]; failed: string[] }> | undefined;
    const lines: string[] = [];
    let outcome;
    try {
      outcome = await loadtest(
        await options({
          preset: "smoke",
          payments: "hub",
          metricsPort: String(ports.loadtest),
          exporterPort: String(ports.exporter),
        }),
        (line) => lines.push(line),
        {
          onProgress: (progress) => {
            // Metering waits for the delivery windows: the metrics are still served meanwhile.
            if (progress.phase === "metering" && checked === undefined)
              checked = checkPrometheus(prometheus.url);
          },
        },
      );
    } finally {
      await prometheus.down();
    }
    expect(checked, "the test never reached metering").to.not.equal(undefined);
    expect(await checked).to.deep.equal({ empty: [], failed: [] });
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    expect(ends.size).to.equal(60);
    const outcomes = [...ends.values()].map((end) => end.outcome);
    const count = (what: string) => outcomes.filter((outcome) => outcome === what).length;
    expect(
      count("failed"),
      JSON.stringify([...ends.values()].filter((end) => end.outcome === "failed")),
    ).to.equal(0);
    expect(count("executed") + count("denied")).to.equal(60);
    // Offers are published before the runs: their transactions count in no run's figures.
    const publishes = records.filter((record) => record.t === "tx" && record.kind === "publish");
    expect(publishes.length).to.be.greaterThan(0);
    expect(
      publishes.filter((record) => record.t === "tx" && record.run !== undefined),
    ).to.deep.equal([]);
    // Standing offers: each trade is one buy, and nothing else of the trade goes on chain.
    const tradeTxs = records.filter(
      (record) => record.t === "tx" && record.trade !== undefined && record.kind !== "meter",
    ) as Extract<JournalRecord, { t: "tx" }>[];
    expect(
      tradeTxs.filter((tx) => tx.kind !== "settle_default").map((tx) => tx.kind),
    ).to.deep.equal(Array(60).fill("buy"));

    // The report, recomputed here from the journal's raw records and the resource samples.
    const report = computeReport(records, readResources(join(outcome.outDir, "resources.jsonl")));
    const saved = JSON.parse(readFileSync(join(outcome.outDir, "report.json"), "utf8"));
    expect(saved).to.deep.equal(JSON.parse(JSON.stringify(report)));
    // The chain, the coordinator and both process workers were sampled over the run.
    expect(report.resources.map((use) => use.name).sort()).to.deep.equal([
      "chain (anvil)",
      "coordinator",
      "worker 0",
      "worker 1",
    ]);
    expect(report.resources.every((use) => use.samples >= 2 && use.rssPeakMiB > 0)).to.equal(true);
    expect(report.test?.network).to.equal(name);
    expect(report.test?.contracts?.market).to.equal(
      (await readManifest(manifestPath)).contracts.EnergyMarket.proxy,
    );
    const txs = records.filter(
      (record) => record.t === "tx" && record.minedAt !== undefined && record.run !== undefined,
    ) as Extract<JournalRecord, { t: "tx" }>[];
    const seconds = txs.map((tx) => (tx.minedAt! - tx.sentAt) / 1000);
    expect(report.totals.trades.signed).to.equal(60);
    expect(report.totals.trades.executed).to.equal(count("executed"));
    expect(report.totals.transactions.perExecutedTrade).to.equal(60 / count("executed"));
    expect(report.totals.trades.successRate).to.equal(1);
    expect(report.totals.confirmation.p50).to.equal(nearestRank(seconds, 0.5));
    expect(report.totals.confirmation.p99).to.equal(nearestRank(seconds, 0.99));
    // Paid through the hub: one lock per executed order, any consumer buying from any producer.
    const executedEnds = [...ends.values()].filter((end) => end.outcome === "executed");
    expect(executedEnds.map((end) => end.payments)).to.deep.equal(executedEnds.map(() => 1));
    const buyerOf = new Map(
      records.flatMap((r) => (r.t === "trade" ? [[r.trade, r.buyer] as const] : [])),
    );
    const pairs = new Set(executedEnds.map((end) => `${buyerOf.get(end.trade)}>${end.seller}`));
    expect(new Set(executedEnds.map((end) => end.seller)).size).to.equal(4);
    expect(pairs.size).to.be.greaterThan(8);
    expect(report.payments).to.include({
      topology: "hub",
      participants: 12,
      channelsOpened: 12,
      payments: count("executed"),
      tradedPairs: pairs.size,
    });
    expect(report.payments!.mediatedPerSecond).to.be.greaterThan(0);

    // Every executed trade is an established (or since metered) order on chain, with the buyer.
    const manifest = await readManifest(manifestPath);
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      const market = EnergyMarket__factory.connect(manifest.contracts.EnergyMarket.proxy, provider);
      const starts = new Map(
        records.filter((r) => r.t === "trade").map((r) => [r.trade, r] as const),
      );
      const accounts = JSON.parse(readFileSync(join(networkDir, "accounts.json"), "utf8")) as {
        id: string;
        address: string;
      }[];
      for (const end of ends.values()) {
        if (end.outcome !== "executed") continue;
        const order = await market.getOrder(BigInt(end.orderId!));
        expect(Number(order.status), `order ${end.orderId}`).to.be.oneOf([7, 8, 9, 10]);
        const buyer = accounts.find((account) => account.id === starts.get(end.trade)!.buyer)!;
        expect(order.buyer.toLowerCase()).to.equal(buyer.address.toLowerCase());
      }
      // Metering ran on the 20 s slots: a sample of orders delivered, the shortfalls settled.
      const metered = records.filter((record) => record.t === "metered") as Extract<
        JournalRecord,
        { t: "metered" }
      >[];
      expect(metered.length).to.be.greaterThan(0);
      for (const record of metered) {
        expect(record.outcome, record.detail).to.not.equal("failed");
        const order = await market.getOrder(BigInt(record.orderId));
        expect(Number(order.status)).to.equal(record.outcome === "delivered" ? 8 : 10);
      }

      // The hub: one channel with each of the 12 participants on chain; every executed order
      // mediated; the metered ones released on both hops; it ends with exactly its fees.
      const hubEnd = records.find((r) => r.t === "hub-end") as Extract<
        JournalRecord,
        { t: "hub-end" }
      >;
      const plan = records.find((r) => r.t === "payments") as Extract<
        JournalRecord,
        { t: "payments" }
      >;
      const channels = PaymentChannels__factory.connect(
        manifest.contracts.PaymentChannels.proxy,
        provider,
      );
      const agents = new Set([...buyerOf.values(), ...executedEnds.map((end) => end.seller!)]);
      expect(agents.size).to.equal(12);
      for (const id of agents) {
        const address = accounts.find((account) => account.id === id)!.address;
        expect(await channels.channelOfPair(address, plan.hub!), id).to.not.equal(0n);
      }
      expect(hubEnd.mediated).to.equal(count("executed"));
      expect(hubEnd.released).to.equal(metered.length);
      // Per order the buyer locks 120,000 (1 kWh at 0.12) and the hub forwards 119,000 (fee 0.001
      // per kWh); both locks split by the delivered share, rounded down.
      const [price, forward] = [120_000n, 119_000n];
      const fees = metered.reduce((sum, record) => {
        const delivered = BigInt(record.deliveredWh);
        return sum + (price * delivered) / 1000n - (forward * delivered) / 1000n;
      }, 0n);
      expect(BigInt(hubEnd.net)).to.equal(fees);
      const pending = BigInt(count("executed") - metered.length);
      expect(BigInt(hubEnd.lockedIn)).to.equal(pending * price);
      expect(BigInt(hubEnd.lockedOut)).to.equal(pending * forward);
    } finally {
      provider.destroy();
    }
    expect(outcome.summary).to.contain("| run |");
  });
  const small = (runner: string, trades: number) => `name: ${runner}
agents: 12
producerShare: 0.34
runs:
  - trades: ${trades}
load: { model: open, tradesPerSecond: 10 }
trade: { paymentsPerTrade: 5 }
timeouts: { confirmationSeconds: 10, tradeSeconds: 20 }
workers: 2
runner: ${runner}
`;

  it("keeps the two-transaction path selectable: request and confirm (or reject) per trade", async function () {
    const scenario = await scenarioFile(
      "two-tx.yaml",
      small("process", 20).replace(
        "trade: { paymentsPerTrade: 5 }",
        "trade: { paymentsPerTrade: 5, path: request-confirm, rejectShare: 0.2 }",
      ),
    );
    const outcome = await loadtest(await options({ scenario }), () => {});
    const records = await readJournal(outcome.journalPath);
    const ends = [...endsByTrade(records).values()];
    expect(ends.filter((end) => end.outcome === "failed")).to.deep.equal([]);
    const rejected = ends.filter((end) => end.outcome === "rejected").length;
    expect(rejected).to.be.greaterThan(0);
    const kinds = records.flatMap((record) =>
      record.t === "tx" && record.trade !== undefined ? [record.kind] : [],
    );
    expect(kinds.filter((kind) => kind === "request").length).to.equal(20);
    expect(kinds.filter((kind) => kind === "confirm").length).to.equal(20 - rejected);
    expect(kinds.filter((kind) => kind === "reject").length).to.equal(rejected);
    expect(kinds).to.not.include("buy");
    expect(computeReport(records).totals.transactions.perExecutedTrade).to.equal(
      40 / ends.filter((end) => end.outcome === "executed").length,
    );
  });

  it("refuses to serve metrics beyond this host and the compose gateway", async function () {
    let message = "";
    await loadtest(await options({ preset: "smoke", metricsHost: "0.0.0.0" }), () => {}).catch(
      (error: Error) => (message = error.message),
    );
    expect(message).to.equal("--metrics-host 0.0.0.0 is not allowed");
  });

  it("reports a killed worker with every one of its trades accounted for", async function () {
    // Direct channels: a worker killed mid-payment leaves its agents' hub channels a proof behind
    // the hub, which later tests on this chain would trip over (the stores are kept across tests).
    const scenario = await scenarioFile(
      "kill.yaml",
      small("process", 120) + "payments: { topology: direct }\n",
    );
    const workers: { id: number; kill(): Promise<void> }[] = [];
    let killed = false;
    const outcome = await loadtest(await options({ scenario }), () => {}, {
      onWorker: (worker) => workers.push(worker),
      onProgress: (progress) => {
        if (!killed && progress.phase === "run" && progress.started >= 30) {
          killed = true;
          void workers.find((worker) => worker.id === 1)!.kill();
        }
      },
    });
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    const lost = records.filter((record) => record.t === "worker-lost");
    expect(lost.map((record) => record.worker)).to.deep.equal([1]);
    const lostAt = lost[0]!.at;
    const starts = records.filter((record) => record.t === "trade");
    const onWorker1 = starts.filter((record) => record.worker === 1);
    expect(onWorker1.length).to.be.greaterThan(0);
    for (const start of onWorker1) {
      const end = ends.get(start.trade)!;
      // A trade of the lost worker either ended before the loss or was lost with it.
      if (end.at >= lostAt) expect(end.reason, `trade ${start.trade}`).to.equal("worker_lost");
    }
    const lostTrades = [...ends.values()].filter((end) => end.reason === "worker_lost");
    expect(lostTrades.length).to.be.greaterThan(0);
    // After the loss, trades go to the surviving worker only, and they succeed.
    const later = starts.filter((record) => record.at > lostAt);
    expect(later.length).to.be.greaterThan(0);
    expect(later.every((record) => record.worker === 0)).to.equal(true);
    expect(later.every((record) => ends.get(record.trade)!.outcome === "executed")).to.equal(true);
    const report = computeReport(records);
    expect(report.totals.trades.signed).to.equal(starts.length);
    expect(report.totals.trades.failedByReason.worker_lost).to.equal(lostTrades.length);
    expect(report.workersLost.map((entry) => entry.worker)).to.deep.equal([1]);
  });

  it("an interrupted test ends every trade it started and still reports", async function () {
    const scenario = await scenarioFile("interrupt.yaml", small("process", 400));
    const controller = new AbortController();
    const outcome = await loadtest(await options({ scenario }), () => {}, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.phase === "run" && progress.started >= 20) controller.abort();
      },
    });
    expect(outcome.interrupted).to.equal(true);
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    expect(ends.size).to.be.within(20, 399);
    expect(records.some((record) => record.t === "interrupted")).to.equal(true);
    const report = computeReport(records);
    expect(report.totals.trades.signed).to.equal(ends.size);
    expect(report.interrupted).to.not.equal(null);
  });

  it("plays the grid operator when the review is manual: every order approved, the mode restored", async function () {
    const scenario = await scenarioFile(
      "manual.yaml",
      small("process", 20) + "review: { mode: manual }\n",
    );
    const outcome = await loadtest(await options({ scenario }), () => {});
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    expect([...ends.values()].map((end) => end.outcome)).to.deep.equal(Array(20).fill("executed"));
    const reviews = records.filter(
      (record) => record.t === "tx" && record.kind === "review" && record.trade !== undefined,
    ) as Extract<JournalRecord, { t: "tx" }>[];
    expect(reviews.map((tx) => tx.trade).sort((a, b) => a! - b!)).to.deep.equal(
      [...ends.keys()].sort((a, b) => a - b),
    );
    expect(reviews.every((tx) => tx.status === "success")).to.equal(true);
    const manifest = await readManifest(manifestPath);
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      const review = GridReview__factory.connect(manifest.contracts.GridReview.proxy, provider);
      const [mode] = await review.reviewMode();
      expect(mode).to.equal(0n); // auto, as deployed
    } finally {
      provider.destroy();
    }
  });

  it("runs workers in containers through the Docker engine (docker runner)", async function () {
    const Docker = await requireDocker(this);
    const scenario = await scenarioFile("docker.yaml", small("docker", 30));
    const outcome = await loadtest(await options({ scenario }), () => {});
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    expect(ends.size).to.equal(30);
    expect([...ends.values()].filter((end) => end.outcome !== "executed")).to.deep.equal([]);
    const test = records.find((record) => record.t === "test");
    expect(test?.t === "test" && test.runner).to.equal("docker");
    // Each worker container was sampled through its main process, as the host sees it.
    const sampled = new Set(
      readResources(join(outcome.outDir, "resources.jsonl")).map((sample) => sample.name),
    );
    expect([...sampled].sort()).to.deep.equal([
      "chain (anvil)",
      "coordinator",
      "worker 0",
      "worker 1",
    ]);
    const testId = outcome.outDir.split("/").at(-1)!;
    const left = await new Docker().listContainers({
      all: true,
      filters: { label: [`io.gridchain.test=${testId}`] },
    });
    expect(left).to.deep.equal([]);
  });
  it("spreads docker workers over two Docker engines; when one engine dies every trade is still accounted for", async function () {
    await requireDocker(this);
    const second = await startSecondDockerd();
    try {
      const scenario = await scenarioFile("engines.yaml", small("docker", 300));
      const lines: string[] = [];
      let stopped: Promise<void> | undefined;
      let stoppedAt = 0;
      const outcome = await loadtest(
        await options({
          scenario,
          dockerHost: ["unix:///var/run/docker.sock", second.address],
        }),
        (line) => lines.push(line),
        {
          onProgress: (progress) => {
            if (stopped === undefined && progress.phase === "run" && progress.started >= 20) {
              stoppedAt = Date.now();
              stopped = second.stop();
            }
          },
        },
      );
      await stopped;
      expect(lines)
        .to.include("worker 0 runs on engine 1")
        .and.include("worker 1 runs on engine 2");
      const records = await readJournal(outcome.journalPath);
      const ends = endsByTrade(records);
      const starts = records.filter((record) => record.t === "trade");
      // Every trade that started has ended, and the report counts each once.
      expect(starts.map((start) => ends.has(start.trade)).every(Boolean)).to.equal(true);
      const lost = records.filter((record) => record.t === "worker-lost");
      expect(lost.map((record) => record.worker)).to.deep.equal([1]);
      const lostTrades = [...ends.values()].filter((end) => end.reason === "worker_lost");
      const later = starts.filter((record) => record.at > lost[0]!.at);
      expect(
        later.length,
        `worker 1 lost ${lost[0]!.at - stoppedAt} ms after the engine was stopped`,
      ).to.be.greaterThan(0);
      expect(later.every((record) => record.worker === 0)).to.equal(true);
      expect(later.every((record) => ends.get(record.trade)!.outcome === "executed")).to.equal(
        true,
      );
      const report = computeReport(records);
      expect(report.totals.trades.signed).to.equal(starts.length);
      expect(report.totals.trades.failedByReason.worker_lost ?? 0).to.equal(lostTrades.length);
      expect(report.workersLost.map((entry) => entry.worker)).to.deep.equal([1]);
    } finally {
      await second.stop();
    }
  });
});
