import { expect } from "chai";
import { readFileSync } from "node:fs";
import { getAddress, getBytes, id, Wallet } from "ethers";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { proposalCalls } from "../../ops/governance/client.js";
import { ACCOUNT_BATCH, addMissingAccounts } from "../../ops/governance/accounts.js";
import { OperatorError } from "../../ops/errors.js";
import { memberId } from "../../ops/governance/members.js";
import { governed, pass } from "../helpers/governance.js";

/** EIP-3860: the largest initcode a creation may carry. */
const MAX_INITCODE_BYTES = 49_152;

describe("ConsortiumGovernance: member accounts are added in batches after the proxy's creation", () => {
  it("the governance of a consortium with 1,200 accounts deploys: a bounded proxy creation, then every account listed with its role and zone before the deployer hands ADMIN over", async () => {
    const extraAccounts = Array.from({ length: 1200 }, (_, i) =>
      getAddress(id(`account ${i}`).slice(0, 42)),
    );
    const g = await governed({ extraAccounts });
    const { world, governance, members } = g;
    const { ethers } = g.connection;
    const record = JSON.parse(readFileSync(g.recordPath, "utf8")) as { proxyTx: string };
    const creation = await ethers.provider.getTransaction(record.proxyTx);
    expect(getBytes(creation!.data).length).to.be.below(MAX_INITCODE_BYTES / 2);
    let listed = 0;
    for (const input of members) {
      const onChain = await governance.member(input.id);
      expect([...onChain.accounts]).to.deep.equal(input.accounts);
      expect([...onChain.roles]).to.deep.equal(input.roles);
      listed += onChain.accounts.length;
    }
    expect(listed).to.equal(1200 + 3);
    for (const [index, account] of extraAccounts.entries()) {
      if (index % 97 !== 0) continue;
      expect((await world.manager.hasRole(ROLE_IDS.CONSUMER, account))[0]).to.equal(true);
      expect(await world.review.zoneOf(account)).to.equal(BigInt(1 + (index % 2)));
    }
    // The batches were sent by the deployer, then it renounced ADMIN: the hand-over came last.
    const batches = await governance.queryFilter(governance.filters.MemberAccountsAdded());
    expect(batches.length).to.be.at.least(Math.ceil(1200 / ACCOUNT_BATCH));
    const renounced = await world.manager.queryFilter(
      world.manager.filters.RoleRevoked(ROLE_IDS.ADMIN, world.admin.address),
    );
    expect(renounced).to.have.length(1);
    expect(renounced[0]!.blockNumber).to.be.above(batches.at(-1)!.blockNumber);
    expect((await world.manager.hasRole(ROLE_IDS.ADMIN, world.admin.address))[0]).to.equal(false);
  });

  it("addMemberAccounts is ADMIN's: a stranger and the deployer after the hand-over are refused, a passed proposal adds an account", async () => {
    const g = await governed();
    const { world, governance } = g;
    const account = Wallet.createRandom().address;
    const args: [string, string[], bigint[], number[]] = [
      memberId("storage"),
      [account],
      [ROLE_IDS.METER],
      [0],
    ];
    for (const caller of [world.outsider, world.admin]) {
      await expect(governance.connect(caller).addMemberAccounts(...args))
        .to.be.revertedWithCustomError(governance, "AccessManagedUnauthorized")
        .withArgs(caller.address);
    }
    const [id, accounts, roles, zones] = args;
    await pass(
      g,
      proposalCalls.addMemberAccounts(await governance.getAddress(), {
        id,
        accounts,
        roles,
        zones,
      }),
    );
    expect([...(await governance.member(memberId("storage"))).accounts]).to.deep.equal([account]);
    expect((await world.manager.hasRole(ROLE_IDS.METER, account))[0]).to.equal(true);
  });

  it("the accounts step reads first: it sends only the missing accounts, nothing on a second run, and refuses clearly once the deployer renounced ADMIN", async () => {
    const g = await governed({ deployerKeepsAdmin: true });
    const { world, governance, members } = g;
    const meter = Wallet.createRandom().address;
    const grown = members.map((m, index) =>
      index === 0
        ? {
            ...m,
            accounts: [...m.accounts, meter],
            roles: [...m.roles, ROLE_IDS.METER],
            zones: [...m.zones, 0],
          }
        : m,
    );
    const run = (deployerIsAdmin: boolean) =>
      addMissingAccounts({
        governance,
        deployer: world.admin,
        deployerIsAdmin,
        members: grown,
        log: () => undefined,
      });
    expect(await run(true)).to.equal(1);
    expect([...(await governance.member(members[0]!.id)).accounts]).to.deep.equal(
      grown[0]!.accounts,
    );
    expect(await run(true)).to.equal(0);
    grown[1]!.accounts.push(Wallet.createRandom().address);
    grown[1]!.roles.push(ROLE_IDS.METER);
    grown[1]!.zones.push(0);
    const refused = await run(false).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(OperatorError);
    expect((refused as OperatorError).message).to.contain("lists 1 of 2 accounts of member solar");
  });
});
