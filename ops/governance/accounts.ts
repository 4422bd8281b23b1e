import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ConsortiumGovernance } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import { organisationOf, type MemberInput } from "./members.js";

/**
 * Accounts per `addMemberAccounts` transaction. Each account costs a role grant and a zone (a
 * market trader flag) besides its registry slots: a batch of 100 used 11.3 M gas and carried
 * 9,828 bytes of calldata (ConsortiumGovernance.accounts test), inside the consortium's default
 * block gas limit (1,000 M) and far from the transaction size limits, however many accounts.
 */
export const ACCOUNT_BATCH = 100;

/**
 * The members as the governance proxy's initializer takes them: without their accounts, which
 * grow with the consortium (3,000 for the load test's `paper` preset) and would push the proxy's
 * creation past the initcode limit (EIP-3860, 49,152 bytes). {addMissingAccounts} adds them.
 */
export function withoutAccounts(members: readonly MemberInput[]): MemberInput[] {
  return members.map((member) => ({ ...member, accounts: [], roles: [], zones: [] }));
}

/**
 * Adds each member's accounts the governance does not list yet, {ACCOUNT_BATCH} per transaction,
 * through `addMemberAccounts`, which only an ADMIN holder may call: run before the deployer hands
 * ADMIN over. Reads first, so a second run sends nothing, and one stopped half-way resumes with
 * the accounts still missing. Members the chain does not hold (or removed by a vote) are left to
 * the members' vote. Returns the transactions sent.
 */
export async function addMissingAccounts(params: {
  governance: ConsortiumGovernance;
  deployer: HardhatEthersSigner;
  deployerIsAdmin: boolean;
  members: readonly MemberInput[];
  log: (line: string) => void;
}): Promise<number> {
  const { governance, deployer } = params;
  let sent = 0;
  let added = 0;
  for (const member of params.members) {
    const onChain = await governance.member(member.id);
    if (!onChain.active) continue;
    const listed = new Set(onChain.accounts.map((account) => account.toLowerCase()));
    const missing = member.accounts
      .map((account, index) => index)
      .filter((index) => !listed.has(member.accounts[index]!.toLowerCase()));
    if (missing.length === 0) continue;
    if (!params.deployerIsAdmin) {
      throw new OperatorError(
        `the governance ${await governance.getAddress()} lists ${listed.size} of ${member.accounts.length} accounts of member ${organisationOf(member.id)}`,
        {
          details: `the deployer ${deployer.address} no longer holds ADMIN, so it cannot add the ${missing.length} missing`,
          hint: "the members add them by a proposal of addMemberAccounts (ops/governance/client.ts proposalCalls)",
        },
      );
    }
    for (let start = 0; start < missing.length; start += ACCOUNT_BATCH) {
      const batch = missing.slice(start, start + ACCOUNT_BATCH);
      await (
        await governance.connect(deployer).addMemberAccounts(
          member.id,
          batch.map((index) => member.accounts[index]!),
          batch.map((index) => member.roles[index]!),
          batch.map((index) => member.zones[index]!),
        )
      ).wait();
      sent += 1;
    }
    added += missing.length;
  }
  if (sent > 0) {
    params.log(`governance: added ${added} member accounts in ${sent} transactions`);
  }
  return sent;
}
