import { expect } from "chai";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { loadtest, type LoadTestCommandOptions } from "../../ops/commands/loadtest.js";
import { readManifest } from "../../ops/contracts/index.js";
import type { JournalRecord } from "../../ops/loadtest/protocol.js";
import { computeReport, readJournal } from "../../ops/loadtest/report.js";
import { EnergyMarket__factory } from "../../types/ethers-contracts/index.js";
import { freePort } from "../support/net.js";

function gridchain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("ops/bin/gridchain", args, { timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The smoke preset's size (4 producers, 8 consumers) with 20 s delivery slots so metering runs. */
function consortiumYaml(name: string, chainId: number, port: number): string {
  return `name: ${name}
chainId: ${chainId}
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
  producers: 4
  consumers: 8
market:
  slotSeconds: 20
  zones:
    - { id: north, importKw: 4000, exportKw: 4000 }
    - { id: south, importKw: 4000, exportKw: 4000 }
  startingCredits:
    consumer: "100"
    producer: "100"
engine:
  embedded:
    port: ${port}
`;
}

/** Every trade started ends exactly once; returns ends by trade. */
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
    await writeFile(config, consortiumYaml(name, 43_000 + (process.pid % 1000), port));
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

  it("runs the smoke preset: every trade ends, the report is the journal's, the chain agrees", async function () {
    const lines: string[] = [];
    const outcome = await loadtest(await options({ preset: "smoke" }), (line) => lines.push(line));
    const records = await readJournal(outcome.journalPath);
    const ends = endsByTrade(records);
    expect(ends.size).to.equal(60);
    const outcomes = [...ends.values()].map((end) => end.outcome);
    const count = (what: string) => outcomes.filter((outcome) => outcome === what).length;
    expect(
      count("failed"),
      JSON.stringify([...ends.values()].filter((end) => end.outcome === "failed")),
    ).to.equal(0);
    expect(count("rejected")).to.be.greaterThan(0);
    expect(count("executed") + count("rejected") + count("denied")).to.equal(60);

    // The report, recomputed here from the journal's raw records.
    const report = computeReport(records);
    const saved = JSON.parse(readFileSync(join(outcome.outDir, "report.json"), "utf8"));
    expect(saved).to.deep.equal(JSON.parse(JSON.stringify(report)));
    const txs = records.filter(
      (record) => record.t === "tx" && record.minedAt !== undefined && record.run !== undefined,
    ) as Extract<JournalRecord, { t: "tx" }>[];
    const seconds = txs.map((tx) => (tx.minedAt! - tx.sentAt) / 1000);
    expect(report.totals.trades.signed).to.equal(60);
    expect(report.totals.trades.executed).to.equal(count("executed"));
    expect(report.totals.trades.rejected).to.equal(count("rejected"));
    expect(report.totals.successRate).to.equal(1);
    expect(report.totals.confirmation.p50).to.be.closeTo(nearestRank(seconds, 0.5), 1e-9);
    expect(report.totals.confirmation.p99).to.be.closeTo(nearestRank(seconds, 0.99), 1e-9);
    const payments = [...ends.values()].reduce((sum, end) => sum + end.payments, 0);
    expect(payments).to.equal(count("executed") * 20);

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
    } finally {
      provider.destroy();
    }
    expect(outcome.summary).to.contain("| run |");
  });
});
