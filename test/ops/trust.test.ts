import { expect } from "chai";
import hre from "hardhat";
import { ROLE_IDS, type DeploymentManifest } from "../../ops/contracts/index.js";
import { renderTrustModel, trustModelOf } from "../../ops/contracts/trust.js";
import { deployWorld } from "../helpers/market.js";

const connection = await hre.network.create();
const { networkHelpers } = connection;

function world() {
  return deployWorld(hre, connection);
}

describe("trust model read from chain (ops/contracts/trust.ts)", () => {
  it("lists every role with its holders, delays, granting role and functions", async () => {
    const w = await networkHelpers.loadFixture(world);
    const model = await trustModelOf(connection.ethers.provider, w.manifest);
    const row = (role: string) => model.roles.find((r) => r.role === role)!;
    expect(model.roles.map((r) => r.role)).to.deep.equal(Object.keys(ROLE_IDS));
    expect(row("PRODUCER").members.map((m) => m.account)).to.deep.equal([
      w.solar.address,
      w.wind.address,
    ]);
    expect(row("PRODUCER").functions).to.deep.equal([
      "EnergyMarket.publish",
      "EnergyMarket.publishStanding",
    ]);
    expect(row("CONSUMER").grantedBy).to.equal("ADMIN");
    // Trading asks for a zone, not a role: solar, wind, alice and bob have one, carol does not.
    expect(model.traders.holders).to.have.members([
      w.solar.address,
      w.wind.address,
      w.alice.address,
      w.bob.address,
    ]);
    expect(model.traders.functions).to.include("EnergyMarket.confirm");
    expect(row("UPGRADER").functions).to.include("EnergyMarket.upgradeToAndCall");
    expect(row("GRID_OPERATOR").functions).to.include("GridReview.setTariff");
    expect(model.targetAdminDelaySeconds.EnergyMarket).to.equal(0);
  });

  it("shows what the chain says, not what the table meant: a rewired upgrade selector", async () => {
    const w = await networkHelpers.loadFixture(world);
    const selector = w.market.interface.getFunction("upgradeToAndCall").selector;
    await w.manager
      .connect(w.admin)
      .setTargetFunctionRole(await w.market.getAddress(), [selector], ROLE_IDS.ADMIN);
    const model = await trustModelOf(connection.ethers.provider, w.manifest as DeploymentManifest);
    const admin = model.roles.find((r) => r.role === "ADMIN")!;
    expect(admin.functions).to.include("EnergyMarket.upgradeToAndCall");
    const text = renderTrustModel(model);
    expect(text[0]).to.equal(
      "trust model (read from chain; holders among the manifest's accounts):",
    );
    expect(text.find((line) => line.startsWith("  ADMIN "))).to.contain(
      "EnergyMarket.upgradeToAndCall",
    );
    expect(text.find((line) => line.startsWith("  traders "))).to.contain(
      "4 holders, may call EnergyMarket.{request,requestBefore,buy,confirm}",
    );
  });
});
