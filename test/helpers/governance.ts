import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection } from "hardhat/types/network";
import { Wallet } from "ethers";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toAddress } from "../../ops/besu/keys.js";
import { validatorContractAlloc } from "../../ops/besu/validator-contract.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { execute, propose, type ProposalCalls } from "../../ops/governance/client.js";
import { ensureGovernance } from "../../ops/governance/deploy.js";
import { memberId, type MemberInput } from "../../ops/governance/members.js";
import type { ConsortiumGovernance, ValidatorSet } from "../../types/ethers-contracts/index.js";
import { tempDir } from "../ops/helpers.js";
import { deployWorld } from "./market.js";

export const SET_ADDRESS = "0x0000000000000000000000000000000000007a11";
export const PARAMETERS = {
  approvalBps: 6667,
  votingPeriodSeconds: 100,
  executionDelaySeconds: 50,
  executionWindowSeconds: 1000,
};
export const State = {
  Active: 0n,
  Defeated: 1n,
  Queued: 2n,
  Executable: 3n,
  Expired: 4n,
  Executed: 5n,
};
export const validator = () => Wallet.createRandom().address;

export async function advance(connection: NetworkConnection, seconds: number): Promise<void> {
  await connection.ethers.provider.send("evm_increaseTime", [seconds]);
  await connection.ethers.provider.send("evm_mine", []);
}

/**
 * The market world, the genesis ValidatorSet (code and storage as the genesis writes them) with
 * four validators of four members, and the governance deployed and wired by ensureGovernance
 * (with `extraAccounts` dealt round the members as consumers).
 */
export async function governed(
  options: { deployerKeepsAdmin?: boolean; extraAccounts?: readonly string[] } = {},
) {
  const connection = await hre.network.create();
  const world = await deployWorld(hre, connection);
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const [storageVoter, hydroVoter, hydroConsumer] = [signers[9]!, signers[10]!, signers[11]!];
  const validators = [validator(), validator(), validator(), validator()];
  const alloc = validatorContractAlloc(
    validators.map((v) => toAddress(v)),
    toAddress(world.admin.address),
  );
  await ethers.provider.send("hardhat_setCode", [SET_ADDRESS, alloc.code]);
  for (const [slot, value] of Object.entries(alloc.storage)) {
    await ethers.provider.send("hardhat_setStorageAt", [SET_ADDRESS, `0x${slot}`, `0x${value}`]);
  }
  const member = (
    id: string,
    voter: HardhatEthersSigner,
    index: number,
    accounts: [HardhatEthersSigner, bigint, number][],
  ): MemberInput => ({
    id: memberId(id),
    voter: voter.address,
    gridOperator: id === "grid",
    enodes: [],
    validators: [validators[index]!],
    accounts: accounts.map(([signer]) => signer.address),
    roles: accounts.map(([, role]) => role),
    zones: accounts.map(([, , zone]) => zone),
  });
  const members = [
    member("grid", world.grid, 0, [[world.grid, ROLE_IDS.GRID_OPERATOR, 0]]),
    member("solar", world.solar, 1, [[world.solar, ROLE_IDS.PRODUCER, 1]]),
    member("wind", world.wind, 2, [[world.wind, ROLE_IDS.PRODUCER, 2]]),
    member("storage", storageVoter, 3, []),
  ];
  // Extra consumer accounts, dealt round the members, zones 1 and 2 in turn.
  (options.extraAccounts ?? []).forEach((account, index) => {
    const m = members[index % members.length]!;
    m.accounts.push(account);
    m.roles.push(ROLE_IDS.CONSUMER);
    m.zones.push(1 + (index % 2));
  });
  const recordPath = join(tempDir(), "pilot.governance.json");
  await ensureGovernance({
    hre,
    connection,
    deployer: world.admin,
    manifest: world.manifest,
    validatorSet: SET_ADDRESS,
    parameters: PARAMETERS,
    members,
    deployerKeepsAdmin: options.deployerKeepsAdmin ?? false,
    recordPath,
    log: () => undefined,
  });
  const { governance: address } = JSON.parse(readFileSync(recordPath, "utf8")) as {
    governance: string;
  };
  const governance = (await ethers.getContractAt(
    "ConsortiumGovernance",
    address,
  )) as unknown as ConsortiumGovernance;
  const set = (await ethers.getContractAt("ValidatorSet", SET_ADDRESS)) as unknown as ValidatorSet;
  const hydro: MemberInput = {
    id: memberId("hydro"),
    voter: hydroVoter.address,
    gridOperator: false,
    enodes: [`enode://${"ab".repeat(64)}@203.0.113.7:30303`],
    validators: [validator()],
    accounts: [hydroVoter.address, hydroConsumer.address],
    roles: [ROLE_IDS.PRODUCER, ROLE_IDS.CONSUMER],
    zones: [1, 2],
  };
  return {
    connection,
    world,
    governance,
    set,
    validators,
    storageVoter,
    hydroVoter,
    hydroConsumer,
    hydro,
    members,
    recordPath,
  };
}

/** Passes a proposal with the votes of grid, solar and wind (3 of 4) and executes it. */
export async function pass(g: Awaited<ReturnType<typeof governed>>, calls: ProposalCalls) {
  const { world, governance } = g;
  const id = await propose(governance, world.grid, calls, 0, "test");
  for (const voter of [world.grid, world.solar, world.wind])
    await (await governance.connect(voter).castVote(id, true)).wait();
  await advance(g.connection, PARAMETERS.votingPeriodSeconds + PARAMETERS.executionDelaySeconds);
  await execute(governance, world.grid, id);
}
