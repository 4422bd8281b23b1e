import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { id, Wallet } from "ethers";
import hre from "hardhat";
import { besuDashboard, marketDashboard } from "../../monitoring/grafana/dashboards.js";
import { dashboardExpressions } from "../../monitoring/grafana/dashboards.js";
import { EmbeddedEngine } from "../../ops/engines/embedded.js";
import { marketAddresses, startExporter } from "../../ops/metrics/exporter.js";
import { LocalPrometheus } from "../../ops/metrics/local-prometheus.js";
import {
  alertRules,
  recordingRules,
  renderPrometheusConfig,
  yaml,
} from "../../ops/metrics/prometheus.js";
import { deployMarket, type Address } from "../../ops/contracts/index.js";
import { toAddress } from "../../ops/besu/keys.js";
import {
  VALIDATOR_CONTRACT_ADDRESS,
  validatorContractAlloc,
} from "../../ops/besu/validator-contract.js";
import { ensureGovernance, readGovernanceRecord } from "../../ops/governance/deploy.js";
import { memberId, type MemberInput } from "../../ops/governance/members.js";
import {
  BOND,
  DEFAULT_PER_KWH,
  EnergyType,
  LINE_W,
  MAX_ORDER_WH,
  MAX_PARTICIPANT_SLOT_WH,
  PRICE_PER_KWH,
  SLOT_SECONDS,
} from "../helpers/market.js";
import { freePort, genesisDir } from "../support/net.js";

/** Nine funded accounts: deployWorld's admin, grid, meter, two producers and four consumers. */
const KEYS = Array.from({ length: 9 }, (_, i) => id(`gridchain-monitoring-${i}`));

type QueryResult = {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown[] };
};

async function query(base: string, expr: string): Promise<QueryResult> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResult;
}

/** Polls `check` until it returns a value (no sleeps standing in for a condition). */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Reads one sample from Prometheus text format, e.g. `gridchain_market_orders{state="denied"} 1`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`${series} not exported`);
  return Number(line.split(" ")[1]);
}

describe("monitoring against a real Prometheus (embedded chain, deployed market and governance, exporter)", function () {
  this.timeout(120_000);
  let dir: string;
  let engine: EmbeddedEngine;
  let exporter: Awaited<ReturnType<typeof startExporter>>;
  let prometheus: LocalPrometheus;
  let metricsText: string;

  before(async () => {
    dir = await genesisDir(4247);
    const genesisPath = join(dir, "genesis.json");
    const genesis = JSON.parse(await readFile(genesisPath, "utf8"));
    for (const key of KEYS) {
      genesis.alloc[new Wallet(key).address] = { balance: "0x56bc75e2d63100000" };
    }
    // The genesis validator contract, as `generate` writes it for a contract-mode QBFT network.
    const validators = [1, 2, 3, 4].map((i) =>
      toAddress(id(`gridchain-validator-${i}`).slice(0, 42)),
    );
    genesis.alloc[VALIDATOR_CONTRACT_ADDRESS] = validatorContractAlloc(
      validators,
      toAddress(new Wallet(KEYS[0]!).address),
    );
    await writeFile(genesisPath, JSON.stringify(genesis));
    engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    await engine.up();
    await engine.ready();
    const connection = await hre.network.create({
      network: "embedded",
      override: { url: engine.rpcUrl(), accounts: KEYS },
    });
    // Every transaction is awaited to its receipt (1 s blocks).
    const signers = await connection.ethers.getSigners();
    type Signer = (typeof signers)[number];
    const [admin, grid, meter, solar, wind, alice, bob] = [0, 1, 2, 3, 4, 5, 6].map(
      (index) => signers[index]!,
    ) as [Signer, Signer, Signer, Signer, Signer, Signer, Signer];
    const addr = (signer: { address: string }) => signer.address as Address;
    const manifest = await deployMarket({
      hre,
      connection,
      channels: { settleTimeoutSeconds: 3600 },
      deployer: admin,
      roles: {
        upgraders: [addr(admin)],
        upgraderDelaySeconds: 0,
        gridOperators: [addr(grid)],
        meters: [addr(meter)],
        producers: [addr(solar), addr(wind)],
        consumers: [addr(alice), addr(bob)],
      },
      review: {
        slotSeconds: SLOT_SECONDS,
        maxOrderWh: MAX_ORDER_WH,
        maxParticipantSlotWh: MAX_PARTICIPANT_SLOT_WH,
        mode: "auto",
        manualThresholdWh: 0n,
      },
    });
    const { ethers } = connection;
    const review = await ethers.getContractAt("GridReview", manifest.contracts.GridReview.proxy);
    const credit = await ethers.getContractAt("GridCredit", manifest.contracts.GridCredit.proxy);
    const market = await ethers.getContractAt(
      "EnergyMarket",
      manifest.contracts.EnergyMarket.proxy,
    );
    // One block per phase: each sender's transactions go out back to back (a fixed gas limit skips
    // the estimate, which would run against a state without the earlier ones) and the phase waits
    // for every receipt. Within a block, one sender's transactions run in nonce order.
    const GAS = { gasLimit: 3_000_000 };
    const phase = async (...senders: Array<() => Promise<{ wait(): Promise<unknown> }>[]>) => {
      const sent = [];
      for (const send of senders) for (const tx of send()) sent.push(await tx);
      await Promise.all(sent.map((tx) => tx.wait()));
    };
    const seq =
      (...calls: Array<() => Promise<{ wait(): Promise<unknown> }>>) =>
      () => {
        const out: Promise<{ wait(): Promise<unknown> }>[] = [];
        let previous: Promise<unknown> = Promise.resolve();
        for (const call of calls) {
          const next = previous.then(call);
          out.push(next);
          previous = next;
        }
        return out;
      };
    await phase(
      seq(
        () =>
          review
            .connect(grid)
            .setZones([solar.address, wind.address, alice.address, bob.address], [1, 2, 2, 1], GAS),
        () => review.connect(grid).setZoneCapacity(1, LINE_W, LINE_W, GAS),
        () => review.connect(grid).setZoneCapacity(2, LINE_W, LINE_W, GAS),
        () => credit.connect(grid).mint(solar.address, BOND, ethers.ZeroHash, GAS),
        () => credit.connect(grid).mint(wind.address, BOND, ethers.ZeroHash, GAS),
      ),
    );
    const bond = (producer: Signer) =>
      seq(
        () => credit.connect(producer).approve(manifest.contracts.EnergyMarket.proxy, BOND, GAS),
        () => market.connect(producer).depositBond(BOND, GAS),
      );
    await phase(bond(solar), bond(wind));
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    const start = ((now + 7200n) / BigInt(SLOT_SECONDS) + 1n) * BigInt(SLOT_SECONDS);
    const end = start + BigInt(SLOT_SECONDS);
    const publish = (seller: Signer, wh: bigint) => () =>
      market
        .connect(seller)
        .publish(EnergyType.Solar, PRICE_PER_KWH, DEFAULT_PER_KWH, wh, start, end, start, GAS);
    await phase(seq(publish(solar, 20_000n)));
    await phase(seq(publish(wind, 5_000n)));
    // Offer 1 is solar's. Two established orders, one rejected, one denied (zone 1 exports at
    // most 10 kWh a slot: 4 + 4 kWh fit, 7 more do not).
    const request = (wh: bigint) => () => market.connect(alice).request(1n, wh, GAS);
    await phase(seq(request(4_000n), request(4_000n), request(1_000n), request(7_000n)));
    await phase(
      seq(
        () => market.connect(solar).confirm(1n, GAS),
        () => market.connect(solar).confirm(2n, GAS),
        () => market.connect(solar).reject(3n, GAS),
        () => market.connect(solar).confirm(4n, GAS),
      ),
    );
    expect(await market.offerCount()).to.equal(2n);
    expect((await market.getOffer(1n)).seller).to.equal(solar.address);
    // The members' governance, wired as `gridchain deploy` wires it: one member per organisation.
    const recordPath = join(dir, "monitoring.governance.json");
    const member = (name: string, voter: Signer, index: number): MemberInput => ({
      id: memberId(name),
      voter: voter.address,
      gridOperator: name === "grid",
      enodes: [],
      validators: [validators[index]!],
      accounts: [],
      roles: [],
      zones: [],
    });
    await ensureGovernance({
      hre,
      connection,
      deployer: admin,
      manifest,
      validatorSet: VALIDATOR_CONTRACT_ADDRESS,
      parameters: {
        approvalBps: 6667,
        votingPeriodSeconds: 600,
        executionDelaySeconds: 0,
        executionWindowSeconds: 600,
      },
      members: [
        member("grid", grid, 0),
        member("solar", solar, 1),
        member("wind", wind, 2),
        member("storage", bob, 3),
      ],
      deployerKeepsAdmin: false,
      recordPath,
      log: () => undefined,
    });
    const governance = readGovernanceRecord(recordPath)!;
    await connection.close();

    exporter = await startExporter({
      rpcUrl: engine.rpcUrl(),
      market: await marketAddresses(engine.rpcUrl(), manifest),
      governance,
      port: 0,
      pollMs: 250,
    });
    metricsText = await eventually(async () => {
      const text = await (await fetch(exporter.url)).text();
      return text.includes('gridchain_market_orders{state="established"} 2') &&
        text.includes("gridchain_governance_members 4")
        ? text
        : undefined;
    }, 20_000);

    await writeFile(join(dir, "recording.yml"), yaml(recordingRules()));
    await writeFile(
      join(dir, "alerts.yml"),
      yaml(alertRules({ blockPeriodSeconds: 1, minPeers: 2 })),
    );
    const configFile = join(dir, "prometheus.yml");
    await writeFile(
      configFile,
      renderPrometheusConfig({
        scrapeInterval: "1s",
        ruleFiles: [join(dir, "recording.yml"), join(dir, "alerts.yml")],
        jobs: [
          {
            job_name: "gridchain-exporter",
            static_configs: [{ targets: [new URL(exporter.url).host] }],
          },
        ],
      }),
    );
    prometheus = new LocalPrometheus({
      configFile,
      dataDir: join(dir, "data"),
      stateDir: dir,
      port: await freePort(),
    });
    await prometheus.up();
    await prometheus.ready();
  });

  after(async () => {
    await prometheus?.down();
    await exporter?.close();
    await engine?.down().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("the exporter counts the market from its events: offers, orders by state, reviews, bonds", () => {
    expect(sample(metricsText, "gridchain_market_offers_published_total")).to.equal(2);
    expect(sample(metricsText, "gridchain_market_offers_open")).to.equal(2);
    expect(sample(metricsText, 'gridchain_market_orders{state="established"}')).to.equal(2);
    expect(sample(metricsText, 'gridchain_market_orders{state="rejected"}')).to.equal(1);
    expect(sample(metricsText, 'gridchain_market_orders{state="denied"}')).to.equal(1);
    expect(sample(metricsText, 'gridchain_market_orders{state="requested"}')).to.equal(0);
    expect(sample(metricsText, 'gridchain_market_reviews_total{outcome="approved"}')).to.equal(2);
    expect(sample(metricsText, 'gridchain_market_reviews_total{outcome="denied"}')).to.equal(1);
    expect(
      sample(metricsText, 'gridchain_market_denials_total{reason="export_capacity"}'),
    ).to.equal(1);
    // Two producers' bonds of 1000 credits each sit in the market contract.
    expect(sample(metricsText, 'gridchain_value_locked_credits{kind="bonds"}')).to.equal(2000);
    expect(sample(metricsText, "gridchain_governance_members")).to.equal(4);
    expect(sample(metricsText, "gridchain_governance_contract_validators")).to.equal(4);
  });

  it("every dashboard query that needs no load test returns data; the others evaluate", async () => {
    const base = prometheus.url;
    // Rates need two scrapes of the exporter inside their window.
    await eventually(async () => {
      const result = await query(base, "gridchain:block_interval_seconds:mean1m");
      return result.data!.result.length > 0 ? true : undefined;
    }, 30_000);
    const expressions = [
      ...dashboardExpressions(marketDashboard()),
      ...dashboardExpressions(besuDashboard()).filter(({ expr }) => expr.includes("gridchain_")),
    ];
    const empty: string[] = [];
    for (const { panel, expr } of expressions) {
      const result = await query(base, expr.replaceAll("$node", ".*"));
      expect(result.status, `${panel}: ${expr}: ${result.error}`).to.equal("success");
      const needsLoadTest = /gridchain_loadtest_|gridchain:(trade|confirmation)/.test(expr);
      const needsBesu = /gridchain_validator|gridchain_besu_/.test(expr);
      if (!needsLoadTest && !needsBesu && result.data!.result.length === 0) {
        empty.push(`${panel}: ${expr}`);
      }
    }
    expect(empty).to.deep.equal([]);
  });

  it("every recording and alert rule evaluates without error", async () => {
    const base = prometheus.url;
    type Rule = { name: string; health: string; lastError?: string; type: string };
    const rules = await eventually(async () => {
      const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
        data: { groups: { rules: Rule[] }[] };
      };
      const all = body.data.groups.flatMap((group) => group.rules);
      return all.every((rule) => rule.health !== "unknown") ? all : undefined;
    }, 20_000);
    expect(
      rules.filter((rule) => rule.type === "recording").map((rule) => rule.name),
    ).to.have.members(
      recordingRules().groups.flatMap((group) =>
        group.rules.map((rule) => ("record" in rule ? rule.record : "")),
      ),
    );
    expect(
      rules.filter((rule) => rule.health !== "ok").map((rule) => `${rule.name}: ${rule.lastError}`),
    ).to.deep.equal([]);
    // Chain rules have data now; load-test rules stay empty until a load test is scraped.
    for (const name of [
      "gridchain:block_interval_seconds:mean1m",
      "gridchain:chain_transactions_per_second:rate1m",
    ]) {
      const result = await query(base, name);
      expect(result.data!.result, name).to.have.length(1);
    }
    // The mean is 0/0 (NaN) until the exporter has counted a block between two scrapes inside the
    // window, which a busy machine can delay past the rule's first evaluations: wait for a number.
    const value = await eventually(async () => {
      const interval = await query(base, "gridchain:block_interval_seconds:mean1m");
      const sampled = interval.data!.result[0] as { value: [number, string] } | undefined;
      const mean = Number(sampled?.value[1]);
      return Number.isFinite(mean) ? mean : undefined;
    }, 30_000);
    // 1 s blocks; automined deployment blocks can share a second, so the mean is at most 1 s.
    expect(value).to.be.within(0, 1);
  });
});
