import { expect } from "chai";
import hre from "hardhat";
import { ROLE_IDS, deployMarket, type Address } from "../../ops/contracts/index.js";

/**
 * The upgrade delay binds the admin too: an admin without delay could give itself the upgrade
 * selector (or the upgrader role) and upgrade at once, around the delay the upgrader waits.
 */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const DELAY = 86_400;

async function delayedConsortium() {
  const [deployer, grid] = await ethers.getSigners();
  const manifest = await deployMarket({
    hre,
    connection,
    channels: { settleTimeoutSeconds: 3600 },
    deployer: deployer!,
    roles: {
      upgraders: [deployer!.address as Address],
      upgraderDelaySeconds: DELAY,
      gridOperators: [grid!.address as Address],
      meters: [],
      producers: [],
      consumers: [],
    },
    review: {
      slotSeconds: 900,
      maxOrderWh: 1n,
      maxParticipantSlotWh: 1n,
      mode: "auto",
      manualThresholdWh: 0n,
    },
  });
  const manager = await ethers.getContractAt(
    "GridAccessManager",
    manifest.contracts.GridAccessManager.proxy,
  );
  const market = await ethers.getContractAt("EnergyMarket", manifest.contracts.EnergyMarket.proxy);
  const v2 = await (await ethers.getContractFactory("EnergyMarketV2Test")).deploy();
  return { manifest, manager, market, admin: deployer!, v2: await v2.getAddress() };
}

describe("deploy module: the admin waits like the upgrader", () => {
  it("refuses the admin's attempt to take the upgrade selector and upgrade at once", async () => {
    const { manager, market, admin, v2 } = await networkHelpers.loadFixture(delayedConsortium);
    const marketAddress = await market.getAddress();
    const upgradeSelector = market.interface.getFunction("upgradeToAndCall").selector;
    const call = manager.interface.encodeFunctionData("setTargetFunctionRole", [
      marketAddress,
      [upgradeSelector],
      ROLE_IDS.ADMIN,
    ]);
    await expect(
      manager
        .connect(admin)
        .setTargetFunctionRole(marketAddress, [upgradeSelector], ROLE_IDS.ADMIN),
    )
      .to.be.revertedWithCustomError(manager, "AccessManagerNotScheduled")
      .withArgs(await manager.hashOperation(admin.address, await manager.getAddress(), call));
    await expect(market.connect(admin).upgradeToAndCall(v2, "0x"))
      .to.be.revertedWithCustomError(manager, "AccessManagerNotScheduled")
      .withArgs(
        await manager.hashOperation(
          admin.address,
          marketAddress,
          market.interface.encodeFunctionData("upgradeToAndCall", [v2, "0x"]),
        ),
      );
  });

  it("refuses the admin's attempt to grant itself the upgrader role without delay", async () => {
    const { manager, admin } = await networkHelpers.loadFixture(delayedConsortium);
    await expect(
      manager.connect(admin).grantRole(ROLE_IDS.UPGRADER, admin.address, 0),
    ).to.be.revertedWithCustomError(manager, "AccessManagerNotScheduled");
  });

  it("lets the admin act once its scheduled call is due, not before", async () => {
    const { manager, admin } = await networkHelpers.loadFixture(delayedConsortium);
    const [, , , , , , , , , newcomer] = await ethers.getSigners();
    const managerAddress = await manager.getAddress();
    const call = manager.interface.encodeFunctionData("grantRole", [
      ROLE_IDS.PRODUCER,
      newcomer!.address,
      0,
    ]);
    await manager.connect(admin).schedule(managerAddress, call, 0);
    const id = await manager.hashOperation(admin.address, managerAddress, call);
    await expect(manager.connect(admin).execute(managerAddress, call))
      .to.be.revertedWithCustomError(manager, "AccessManagerNotReady")
      .withArgs(id);
    await networkHelpers.time.increase(DELAY);
    await expect(manager.connect(admin).execute(managerAddress, call)).to.emit(
      manager,
      "RoleGranted",
    );
  });

  it("sets the admin delay on every managed contract and the grant delay of admin and upgrader", async () => {
    const { manifest, manager, admin } = await networkHelpers.loadFixture(delayedConsortium);
    expect(await manager.hasRole(ROLE_IDS.ADMIN, admin.address)).to.deep.equal([
      true,
      BigInt(DELAY),
    ]);
    expect(manifest.roles.adminDelaySeconds).to.equal(DELAY);
    // Raised delays take effect after the manager's minimum setback.
    await networkHelpers.time.increase(Number(await manager.minSetback()));
    for (const contract of Object.values(manifest.contracts))
      expect(await manager.getTargetAdminDelay(contract.proxy), contract.contractName).to.equal(
        BigInt(DELAY),
      );
    expect(await manager.getRoleGrantDelay(ROLE_IDS.ADMIN)).to.equal(BigInt(DELAY));
    expect(await manager.getRoleGrantDelay(ROLE_IDS.UPGRADER)).to.equal(BigInt(DELAY));
  });
});

describe("deploy module: channel settle timeout", () => {
  it("refuses a settle timeout above PaymentChannels.MAX_SETTLE_TIMEOUT before sending anything", async () => {
    const [deployer] = await ethers.getSigners();
    const nonce = await ethers.provider.getTransactionCount(deployer!.address);
    const failure = await deployMarket({
      hre,
      connection,
      channels: { settleTimeoutSeconds: 30 * 24 * 3600 + 1 },
      deployer: deployer!,
      roles: {
        upgraders: [],
        upgraderDelaySeconds: 0,
        gridOperators: [],
        meters: [],
        producers: [],
        consumers: [],
      },
      review: {
        slotSeconds: 900,
        maxOrderWh: 1n,
        maxParticipantSlotWh: 1n,
        mode: "auto",
        manualThresholdWh: 0n,
      },
    }).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).to.equal("invalid deploy parameter channels.settleTimeoutSeconds");
    expect(await ethers.provider.getTransactionCount(deployer!.address)).to.equal(nonce);
  });
});
