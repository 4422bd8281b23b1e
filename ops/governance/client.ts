import { Interface, type Signer } from "ethers";
import type { ConsortiumGovernance } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import type { GovernanceParameters } from "./deploy.js";
import { organisationOf, type MemberInput } from "./members.js";

/** A proposal's calls, as ConsortiumGovernance.propose and execute take them. */
export type ProposalCalls = { targets: string[]; values: bigint[]; calldatas: string[] };

export { PROPOSAL_STATES, type ProposalStateName } from "./states.js";
import { PROPOSAL_STATES, type ProposalStateName } from "./states.js";

/** The `allow` bits: a proposal overrides a safety rail only by naming it. */
export const ALLOW = { fewValidators: 1, concentration: 2, noGridOperator: 4 } as const;

const GOVERNANCE = new Interface([
  "function addMember((bytes32 id,address voter,bool gridOperator,string[] enodes,address[] validators,address[] accounts,uint64[] roles,uint16[] zones) input)",
  "function addMemberAccounts(bytes32 id,address[] accounts,uint64[] roles,uint16[] zones)",
  "function removeMember(bytes32 id)",
  "function rotateValidator(bytes32 id,address previousValidator,address newValidator)",
  "function setParameters((uint16 approvalBps,uint32 votingPeriodSeconds,uint32 executionDelaySeconds,uint32 executionWindowSeconds) parameters)",
]);
const REVIEW = new Interface(["function setLimits(uint64 maxOrderWh,uint64 maxParticipantSlotWh)"]);
const MANAGER = new Interface([
  "function grantRole(uint64 roleId,address account,uint32 executionDelay)",
  "function revokeRole(uint64 roleId,address account)",
]);
const UUPS = new Interface(["function upgradeToAndCall(address implementation,bytes data)"]);

const one = (target: string, data: string): ProposalCalls => ({
  targets: [target],
  values: [0n],
  calldatas: [data],
});

/** The calls of each kind of proposal. */
export const proposalCalls = {
  addMember: (governance: string, input: MemberInput) =>
    one(governance, GOVERNANCE.encodeFunctionData("addMember", [input])),
  removeMember: (governance: string, id: string) =>
    one(governance, GOVERNANCE.encodeFunctionData("removeMember", [id])),
  /** More accounts of a member (`accounts`, `roles` and `zones` as in MemberInput). */
  addMemberAccounts: (
    governance: string,
    member: Pick<MemberInput, "id" | "accounts" | "roles" | "zones">,
  ) =>
    one(
      governance,
      GOVERNANCE.encodeFunctionData("addMemberAccounts", [
        member.id,
        member.accounts,
        member.roles,
        member.zones,
      ]),
    ),
  rotateValidator: (governance: string, id: string, previous: string, next: string) =>
    one(governance, GOVERNANCE.encodeFunctionData("rotateValidator", [id, previous, next])),
  /** A grid parameter: GridReview's per-order and per-participant-slot limits in Wh. */
  setLimits: (review: string, maxOrderWh: bigint, maxParticipantSlotWh: bigint) =>
    one(review, REVIEW.encodeFunctionData("setLimits", [maxOrderWh, maxParticipantSlotWh])),
  /** The members' own voting rules (MemberRegistry.setParameters, callable by the governance only). */
  setParameters: (governance: string, parameters: GovernanceParameters) =>
    one(governance, GOVERNANCE.encodeFunctionData("setParameters", [parameters])),
  /** A role on the AccessManager, which only the governance's ADMIN can grant once handed over. */
  grantRole: (manager: string, roleId: bigint, account: string) =>
    one(manager, MANAGER.encodeFunctionData("grantRole", [roleId, account, 0])),
  revokeRole: (manager: string, roleId: bigint, account: string) =>
    one(manager, MANAGER.encodeFunctionData("revokeRole", [roleId, account])),
  /** An upgrade of a UUPS proxy to an implementation already deployed. */
  upgrade: (proxy: string, implementation: string) =>
    one(proxy, UUPS.encodeFunctionData("upgradeToAndCall", [implementation, "0x"])),
};

/** Makes a proposal and returns its id (from the ProposalCreated event). */
export async function propose(
  governance: ConsortiumGovernance,
  voter: Signer,
  calls: ProposalCalls,
  allow: number,
  description: string,
): Promise<bigint> {
  const tx = await governance
    .connect(voter)
    .propose(calls.targets, calls.values, calls.calldatas, allow, description);
  const receipt = await tx.wait();
  for (const log of receipt?.logs ?? []) {
    const parsed = governance.interface.parseLog(log);
    if (parsed?.name === "ProposalCreated") return parsed.args.proposalId as bigint;
  }
  throw new Error("propose: no ProposalCreated event in the receipt");
}

/** The calls a proposal was made with, read back from its ProposalCreated event. */
export async function callsOf(
  governance: ConsortiumGovernance,
  proposalId: bigint,
): Promise<ProposalCalls & { description: string; allow: number }> {
  const events = await governance.queryFilter(governance.filters.ProposalCreated(proposalId), 0);
  const event = events[0];
  if (event === undefined) {
    throw new OperatorError(`no proposal ${proposalId}`, {
      hint: "list them with 'gridchain members status'",
    });
  }
  // Positional: `values` is also a method of ethers' Result.
  const [, , targets, values, calldatas, allow, description] = event.args;
  return {
    targets: [...targets],
    values: [...values],
    calldatas: [...calldatas],
    allow: Number(allow),
    description,
  };
}

/** Executes a passed proposal with the calls it was made with. */
export async function execute(
  governance: ConsortiumGovernance,
  sender: Signer,
  proposalId: bigint,
): Promise<string> {
  const calls = await callsOf(governance, proposalId);
  const tx = await governance
    .connect(sender)
    .execute(proposalId, calls.targets, calls.values, calls.calldatas);
  await tx.wait();
  return tx.hash;
}

export type MemberView = {
  organisation: string;
  voter: string;
  gridOperator: boolean;
  active: boolean;
  enodes: string[];
  validators: string[];
  accounts: string[];
  roles: bigint[];
};

/** Every member ever registered (removed ones with active = false), in registration order. */
export async function readMembers(governance: ConsortiumGovernance): Promise<MemberView[]> {
  const ids = await governance.memberIds();
  return Promise.all(
    ids.map(async (id) => {
      const m = await governance.member(id);
      return {
        organisation: organisationOf(id),
        voter: m.voter,
        gridOperator: m.gridOperator,
        active: m.active,
        enodes: [...m.enodes],
        validators: [...m.validators],
        accounts: [...m.accounts],
        roles: [...m.roles],
      };
    }),
  );
}

export type ProposalView = {
  id: bigint;
  state: ProposalStateName;
  proposer: string;
  description: string;
  forVotes: number;
  againstVotes: number;
  memberCount: number;
  votingEndsAt: number;
  executableAt: number;
  expiresAt: number;
};

export async function readProposals(governance: ConsortiumGovernance): Promise<ProposalView[]> {
  const count = Number(await governance.proposalCount());
  const events = await governance.queryFilter(governance.filters.ProposalCreated(), 0);
  const descriptions = new Map(
    events.map((event) => [event.args.proposalId, event.args.description]),
  );
  const views: ProposalView[] = [];
  for (let id = 1n; id <= BigInt(count); id += 1n) {
    const p = await governance.proposal(id);
    views.push({
      id,
      state: PROPOSAL_STATES[Number(await governance.state(id))]!,
      proposer: organisationOf(p.proposer),
      description: descriptions.get(id) ?? "",
      forVotes: Number(p.forVotes),
      againstVotes: Number(p.againstVotes),
      memberCount: Number(p.memberCount),
      votingEndsAt: Number(p.votingEndsAt),
      executableAt: Number(p.executableAt),
      expiresAt: Number(p.expiresAt),
    });
  }
  return views;
}
