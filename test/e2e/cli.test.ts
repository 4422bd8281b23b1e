import { expect } from "chai";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { JsonRpcProvider, Wallet } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import { readManifest, type DeploymentManifest } from "../../ops/contracts/index.js";
import { MarketClient, nextSlot } from "../../ops/market/client.js";
import type { EnergyMarket, GridCredit, GridReview } from "../../types/ethers-contracts/index.js";
import { gridchain, smallConsortiumYaml } from "../support/cli.js";
import { freePort } from "../support/net.js";

describe("gridchain CLI end to end (embedded engine)", function () {
  this.timeout(240_000);
  let dir: string;
  let config: string;
  let networkDir: string;
  let manifestPath: string;
  let port: number;
  let rpc: string;
  const name = `e2e${process.pid}`;
  const chainArgs = () => ["-c", config, "--network", networkDir, "--manifest", manifestPath];
  const key = (id: string) =>
    readFileSync(join(networkDir, "accounts", `${id}.key`), "utf8").trim();
  const address = (id: string) => new Wallet(key(id)).address;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-cli-"));
    port = await freePort();
    rpc = `http://127.0.0.1:${port}`;
    config = join(dir, "consortium.yaml");
    networkDir = join(dir, "network");
    manifestPath = join(dir, "deployments", `${name}.json`);
    await writeFile(
      config,
      smallConsortiumYaml({
        name,
        chainId: 41_000 + (process.pid % 1000),
        port,
        producers: 1,
        consumers: 2,
        zoneKw: 400,
        startingCredits: { consumer: "100" },
        // The deployer's own upgrade path, which a pilot keeps by opting out of the handover.
        deployerKeepsAdmin: true,
      }),
    );
    const generated = await gridchain("generate", "-c", config, "--out", networkDir);
    expect(generated.code, generated.stderr).to.equal(0);
  });

  after(async () => {
    await gridchain("down", ...chainArgs());
    await rm(dir, { recursive: true, force: true });
  });

  async function nonces(ids: string[]): Promise<number[]> {
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      return await Promise.all(ids.map((id) => provider.getTransactionCount(address(id))));
    } finally {
      provider.destroy();
    }
  }

  async function connect(): Promise<{
    connection: NetworkConnection;
    client: MarketClient;
    manifest: DeploymentManifest;
  }> {
    const manifest = await readManifest(manifestPath);
    const connection = await hre.network.create({
      network: "embedded",
      override: {
        url: rpc,
        accounts: ["producer-1", "consumer-1", "consumer-2"].map(key),
      },
    });
    const { ethers } = connection;
    const at = async <T>(contract: string, proxy: string) =>
      (await ethers.getContractAt(contract, proxy)) as unknown as T;
    const client = new MarketClient({
      market: await at<EnergyMarket>("EnergyMarket", manifest.contracts.EnergyMarket.proxy),
      review: await at<GridReview>("GridReview", manifest.contracts.GridReview.proxy),
      credit: await at<GridCredit>("GridCredit", manifest.contracts.GridCredit.proxy),
    });
    return { connection, client, manifest };
  }

  let orderId: bigint;
  let consumerBalance: bigint;

  it("starts, deploys and sets the market up from the consortium file", async () => {
    const up = await gridchain("up", ...chainArgs());
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.contain(`embedded engine up: ${rpc}`);
    const deployed = await gridchain("deploy", ...chainArgs());
    expect(deployed.code, deployed.stderr).to.equal(0);
    const lines = deployed.stdout.trim().split("\n");
    expect(lines[0]).to.match(/^deployed 5 contracts on chain \d+$/);
    expect(lines).to.include("set the zones of 3 participants");
    expect(lines).to.include("minted 200 GridCredit to 2 accounts");

    const { connection, client, manifest } = await connect();
    const { review, credit } = client.contracts;
    expect(await review.zoneOf(address("producer-1"))).to.equal(1n);
    expect(await review.zoneOf(address("consumer-2"))).to.equal(2n);
    expect((await review.zoneCapacity(1)).exportW).to.equal(400_000n);
    expect(await review.limits()).to.deep.equal([100_000n, 500_000n]);
    expect(await credit.balanceOf(address("consumer-1"))).to.equal(100_000_000n);
    expect(manifest.deployer).to.equal(address("deployer"));
    await connection.close();
  });

  it("a second deploy sends no transaction and says so in one line", async () => {
    const ids = ["deployer", "grid-operator"];
    const before = await nonces(ids);
    const again = await gridchain("deploy", ...chainArgs());
    expect(again.code, again.stderr).to.equal(0);
    const manifest = await readManifest(manifestPath);
    expect(again.stdout).to.equal(
      `${manifestPath} is up to date: nothing to do (market ${manifest.contracts.EnergyMarket.proxy} on chain ${manifest.chainId})\n`,
    );
    expect(await nonces(ids)).to.deep.equal(before);
  });

  it("trades, and keeps the order and balances across down and up", async () => {
    const { connection, client } = await connect();
    const { ethers } = connection;
    const seller = await ethers.getSigner(address("producer-1"));
    const buyer = await ethers.getSigner(address("consumer-1"));
    const gridOperator = new Wallet(key("grid-operator"), ethers.provider);
    await client.fundBond(gridOperator, seller, 50_000_000n);
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    const start = nextSlot(now, 900n, 120n);
    const offerId = await client.publish({
      seller,
      energyType: "solar",
      pricePerKwh: 120_000n,
      defaultPerKwh: 50_000n,
      quantityWh: 40_000n,
      deliveryStart: start,
      deliveryEnd: start + 900n,
    });
    orderId = await client.request(buyer, offerId, 30_000n);
    // The review answers with the grid parameters in force: the version the deploy left (zones,
    // lines, the capacity fee, the least default and the members' zones each bumped it).
    const version = await client.contracts.review.parametersVersion();
    expect(version).to.be.greaterThan(1n);
    expect(await client.confirm(seller, orderId)).to.deep.equal({
      status: "established",
      denialReason: "none",
      reviewVersion: version,
    });
    consumerBalance = await client.contracts.credit.balanceOf(buyer.address);
    await connection.close();

    const down = await gridchain("down", ...chainArgs());
    expect(down.code, down.stderr).to.equal(0);
    const up = await gridchain("up", ...chainArgs());
    expect(up.code, up.stderr).to.equal(0);

    const resumed = await connect();
    const order = await resumed.client.contracts.market.getOrder(orderId);
    expect([order.buyer, order.seller, order.quantityWh, order.status]).to.deep.equal([
      address("consumer-1"),
      address("producer-1"),
      30_000n,
      7n,
    ]);
    expect(await resumed.client.contracts.credit.balanceOf(address("consumer-1"))).to.equal(
      consumerBalance,
    );
    expect((await resumed.client.contracts.market.bondOf(address("producer-1"))).locked).to.equal(
      1_500_000n,
    );
    await resumed.connection.close();
  });

  it("status shows the contracts and the market's counts", async () => {
    const status = await gridchain("status", "--json", ...chainArgs());
    expect(status.code, status.stderr).to.equal(0);
    const json = JSON.parse(status.stdout) as {
      deployment: {
        offers: number;
        orders: number;
        contracts: { hasCode: boolean }[];
        trust: { roles: { role: string; members: unknown[] }[] };
      };
    };
    expect(json.deployment.trust.roles.map((r) => r.role)).to.deep.equal([
      "ADMIN",
      "UPGRADER",
      "GRID_OPERATOR",
      "METER",
      "PRODUCER",
      "CONSUMER",
    ]);
    const text = await gridchain("status", ...chainArgs());
    expect(text.stdout).to.contain("trust model (read from chain");
    expect(json.deployment.offers).to.equal(1);
    expect(json.deployment.orders).to.equal(1);
    expect(json.deployment.contracts.map((c) => c.hasCode)).to.deep.equal([
      true,
      true,
      true,
      true,
      true,
    ]);
  });

  it("upgrades the market through the CLI and keeps its state", async () => {
    const before = await readManifest(manifestPath);
    const upgraded = await gridchain(
      "upgrade",
      "EnergyMarket",
      "EnergyMarketV2Test",
      ...chainArgs(),
    );
    expect(upgraded.code, upgraded.stderr).to.equal(0);
    const after = await readManifest(manifestPath);
    expect(upgraded.stdout).to.equal(
      `EnergyMarket upgraded to EnergyMarketV2Test (implementation ${after.contracts.EnergyMarket.implementation}); ${manifestPath} updated\n`,
    );
    expect(after.contracts.EnergyMarket.implementation).to.not.equal(
      before.contracts.EnergyMarket.implementation,
    );
    expect(after.upgrades.map((u) => [u.contract, u.contractName])).to.deep.equal([
      ["EnergyMarket", "EnergyMarketV2Test"],
    ]);
    const { connection } = await connect();
    const v2 = await connection.ethers.getContractAt(
      "EnergyMarketV2Test",
      after.contracts.EnergyMarket.proxy,
    );
    expect(await v2.upgradeProbe()).to.deep.equal(["v2", 1n]);
    expect((await v2.getOrder(orderId)).quantityWh).to.equal(30_000n);
    await connection.close();
  });

  it("deploy upgrades a contract whose compiled code differs from the chain's, and only that one", async () => {
    // The manifest names EnergyMarket while the chain runs EnergyMarketV2Test: to deploy, the
    // compiled EnergyMarket is new code.
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as DeploymentManifest;
    manifest.contracts.EnergyMarket.contractName = "EnergyMarket";
    await writeFile(manifestPath, JSON.stringify(manifest));
    const run = await gridchain("deploy", ...chainArgs());
    expect(run.code, run.stderr).to.equal(0);
    const after = await readManifest(manifestPath);
    expect(run.stdout.trim().split("\n")[0]).to.equal(
      `EnergyMarket: compiled code changed; upgraded to implementation ${after.contracts.EnergyMarket.implementation}`,
    );
    expect(after.upgrades.map((u) => u.contract)).to.deep.equal(["EnergyMarket", "EnergyMarket"]);
    for (const name of [
      "GridAccessManager",
      "GridCredit",
      "GridReview",
      "PaymentChannels",
    ] as const)
      expect(after.contracts[name]).to.deep.equal(manifest.contracts[name]);
    const { client, connection } = await connect();
    expect((await client.contracts.market.getOrder(orderId)).quantityWh).to.equal(30_000n);
    await connection.close();
  });

  it("refuses a manifest whose contracts the chain does not have", async () => {
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as DeploymentManifest;
    const stale = join(dir, "stale.json");
    const missing = "0x00000000000000000000000000000000000000aa";
    manifest.contracts.GridAccessManager.proxy = missing;
    await writeFile(stale, JSON.stringify(manifest));
    const run = await gridchain(
      "deploy",
      "-c",
      config,
      "--network",
      networkDir,
      "--manifest",
      stale,
    );
    expect(run.code).to.equal(1);
    expect(run.stderr).to.equal(
      `gridchain: ${stale} names GridAccessManager at ${missing}, which has no code on chain ${manifest.chainId}; ` +
        `hint: the chain was reset: move ${stale} aside and run 'gridchain deploy' to deploy afresh, or restore the chain's state\n`,
    );
  });

  it("explains a busy port in one line with exit code 1", async () => {
    const down = await gridchain("down", ...chainArgs());
    expect(down.code, down.stderr).to.equal(0);
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(port, "127.0.0.1", resolve));
    try {
      const run = await gridchain("up", ...chainArgs());
      expect(run.code).to.equal(1);
      const lines = run.stderr.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        new RegExp(
          `^gridchain: port ${port} on 127\\.0\\.0\\.1 is already in use by another process`,
        ),
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("explains a missing network folder in one line with exit code 1", async () => {
    const missing = join(dir, "no-such-network");
    const run = await gridchain("status", "-c", config, "--network", missing);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.equal(
      `gridchain: ${missing} holds no generated network; hint: run 'gridchain generate -c ${config}' first\n`,
    );
    expect(run.stdout).to.equal("");
  });
});
