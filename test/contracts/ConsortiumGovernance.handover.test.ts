import { expect } from "chai";
import { Wallet } from "ethers";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { trustModelOf, renderTrustModel } from "../../ops/contracts/trust.js";
import { proposalCalls } from "../../ops/governance/client.js";
import { describeVotingRules } from "../../ops/governance/parameters.js";
import { governed, pass, PARAMETERS } from "../helpers/governance.js";

describe("ConsortiumGovernance: the deployer hands ADMIN to the members' vote", () => {
  it("after the deploy the deployer holds neither ADMIN nor UPGRADER and cannot grant a role; a passed proposal can", async () => {
    const g = await governed();
    const { world, governance } = g;
    const manager = world.manager;
    const governanceAddress = await governance.getAddress();
    for (const role of [ROLE_IDS.ADMIN, ROLE_IDS.UPGRADER]) {
      expect((await manager.hasRole(role, world.admin.address))[0]).to.equal(false);
      expect(await manager.hasRole(role, governanceAddress)).to.deep.equal([true, 0n]);
    }
    const meter = Wallet.createRandom().address;
    await expect(manager.connect(world.admin).grantRole(ROLE_IDS.METER, meter, 0))
      .to.be.revertedWithCustomError(manager, "AccessManagerUnauthorizedAccount")
      .withArgs(world.admin.address, ROLE_IDS.ADMIN);
    await pass(g, proposalCalls.grantRole(await manager.getAddress(), ROLE_IDS.METER, meter));
    expect((await manager.hasRole(ROLE_IDS.METER, meter))[0]).to.equal(true);
    // The live trust table names who holds ADMIN now.
    const model = await trustModelOf(g.connection.ethers.provider, world.manifest, {
      governance: governanceAddress,
    });
    expect(renderTrustModel(model).join("\n")).to.contain(
      `ADMIN held by the members' governance ${governanceAddress} only; the deployer ${world.admin.address} renounced it`,
    );
  });

  it("a pilot's governance.deployerKeepsAdmin keeps the deployer's ADMIN beside the governance, and status says so", async () => {
    const g = await governed({ deployerKeepsAdmin: true });
    const { world, governance } = g;
    expect((await world.manager.hasRole(ROLE_IDS.ADMIN, world.admin.address))[0]).to.equal(true);
    const meter = Wallet.createRandom().address;
    await (await world.manager.connect(world.admin).grantRole(ROLE_IDS.METER, meter, 0)).wait();
    expect((await world.manager.hasRole(ROLE_IDS.METER, meter))[0]).to.equal(true);
    const model = await trustModelOf(g.connection.ethers.provider, world.manifest, {
      governance: await governance.getAddress(),
    });
    expect(renderTrustModel(model).join("\n")).to.contain(
      `ADMIN held by the members' governance ${await governance.getAddress()} and by the deployer ${world.admin.address} (governance.deployerKeepsAdmin: a pilot)`,
    );
  });

  it("the voting rules are chain state: the status shows where the YAML differs, and a passed proposal aligns them", async () => {
    const g = await governed();
    const { governance } = g;
    expect(describeVotingRules(PARAMETERS, await governance.parameters(), "c.yaml")).to.deep.equal([
      "voting rules on chain: approval 6667 bps of members, voting 100 s, delay 50 s, window 1000 s",
      "  c.yaml governance: the same",
    ]);
    const yaml = { ...PARAMETERS, votingPeriodSeconds: 200, executionDelaySeconds: 0 };
    expect(
      describeVotingRules(yaml, await governance.parameters(), "c.yaml").slice(1),
    ).to.deep.equal([
      "  c.yaml governance differs: votingPeriodSeconds 200 (chain 100), executionDelaySeconds 0 (chain 50)",
      "  the chain's rules change only by a vote: 'gridchain members propose parameters' proposes the file's",
    ]);
    await pass(g, proposalCalls.setParameters(await governance.getAddress(), yaml));
    expect(describeVotingRules(yaml, await governance.parameters(), "c.yaml")[1]).to.equal(
      "  c.yaml governance: the same",
    );
  });
});
