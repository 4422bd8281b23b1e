import { Interface } from "ethers";
import type { Registry } from "prom-client";
import { rpcCall } from "../engines/rpc.js";
import { PROPOSAL_STATES, createMetric } from "./catalogue.js";

/** Where the members' governance lives (deployments/<network>.governance.json). */
export type GovernanceAddresses = { governance: string; validatorSet: string };

const ABI = new Interface([
  "function memberCount() view returns (uint256)",
  "function proposalCount() view returns (uint256)",
  "function state(uint256 proposalId) view returns (uint8)",
  "function proposal(uint256 proposalId) view returns ((bytes32 callsHash,bytes32 proposer,uint64 votingEndsAt,uint64 executableAt,uint64 expiresAt,uint32 memberCount,uint32 forVotes,uint32 againstVotes,uint8 allow,bool executed,bool canceled))",
  "function getValidators() view returns (address[])",
]);
const PENDING = new Set(["active", "queued", "executable"]);

/**
 * Reads the members' governance each poll: members, the validator contract's list (what Besu's
 * QBFT uses in contract mode), proposals by state and the votes on pending ones. A consortium
 * makes few proposals, so reading each one's state is cheap; the gauges always show the chain's
 * current answer, never a count that a missed event could skew.
 */
export class GovernanceReader {
  private readonly members;
  private readonly validators;
  private readonly proposals;
  private readonly votes;

  constructor(
    private readonly rpcUrl: string,
    private readonly addresses: GovernanceAddresses,
    registry: Registry,
  ) {
    this.members = createMetric(registry, "gridchain_governance_members");
    this.validators = createMetric(registry, "gridchain_governance_contract_validators");
    this.proposals = createMetric(registry, "gridchain_governance_proposals");
    this.votes = createMetric(registry, "gridchain_governance_pending_votes");
  }

  async poll(): Promise<void> {
    const call = async (to: string, fn: string, args: unknown[] = []) =>
      ABI.decodeFunctionResult(
        fn,
        await rpcCall<string>(this.rpcUrl, "eth_call", [
          { to, data: ABI.encodeFunctionData(fn, args) },
          "latest",
        ]),
      );
    const { governance, validatorSet } = this.addresses;
    this.members.set(Number((await call(governance, "memberCount"))[0]));
    this.validators.set(((await call(validatorSet, "getValidators"))[0] as string[]).length);
    const count = Number((await call(governance, "proposalCount"))[0]);
    const byState = new Map<string, number>(PROPOSAL_STATES.map((state) => [state, 0]));
    let votesFor = 0;
    let votesAgainst = 0;
    for (let id = 1; id <= count; id += 1) {
      const state = PROPOSAL_STATES[Number((await call(governance, "state", [id]))[0])]!;
      byState.set(state, byState.get(state)! + 1);
      if (!PENDING.has(state)) continue;
      const proposal = (await call(governance, "proposal", [id]))[0] as {
        forVotes: bigint;
        againstVotes: bigint;
      };
      votesFor += Number(proposal.forVotes);
      votesAgainst += Number(proposal.againstVotes);
    }
    for (const [state, n] of byState) this.proposals.set({ state }, n);
    this.votes.set({ support: "for" }, votesFor);
    this.votes.set({ support: "against" }, votesAgainst);
  }
}
