import { expect } from "chai";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection } from "hardhat/types/network";
import { Wallet } from "ethers";
import { toAddress, type Address } from "../../ops/besu/keys.js";
import { validatorContractAlloc } from "../../ops/besu/validator-contract.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import {
  ALLOW,
  execute,
  propose,
  proposalCalls,
  readMembers,
} from "../../ops/governance/client.js";
import { deployValidatorSet, ensureGovernance } from "../../ops/governance/deploy.js";
import { memberId, type MemberInput } from "../../ops/governance/members.js";
import type { ConsortiumGovernance, ValidatorSet } from "../../types/ethers-contracts/index.js";
import { tempDir } from "../ops/helpers.js";
import {
  advance,
  governed,
  PARAMETERS,
  SET_ADDRESS,
  State,
  validator,
} from "../helpers/governance.js";
import { deployWorld, publishOffer } from "../helpers/market.js";
import { join } from "node:path";
import { readFileSync } from "node:fs";

describe("ConsortiumGovernance", () => {
  it("a member joins by a vote of more than 2/3: validator set, roles and zones change in one execution; it votes only on later proposals", async () => {
    const g = await governed();
    const { world, governance, set, hydro } = g;
    const calls = proposalCalls.addMember(await governance.getAddress(), hydro);
    const id = await propose(governance, world.grid, calls, 0, "hydro joins");
    for (const voter of [world.grid, world.solar, world.wind]) {
      await expect(governance.connect(voter).castVote(id, true)).to.emit(governance, "VoteCast");
    }
    expect(await governance.state(id)).to.equal(State.Active);
    await advance(g.connection, 100);
    expect(await governance.state(id)).to.equal(State.Queued);
    await advance(g.connection, 50);
    expect(await governance.state(id)).to.equal(State.Executable);
    // Made before hydro joins: hydro is not in its member count and may not vote on it.
    const earlier = await propose(
      governance,
      world.grid,
      proposalCalls.setLimits(await world.review.getAddress(), 1000n, 2000n),
      0,
      "limits",
    );
    await expect(governance.execute(id, calls.targets, calls.values, calls.calldatas))
      .to.emit(governance, "MemberAdded")
      .and.to.emit(set, "ValidatorAdded")
      .withArgs(hydro.validators[0]);
    expect(await set.getValidators()).to.deep.equal([...g.validators, hydro.validators[0]]);
    expect((await world.manager.hasRole(ROLE_IDS.PRODUCER, g.hydroVoter.address))[0]).to.equal(
      true,
    );
    expect((await world.manager.hasRole(ROLE_IDS.CONSUMER, g.hydroConsumer.address))[0]).to.equal(
      true,
    );
    expect(await world.review.zoneOf(g.hydroVoter.address)).to.equal(1n);
    expect(await governance.memberCount()).to.equal(5n);
    expect(await governance.state(id)).to.equal(State.Executed);
    await expect(governance.connect(g.hydroVoter).castVote(earlier, true))
      .to.be.revertedWithCustomError(governance, "GovernanceJoinedAfterProposal")
      .withArgs(earlier, memberId("hydro"));
    // The new member votes from now on; it can publish an offer (holds PRODUCER).
    await (
      await world.market
        .connect(g.hydroVoter)
        .publish(0, 1, 1, 1000, world.deliveryStart, world.deliveryEnd, world.deliveryStart)
    ).wait();
    expect(await world.market.offerCount()).to.equal(1n);
  });

  it("a removed member's accounts lose their roles and their zones, so they can no longer trade", async () => {
    const g = await governed();
    const { world, governance } = g;
    const address = await governance.getAddress();
    const pass = async (
      calls: ReturnType<typeof proposalCalls.addMember>,
      voters: HardhatEthersSigner[],
      text: string,
    ) => {
      const id = await propose(governance, world.grid, calls, 0, text);
      for (const voter of voters) await governance.connect(voter).castVote(id, true);
      await advance(g.connection, 150);
      await governance.execute(id, calls.targets, calls.values, calls.calldatas);
    };
    await pass(
      proposalCalls.addMember(address, g.hydro),
      [world.grid, world.solar, world.wind],
      "in",
    );
    const offerId = await publishOffer(world, world.solar, 10_000n);
    await world.market.connect(g.hydroConsumer).request(offerId, 1_000n);
    await pass(
      proposalCalls.removeMember(address, memberId("hydro")),
      [world.grid, world.solar, world.wind, g.storageVoter],
      "out",
    );
    for (const account of [g.hydroVoter, g.hydroConsumer]) {
      expect(await world.review.zoneOf(account.address)).to.equal(0n);
    }
    expect((await world.manager.hasRole(ROLE_IDS.CONSUMER, g.hydroConsumer.address))[0]).to.equal(
      false,
    );
    await expect(world.market.connect(g.hydroConsumer).request(offerId, 1_000n))
      .to.be.revertedWithCustomError(world.market, "GridNotTrader")
      .withArgs(g.hydroConsumer.address);
  });

  it("a vote below the threshold changes nothing and the proposal cannot execute", async () => {
    const g = await governed();
    const { world, governance, set, hydro } = g;
    const calls = proposalCalls.addMember(await governance.getAddress(), hydro);
    const id = await propose(governance, world.grid, calls, 0, "hydro joins");
    await governance.connect(world.grid).castVote(id, true);
    await governance.connect(world.solar).castVote(id, true);
    await governance.connect(world.wind).castVote(id, false);
    await advance(g.connection, 150);
    expect(await governance.state(id)).to.equal(State.Defeated);
    await expect(governance.execute(id, calls.targets, calls.values, calls.calldatas))
      .to.be.revertedWithCustomError(governance, "GovernanceWrongState")
      .withArgs(id, State.Defeated);
    expect(await set.getValidators()).to.deep.equal(g.validators);
    expect(await governance.memberCount()).to.equal(4n);
  });

  it("a passed proposal past its execution window has expired and cannot execute", async () => {
    const g = await governed();
    const { world, governance, hydro } = g;
    const calls = proposalCalls.addMember(await governance.getAddress(), hydro);
    const id = await propose(governance, world.grid, calls, 0, "hydro joins");
    for (const voter of [world.grid, world.solar, world.wind, g.storageVoter]) {
      await governance.connect(voter).castVote(id, true);
    }
    await advance(g.connection, 100 + 50 + 1000);
    expect(await governance.state(id)).to.equal(State.Expired);
    await expect(governance.execute(id, calls.targets, calls.values, calls.calldatas))
      .to.be.revertedWithCustomError(governance, "GovernanceWrongState")
      .withArgs(id, State.Expired);
    expect(await governance.memberCount()).to.equal(4n);
  });

  it("one vote per member organisation: a second vote and a non-member are refused", async () => {
    const g = await governed();
    const { world, governance } = g;
    const calls = proposalCalls.setLimits(await world.review.getAddress(), 1000n, 2000n);
    const id = await propose(governance, world.grid, calls, 0, "limits");
    await governance.connect(world.grid).castVote(id, true);
    await expect(governance.connect(world.grid).castVote(id, true))
      .to.be.revertedWithCustomError(governance, "GovernanceAlreadyVoted")
      .withArgs(id, memberId("grid"));
    await expect(governance.connect(world.alice).castVote(id, true))
      .to.be.revertedWithCustomError(governance, "GovernanceNotVoter")
      .withArgs(world.alice.address);
    await expect(
      governance.connect(world.alice).propose(calls.targets, calls.values, calls.calldatas, 0, "x"),
    ).to.be.revertedWithCustomError(governance, "GovernanceNotVoter");
  });

  it("a grid parameter changes by a passed proposal (governance holds GRID_OPERATOR)", async () => {
    const g = await governed();
    const { world, governance } = g;
    const calls = proposalCalls.setLimits(await world.review.getAddress(), 1234n, 5678n);
    const id = await propose(governance, world.grid, calls, 0, "limits");
    for (const voter of [world.grid, world.solar, world.wind])
      await governance.connect(voter).castVote(id, true);
    await advance(g.connection, 150);
    await execute(governance, world.outsider, id);
    expect(await world.review.limits()).to.deep.equal([1234n, 5678n]);
  });

  it("rotates a member's validator key", async () => {
    const g = await governed();
    const { world, governance, set } = g;
    const next = validator();
    const calls = proposalCalls.rotateValidator(
      await governance.getAddress(),
      memberId("solar"),
      g.validators[1]!,
      next,
    );
    const id = await propose(governance, world.solar, calls, 0, "solar rotates its validator key");
    for (const voter of [world.grid, world.solar, world.wind])
      await governance.connect(voter).castVote(id, true);
    await advance(g.connection, 150);
    await execute(governance, world.outsider, id);
    const now = await set.getValidators();
    expect(now).to.include(next);
    expect(now).to.not.include(g.validators[1]);
    expect(
      (await readMembers(governance)).find((m) => m.organisation === "solar")!.validators,
    ).to.deep.equal([next]);
  });

  it("safety rails refuse a proposal at once: fewer than 4 validators, an organisation with a third, the last grid operator", async () => {
    const g = await governed();
    const { world, governance } = g;
    const address = await governance.getAddress();
    const remove = proposalCalls.removeMember(address, memberId("storage"));
    await expect(propose(governance, world.grid, remove, 0, "storage leaves"))
      .to.be.revertedWithCustomError(governance, "GovernanceTooFewValidators")
      .withArgs(3, 4);
    // Three validators of three organisations: each holds a third, which is a rail of its own.
    await expect(propose(governance, world.grid, remove, ALLOW.fewValidators, "storage leaves"))
      .to.be.revertedWithCustomError(governance, "GovernanceValidatorConcentration")
      .withArgs(memberId("grid"), 1, 3);
    // Said explicitly, the same proposal is accepted.
    const accepted = await propose(
      governance,
      world.grid,
      remove,
      ALLOW.fewValidators | ALLOW.concentration,
      "storage leaves",
    );
    expect(await governance.state(accepted)).to.equal(State.Active);

    const heavy = { ...g.hydro, validators: [validator(), validator(), validator()] };
    await expect(
      propose(governance, world.grid, proposalCalls.addMember(address, heavy), 0, "heavy"),
    )
      .to.be.revertedWithCustomError(governance, "GovernanceValidatorConcentration")
      .withArgs(memberId("hydro"), 3, 7);

    const gridLeaves = proposalCalls.removeMember(address, memberId("grid"));
    await expect(
      propose(
        governance,
        world.solar,
        gridLeaves,
        ALLOW.fewValidators | ALLOW.concentration,
        "grid leaves",
      ),
    ).to.be.revertedWithCustomError(governance, "GovernanceNoGridOperator");
  });

  it("member changes run only as a proposal's calls, and the validator set only takes orders from the governance", async () => {
    const g = await governed();
    const { world, governance, set } = g;
    await expect(governance.connect(world.grid).addMember(g.hydro))
      .to.be.revertedWithCustomError(governance, "MembersOnlyGovernance")
      .withArgs(world.grid.address);
    await expect(set.connect(world.admin).addValidator(validator()))
      .to.be.revertedWithCustomError(set, "ValidatorSetUnauthorized")
      .withArgs(world.admin.address, await governance.getAddress());
  });

  it("a ValidatorSet deployed by transaction (a block-header chain's transition) holds the given validators and is handed to the governance", async () => {
    const connection = await hre.network.create();
    const world = await deployWorld(hre, connection);
    const validators = [validator(), validator(), validator(), validator()];
    const { address } = await deployValidatorSet({
      connection,
      deployer: world.admin,
      validators,
    });
    const set = (await connection.ethers.getContractAt(
      "ValidatorSet",
      address,
    )) as unknown as ValidatorSet;
    expect(await set.getValidators()).to.deep.equal(validators);
    expect(await set.controller()).to.equal(world.admin.address);
    const signers = await connection.ethers.getSigners();
    const members = [world.grid, world.solar, world.wind, signers[9]!].map(
      (voter, index): MemberInput => ({
        id: memberId(["grid", "solar", "wind", "storage"][index]!),
        voter: voter.address,
        gridOperator: index === 0,
        enodes: [],
        validators: [validators[index]!],
        accounts: [],
        roles: [],
        zones: [],
      }),
    );
    const recordPath = join(tempDir(), "transition.governance.json");
    await ensureGovernance({
      hre,
      connection,
      deployer: world.admin,
      manifest: world.manifest,
      validatorSet: address,
      parameters: PARAMETERS,
      members,
      deployerKeepsAdmin: false,
      recordPath,
      log: () => undefined,
    });
    const record = JSON.parse(readFileSync(recordPath, "utf8")) as { governance: string };
    expect(await set.controller()).to.equal(record.governance);
  });

  it("a second ensureGovernance sends nothing", async () => {
    const g = await governed();
    const sent = await ensureGovernance({
      hre,
      connection: g.connection,
      deployer: g.world.admin,
      manifest: g.world.manifest,
      validatorSet: SET_ADDRESS,
      parameters: PARAMETERS,
      members: [],
      deployerKeepsAdmin: false,
      recordPath: g.recordPath,
      log: () => undefined,
    });
    expect(sent).to.equal(0);
  });
});
