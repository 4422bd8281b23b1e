import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getAddress, id } from "ethers";
import { keyFromPrivate, type KeyPair } from "../../ops/besu/keys.js";
import { loadConsortium } from "../../ops/consortium/index.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { OperatorError } from "../../ops/errors.js";
import {
  memberId,
  memberInputFromFile,
  membersFromNetwork,
  organisationOf,
  readMemberFile,
} from "../../ops/governance/members.js";
import { initMember, memberFileText } from "../../ops/members/init.js";
import { tempDir } from "./helpers.js";

const spec = loadConsortium("network/consortium.yaml");
const KEYS = Array.from({ length: 3 }, (_, i) => keyFromPrivate(id(`gridchain-member-file-${i}`)));

type Init = Parameters<typeof initMember>[0];

/** hydro-east's signed member file for the pilot network, made as 'gridchain member init' makes it. */
function hydroEast(change: Partial<Init> = {}) {
  const keys = [...KEYS];
  return initMember({
    network: { name: spec.name, chainId: spec.chainId },
    organisation: { id: "hydro-east", role: "producer", zone: "south" },
    nodes: [{ kind: "validator", host: "203.0.113.7", p2pPort: 30303 }],
    accounts: [{ role: "producer" }, { role: "consumer", zone: "north" }],
    generate: () => keys.shift()!,
    ...change,
  }).member;
}

function write(content: unknown): string {
  const path = join(tempDir(), "member.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function failure(action: () => unknown): OperatorError {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(OperatorError);
    return error as OperatorError;
  }
  throw new Error("no error");
}

describe("public member file (gridchain-member/1) in a proposal, and members from the network", () => {
  it("a signed member file becomes the proposal's member: node-key validator, enode, voter, roles, zones", () => {
    const path = write(memberFileText(hydroEast()));
    const input = memberInputFromFile(readMemberFile(path), spec, path);
    const [node, producer, consumer] = KEYS as [KeyPair, KeyPair, KeyPair];
    expect(input.id).to.equal(memberId("hydro-east"));
    expect(input.validators).to.deep.equal([getAddress(node.address)]);
    expect(input.enodes).to.deep.equal([`enode://${node.publicKey.slice(2)}@203.0.113.7:30303`]);
    expect(input.voter).to.equal(getAddress(producer.address));
    expect(input.accounts).to.deep.equal([producer, consumer].map((k) => getAddress(k.address)));
    expect(input.roles).to.deep.equal([ROLE_IDS.PRODUCER, ROLE_IDS.CONSUMER]);
    // The producer takes its organisation's zone (south, the pilot's second), the consumer its own.
    expect(input.zones).to.deep.equal([2, 1]);
  });

  it("refuses a member file changed after it was signed, with the key ceremony's own check", () => {
    const member = hydroEast();
    const changed = write({ ...member, nodes: [{ ...member.nodes[0]!, host: "203.0.113.8" }] });
    expect(failure(() => readMemberFile(changed)).message).to.equal(
      `${changed}: nodes[0].proof: not signed by hydro-east-validator-1's key over this file for network pilot (chain 2026)`,
    );
  });

  it("the minimal unsigned format is gone: one error naming the file, the field and what is allowed", () => {
    const old = write({ format: "gridchain-member-minimal/1", id: "hydro-east" });
    expect(failure(() => readMemberFile(old)).message).to.equal(
      `${old}: format: "gridchain-member-minimal/1"; allowed: "gridchain-member/1"`,
    );
  });

  it("bad input is one error naming the file, the field and what is allowed", () => {
    const other = write(memberFileText(hydroEast({ network: { name: "elsewhere", chainId: 9 } })));
    expect(failure(() => memberInputFromFile(readMemberFile(other), spec, other)).message).to.equal(
      `${other}: network: made for elsewhere (chain 9), not pilot (chain 2026)`,
    );
    const deployer = hydroEast({ accounts: [{ role: "producer" }, { role: "deployer" }] });
    const withDeployer = write(memberFileText(deployer));
    expect(
      failure(() => memberInputFromFile(readMemberFile(withDeployer), spec, withDeployer)).message,
    ).to.equal(
      `${withDeployer}: accounts[1].role: deployer; allowed: grid-operator, meter, producer, consumer`,
    );
    const badZone = write(memberFileText(hydroEast()).replace('"zone":"north"', '"zone":"east"'));
    // The zone is signed too: changing it voids the proofs, so a bad zone comes from a signed file.
    expect(failure(() => readMemberFile(badZone)).message).to.match(/proof: not signed/);
    const east = hydroEast({ organisation: { id: "hydro-east", role: "producer", zone: "east" } });
    const eastPath = write(memberFileText(east));
    expect(
      failure(() => memberInputFromFile(readMemberFile(eastPath), spec, eastPath)).message,
    ).to.equal(`${eastPath}: organisation.zone: unknown zone "east"; allowed: north, south`);
    const consumerOnly = hydroEast({ accounts: [{ role: "consumer" }] });
    const noVoter = write(memberFileText(consumerOnly));
    expect(
      failure(() => memberInputFromFile(readMemberFile(noVoter), spec, noVoter)).message,
    ).to.equal(`${noVoter}: accounts: no producer account to vote with`);
    const notJson = write("{");
    expect(failure(() => readMemberFile(notJson)).message).to.match(
      new RegExp(`^${notJson}: not valid YAML`),
    );
  });

  it("organisation ids of 1 to 32 characters round-trip through bytes32", () => {
    for (const id of ["grid", "a".repeat(32), "solar-north"]) {
      expect(organisationOf(memberId(id))).to.equal(id);
      expect(memberId(id)).to.have.length(66);
    }
  });

  it("each organisation votes with its grid-operator or first producer account; one without refuses the deploy's members", () => {
    const accounts = [
      {
        id: "deployer",
        address: "0x00000000000000000000000000000000000000d0",
        role: "deployer",
        organisation: "grid",
        zone: "north",
      },
      {
        id: "grid-operator",
        address: "0x00000000000000000000000000000000000000a1",
        role: "grid-operator",
        organisation: "grid",
        zone: "north",
      },
      {
        id: "producer-1",
        address: "0x00000000000000000000000000000000000000b1",
        role: "producer",
        organisation: "solar-north",
        zone: "north",
      },
      {
        id: "producer-2",
        address: "0x00000000000000000000000000000000000000b2",
        role: "producer",
        organisation: "solar-south",
        zone: "south",
      },
    ] as const;
    const nodes = [
      {
        name: "grid-validator-1",
        organisation: "grid",
        kind: "validator",
        address: "0x00000000000000000000000000000000000000e1",
        enode: "enode://x@1.2.3.4:30303",
      },
    ] as const;
    expect(() => membersFromNetwork(spec, [...accounts], [...nodes])).to.throw(
      OperatorError,
      "organisation wind-south has no producer account to vote with",
    );
    const withWind = [
      ...accounts,
      {
        id: "producer-3",
        address: "0x00000000000000000000000000000000000000b3",
        role: "producer",
        organisation: "wind-south",
        zone: "south",
      } as const,
    ];
    const members = membersFromNetwork(spec, withWind, [...nodes]);
    expect(members.map((m) => m.voter.toLowerCase())).to.deep.equal([
      "0x00000000000000000000000000000000000000a1",
      "0x00000000000000000000000000000000000000b1",
      "0x00000000000000000000000000000000000000b2",
      "0x00000000000000000000000000000000000000b3",
    ]);
    // The deployer is nobody's member account.
    expect(members[0]!.accounts.map((a) => a.toLowerCase())).to.deep.equal([
      "0x00000000000000000000000000000000000000a1",
    ]);
    expect(members[0]!.validators).to.have.length(1);
    expect(members[0]!.gridOperator).to.equal(true);
  });
});
