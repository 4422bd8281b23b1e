import { expect } from "chai";
import hre from "hardhat";
import { join } from "node:path";
import { ensureDeployed, type MarketSetup } from "../../ops/contracts/consortium.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import type { Address } from "../../ops/contracts/index.js";
import { tempDir } from "./helpers.js";

/** `deploy` from the consortium file: grid charges applied, role grants under an admin delay. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const DELAY = 600;
const CREDITS = 1_000_000n;

describe("deploy from the consortium file", () => {
  it("applies the capacity fee and least default, schedules then executes grants under an admin delay, and names them as proposals once ADMIN is handed over", async () => {
    const [deployer, grid, meter, solar, alice, bob] = await ethers.getSigners();
    const a = (signer: { address: string }) => signer.address as Address;
    const setup = (consumers: Address[]): MarketSetup => ({
      review: {
        slotSeconds: 900,
        maxOrderWh: 100_000n,
        maxParticipantSlotWh: 500_000n,
        mode: "auto",
        manualThresholdWh: 0n,
      },
      upgraderDelaySeconds: DELAY,
      settleTimeoutSeconds: 3600,
      mediationFeePerKwh: 0n,
      roles: {
        UPGRADER: [a(deployer!)],
        GRID_OPERATOR: [a(grid!)],
        METER: [a(meter!)],
        PRODUCER: [a(solar!)],
        CONSUMER: consumers,
      },
      zoneIds: { north: 1 },
      participantZones: [a(solar!), ...consumers].map((account) => ({ account, zone: 1 })),
      capacities: [{ zone: 1, exportW: 1_000_000n, importW: 1_000_000n }],
      charges: { capacityFeePerKwh: 10_000n, minDefaultPerKwh: 50_000n },
      credits: consumers.map((account) => ({ account, amount: CREDITS })),
    });
    const lines: string[] = [];
    const run = async (
      consumers: Address[],
      existing?: Awaited<ReturnType<typeof ensureDeployed>>,
    ) =>
      ensureDeployed({
        hre,
        connection,
        deployer: deployer!,
        gridOperator: grid!,
        setup: setup(consumers),
        existing: existing?.manifest,
        manifestPath: join(tempDir(), "deployment.json"),
        log: (line) => lines.push(line),
      });

    const first = await run([a(alice!)]);
    const review = await ethers.getContractAt(
      "GridReview",
      first.manifest.contracts.GridReview.proxy,
    );
    expect(await review.capacityFee()).to.equal(10_000n);
    expect(await review.minDefault()).to.equal(50_000n);
    const manager = await ethers.getContractAt(
      "GridAccessManager",
      first.manifest.contracts.GridAccessManager.proxy,
    );
    const credit = await ethers.getContractAt(
      "GridCredit",
      first.manifest.contracts.GridCredit.proxy,
    );
    expect((await manager.hasRole(ROLE_IDS.ADMIN, deployer!.address))[1]).to.equal(BigInt(DELAY));

    // bob joins the file: the admin's grant must wait for its delay.
    lines.length = 0;
    await run([a(alice!), a(bob!)], first);
    expect(lines.join("\n")).to.match(
      /1 missing role grants wait for the admin's 600 s delay \(1 scheduled now\); executable from \S+: run 'gridchain deploy' again then/,
    );
    expect((await manager.hasRole(ROLE_IDS.CONSUMER, bob!.address))[0]).to.equal(false);
    expect(await credit.balanceOf(bob!.address)).to.equal(0n);

    // Not yet due: nothing is scheduled twice, nothing granted.
    lines.length = 0;
    await run([a(alice!), a(bob!)], first);
    expect(lines.join("\n")).to.contain(
      "1 missing role grants wait for the admin's 600 s delay (0 scheduled now)",
    );
    expect((await manager.hasRole(ROLE_IDS.CONSUMER, bob!.address))[0]).to.equal(false);

    await networkHelpers.time.increase(DELAY);
    lines.length = 0;
    await run([a(alice!), a(bob!)], first);
    expect(lines).to.include("granted 1 missing roles (scheduled earlier, now due)");
    expect((await manager.hasRole(ROLE_IDS.CONSUMER, bob!.address))[0]).to.equal(true);
    expect(await credit.balanceOf(bob!.address)).to.equal(CREDITS);
    expect(await credit.balanceOf(alice!.address)).to.equal(CREDITS);

    // The deployer hands ADMIN and UPGRADER over (as the governance step does): a later account
    // of the file is named as a proposal to make, and nothing is granted, minted or upgraded.
    const carol = (await ethers.getSigners())[6]!;
    await (
      await manager
        .connect(deployer!)
        .multicall([
          manager.interface.encodeFunctionData("renounceRole", [
            ROLE_IDS.UPGRADER,
            deployer!.address,
          ]),
          manager.interface.encodeFunctionData("renounceRole", [ROLE_IDS.ADMIN, deployer!.address]),
        ])
    ).wait();
    lines.length = 0;
    await run([a(alice!), a(bob!), a(carol)], first);
    expect(lines).to.include(
      `1 accounts of the file lack their roles, and the members' governance holds ADMIN, not the deployer: propose each grant, e.g. 'gridchain members propose grant CONSUMER ${carol.address}'`,
    );
    expect((await manager.hasRole(ROLE_IDS.CONSUMER, carol.address))[0]).to.equal(false);
    expect(await credit.balanceOf(carol.address)).to.equal(0n);
  });
});
