import { expect } from "chai";
import { existsSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import hre from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  MARKET_CONTRACTS,
  ROLE_IDS,
  deployMarket,
  ROLE_TABLE,
  readManifest,
  upgradeMarketContract,
  writeManifest,
  type Address,
  type DeploymentManifest,
} from "../../ops/contracts/index.js";
import { OperatorError } from "../../ops/errors.js";
import { deployWorld, publishOffer, requestOrder } from "../helpers/market.js";

const connection = await hre.network.create();

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}
const { networkHelpers } = connection;

function world() {
  return deployWorld(hre, connection);
}

/** Checks on chain that every row of the role table and every granted role is in place. */
async function expectWired(conn: NetworkConnection, manifest: DeploymentManifest) {
  const { ethers } = conn;
  const manager = await ethers.getContractAt(
    "GridAccessManager",
    manifest.contracts.GridAccessManager.proxy,
  );
  for (const rule of ROLE_TABLE) {
    const iface = (await ethers.getContractFactory(rule.contract)).interface;
    for (const fn of rule.functions) {
      const selector = iface.getFunction(fn)!.selector;
      expect(
        await manager.getTargetFunctionRole(manifest.contracts[rule.contract].proxy, selector),
        `${rule.contract}.${fn}`,
      ).to.equal(ROLE_IDS[rule.role]);
    }
  }
  const { roles } = manifest;
  const expectRole = async (role: bigint, account: string, delay: bigint) =>
    expect(await manager.hasRole(role, account)).to.deep.equal([true, delay]);
  for (const account of roles.upgraders)
    await expectRole(ROLE_IDS.UPGRADER, account, BigInt(roles.upgraderDelaySeconds));
  for (const account of roles.gridOperators) await expectRole(ROLE_IDS.GRID_OPERATOR, account, 0n);
  for (const account of roles.meters) await expectRole(ROLE_IDS.METER, account, 0n);
  for (const account of roles.producers) await expectRole(ROLE_IDS.PRODUCER, account, 0n);
  for (const account of roles.consumers) await expectRole(ROLE_IDS.CONSUMER, account, 0n);
  await expectRole(ROLE_IDS.ADMIN, roles.admin, BigInt(roles.adminDelaySeconds ?? 0));
  const review = await ethers.getContractAt("GridReview", manifest.contracts.GridReview.proxy);
  expect(await review.market()).to.equal(manifest.contracts.EnergyMarket.proxy);
  for (const name of MARKET_CONTRACTS) {
    const slot = await ethers.provider.getStorage(
      manifest.contracts[name].proxy,
      // ERC-1967 implementation slot.
      "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc",
    );
    expect(ethers.getAddress(`0x${slot.slice(26)}`), name).to.equal(
      ethers.getAddress(manifest.contracts[name].implementation),
    );
  }
}

describe("deploy module (ops/contracts)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-deploy-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys five proxies, wires every restricted selector and grants every role", async () => {
    const w = await networkHelpers.loadFixture(world);
    expect(w.manifest.chainId).to.equal(31337);
    expect(w.manifest.network).to.equal("default");
    expect(w.manifest.review).to.deep.equal({
      slotSeconds: 900,
      maxOrderWh: "50000",
      maxParticipantSlotWh: "20000",
      mode: "auto",
      manualThresholdWh: "0",
    });
    await expectWired(connection, w.manifest);
    const receipt = await connection.ethers.provider.getTransactionReceipt(
      w.manifest.transactions.wiring,
    );
    expect(receipt?.status).to.equal(1);
  });

  it("hands the admin role to the consortium's admin and drops the deployer's", async () => {
    const { ethers } = connection;
    const [deployer, , , , , , , , , consortium] = await ethers.getSigners();
    const manifest = await deployMarket({
      hre,
      connection,
      channels: { settleTimeoutSeconds: 3600 },
      deployer: deployer!,
      roles: {
        admin: consortium!.address as Address,
        upgraders: [consortium!.address as Address],
        upgraderDelaySeconds: 86_400,
        gridOperators: [],
        meters: [],
        producers: [],
        consumers: [],
      },
      review: {
        slotSeconds: 3600,
        maxOrderWh: 1n,
        maxParticipantSlotWh: 1n,
        mode: "manual",
        manualThresholdWh: 0n,
      },
    });
    expect(manifest.roles.admin).to.equal(consortium!.address);
    expect(manifest.deployer).to.equal(deployer!.address);
    await expectWired(connection, manifest);
    const manager = await ethers.getContractAt(
      "GridAccessManager",
      manifest.contracts.GridAccessManager.proxy,
    );
    expect(await manager.hasRole(ROLE_IDS.ADMIN, deployer!.address)).to.deep.equal([false, 0n]);
  });

  it("refuses bad parameters before sending anything", async () => {
    const { ethers } = connection;
    const [deployer] = await ethers.getSigners();
    const nonce = await ethers.provider.getTransactionCount(deployer!.address);
    const error = await rejection(
      deployMarket({
        hre,
        connection,
        channels: { settleTimeoutSeconds: 3600 },
        deployer: deployer!,
        roles: {
          upgraders: [],
          upgraderDelaySeconds: 0,
          gridOperators: [],
          meters: [],
          producers: [deployer!.address as Address, "0xnot-an-address" as Address],
          consumers: [],
        },
        review: {
          slotSeconds: 900,
          maxOrderWh: 1n,
          maxParticipantSlotWh: 1n,
          mode: "auto",
          manualThresholdWh: 0n,
        },
      }),
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).oneLine()).to.equal(
      'invalid deploy parameter roles.producers[1]; got "0xnot-an-address"; allowed: an address',
    );
    expect(await ethers.provider.getTransactionCount(deployer!.address)).to.equal(nonce);
  });

  it("writes the manifest atomically and reads back the same object", async () => {
    const w = await networkHelpers.loadFixture(world);
    const path = join(dir, "deployments", "local.json");
    await writeManifest(path, w.manifest);
    expect(await readManifest(path)).to.deep.equal(w.manifest);
    expect(await readdir(join(dir, "deployments"))).to.deep.equal(["local.json"]);
  });

  it("rejects a broken manifest naming the file and the path inside it", async () => {
    const w = await networkHelpers.loadFixture(world);
    const path = join(dir, "broken.json");
    const broken = structuredClone(w.manifest) as {
      contracts: { EnergyMarket: { proxy: string } };
    };
    broken.contracts.EnergyMarket.proxy = "0x1234";
    await writeFile(path, JSON.stringify(broken));
    const error = await readManifest(path).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).oneLine()).to.equal(
      `invalid deployment manifest ${path}; at contracts.EnergyMarket.proxy: ` +
        "a 0x-prefixed 20-byte hex address; hint: regenerate it with a deploy instead of editing it by hand",
    );
  });

  it("writes nothing when the manifest is invalid", async () => {
    const w = await networkHelpers.loadFixture(world);
    const path = join(dir, "never.json");
    const invalid = { ...w.manifest, chainId: -1 };
    const error = await rejection(writeManifest(path, invalid));
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).details).to.equal(
      "at chainId: Too small: expected number to be >0",
    );
    expect((await readdir(dir)).filter((f) => f.startsWith("never"))).to.deep.equal([]);
  });

  it("upgrades the market with the storage check and keeps its state", async () => {
    const w = await networkHelpers.loadFixture(world);
    const offerId = await publishOffer(w, w.solar, 10_000n);
    const orderId = await requestOrder(w, w.alice, offerId, 4_000n);
    await w.market.connect(w.solar).confirm(orderId);
    const path = join(dir, "upgraded.json");
    const result = await upgradeMarketContract({
      hre,
      connection,
      manifest: w.manifest,
      contract: "EnergyMarket",
      implementation: "EnergyMarketV2Test",
      upgrader: w.admin,
      manifestPath: path,
    });
    if (result.status !== "upgraded") throw new Error(`upgrade ${result.status}`);
    const v2 = await connection.ethers.getContractAt(
      "EnergyMarketV2Test",
      w.manifest.contracts.EnergyMarket.proxy,
    );
    expect(await v2.upgradeProbe()).to.deep.equal(["v2", 1n]);
    const order = await v2.getOrder(orderId);
    expect(order.status).to.equal(7n);
    expect(order.quantityWh).to.equal(4_000n);
    expect((await v2.bondOf(w.solar.address)).locked).to.equal(400_000n);
    const written = await readManifest(path);
    expect(written.contracts.EnergyMarket.implementation).to.equal(result.implementation);
    expect(written.contracts.EnergyMarket.contractName).to.equal("EnergyMarketV2Test");
    expect(written.upgrades).to.deep.equal([
      {
        contract: "EnergyMarket",
        contractName: "EnergyMarketV2Test",
        previousImplementation: w.manifest.contracts.EnergyMarket.implementation,
        implementation: result.implementation,
        tx: result.tx,
        scheduleTx: null,
      },
    ]);
  });

  it("sends nothing and says unchanged when the proxy already runs the code", async () => {
    const w = await networkHelpers.loadFixture(world);
    const path = join(dir, "unchanged.json");
    const nonce = await connection.ethers.provider.getTransactionCount(w.admin.address);
    const result = await upgradeMarketContract({
      hre,
      connection,
      manifest: w.manifest,
      contract: "EnergyMarket",
      implementation: "EnergyMarket",
      upgrader: w.admin,
      manifestPath: path,
    });
    expect(result).to.deep.equal({
      status: "unchanged",
      implementation: w.manifest.contracts.EnergyMarket.implementation,
      manifest: w.manifest,
    });
    expect(await connection.ethers.provider.getTransactionCount(w.admin.address)).to.equal(nonce);
    expect(existsSync(path)).to.equal(false);
  });

  it("refuses an implementation whose storage layout does not fit", async () => {
    const w = await networkHelpers.loadFixture(world);
    const error = await rejection(
      upgradeMarketContract({
        hre,
        connection,
        manifest: w.manifest,
        contract: "GridReview",
        implementation: "EnergyMarketV2Test",
        upgrader: w.admin,
      }),
    );
    expect(error.message).to.contain("New storage layout is incompatible");
    expect(error.message).to.contain("Deleted namespace `erc7201:gridchain.storage.Review`");
  });

  it("refuses an upgrader without the role", async () => {
    const w = await networkHelpers.loadFixture(world);
    const error = await rejection(
      upgradeMarketContract({
        hre,
        connection,
        manifest: w.manifest,
        contract: "EnergyMarket",
        implementation: "EnergyMarketV2Test",
        upgrader: w.grid,
      }),
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal(`${w.grid.address} does not hold the UPGRADER role`);
  });

  it("schedules an upgrade under an execution delay and executes it when due", async () => {
    const w = await networkHelpers.loadFixture(world);
    await w.manager.connect(w.admin).grantRole(ROLE_IDS.UPGRADER, w.outsider.address, 3600);
    const params = {
      hre,
      connection,
      manifest: w.manifest,
      contract: "EnergyMarket" as const,
      implementation: "EnergyMarketV2Test",
      upgrader: w.outsider,
    };
    const scheduled = await upgradeMarketContract(params);
    if (scheduled.status !== "scheduled") throw new Error("expected a scheduled upgrade");
    const latest = await networkHelpers.time.latest();
    expect(scheduled.executableAt).to.equal(latest + 3600);
    const early = await rejection(upgradeMarketContract(params));
    expect(early).to.be.instanceOf(OperatorError);
    expect(early.message).to.equal("the upgrade of EnergyMarket is not due yet");
    await expect(w.market.connect(w.outsider).upgradeToAndCall(scheduled.implementation, "0x"))
      .to.be.revertedWithCustomError(w.manager, "AccessManagerNotReady")
      .withArgs(scheduled.operationId);
    await networkHelpers.time.increaseTo(scheduled.executableAt);
    const done = await upgradeMarketContract(params);
    expect(done.status).to.equal("upgraded");
    const v2 = await connection.ethers.getContractAt(
      "EnergyMarketV2Test",
      w.manifest.contracts.EnergyMarket.proxy,
    );
    expect(await v2.upgradeProbe()).to.deep.equal(["v2", 0n]);
  });
});

/** A free TCP port on 127.0.0.1, found by binding port 0. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

describe("deploy module against anvil", () => {
  let anvil: ChildProcess | undefined;
  let conn: NetworkConnection;
  let dir: string;

  before(async () => {
    const port = await freePort();
    const binary = join("node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
    anvil = spawn(
      binary,
      ["--host", "127.0.0.1", "--port", String(port), "--gas-price", "0", "--base-fee", "0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const child = anvil;
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        if (line.includes(`Listening on 127.0.0.1:${port}`)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`anvil exited with code ${code}`)));
    });
    conn = await hre.network.create({
      network: "embedded",
      override: { url: `http://127.0.0.1:${port}` },
    });
    dir = await mkdtemp(join(tmpdir(), "gridchain-anvil-"));
  });

  after(async () => {
    if (anvil !== undefined && anvil.exitCode === null) {
      const exited = new Promise((resolve) => anvil!.once("exit", resolve));
      anvil.kill("SIGTERM");
      await exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("deploys, wires and trades over JSON-RPC at gas price 0", async () => {
    const signers = await conn.ethers.getSigners();
    const [admin, grid, meter, solar, alice] = signers;
    const before = await conn.ethers.provider.getBalance(admin!.address);
    const path = join(dir, "anvil.json");
    const a = (s: { address: string } | undefined) => s!.address as Address;
    const manifest = await deployMarket({
      hre,
      connection: conn,
      channels: { settleTimeoutSeconds: 3600 },
      roles: {
        upgraders: [a(admin)],
        upgraderDelaySeconds: 0,
        gridOperators: [a(grid)],
        meters: [a(meter)],
        producers: [a(solar)],
        consumers: [a(alice)],
      },
      review: {
        slotSeconds: 900,
        maxOrderWh: 50_000n,
        maxParticipantSlotWh: 20_000n,
        mode: "auto",
        manualThresholdWh: 0n,
      },
      manifestPath: path,
    });
    expect(manifest.chainId).to.equal(31337);
    expect(manifest.network).to.equal("embedded");
    expect(manifest.deployer).to.equal(admin!.address);
    expect(await readManifest(path)).to.deep.equal(manifest);
    expect(JSON.parse(await readFile(path, "utf8")).format).to.equal("gridchain-deployment/1");
    await expectWired(conn, manifest);
    expect(await conn.ethers.provider.getBalance(admin!.address)).to.equal(before);

    const review = await conn.ethers.getContractAt(
      "GridReview",
      manifest.contracts.GridReview.proxy,
      grid!,
    );
    const market = await conn.ethers.getContractAt(
      "EnergyMarket",
      manifest.contracts.EnergyMarket.proxy,
    );
    await (await review.setZones([solar!.address, alice!.address], [1, 1])).wait();
    const block = await conn.ethers.provider.getBlock("latest");
    const start = (BigInt(block!.timestamp) / 900n + 2n) * 900n;
    await (
      await market.connect(solar!).publish(0, 1n, 0n, 1_000n, start, start + 900n, start)
    ).wait();
    await (await market.connect(alice!).request(1n, 1_000n)).wait();
    await (await market.connect(solar!).confirm(1n)).wait();
    expect((await market.getOrder(1n)).status).to.equal(7n);

    const upgraded = await upgradeMarketContract({
      hre,
      connection: conn,
      manifest,
      contract: "EnergyMarket",
      implementation: "EnergyMarketV2Test",
      manifestPath: path,
    });
    expect(upgraded.status).to.equal("upgraded");
    const v2 = await conn.ethers.getContractAt(
      "EnergyMarketV2Test",
      manifest.contracts.EnergyMarket.proxy,
    );
    expect(await v2.upgradeProbe()).to.deep.equal(["v2", 1n]);
    expect((await readManifest(path)).contracts.EnergyMarket.implementation).to.equal(
      upgraded.implementation,
    );
  });
});
