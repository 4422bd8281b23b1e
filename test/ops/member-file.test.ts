import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SigningKey, Wallet } from "ethers";
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
import { tempDir } from "./helpers.js";

const spec = loadConsortium("network/consortium.yaml");
const node = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const publicKey = `0x${SigningKey.computePublicKey(node.privateKey, false).slice(4)}`;
const valid = {
  format: "gridchain-member-minimal/1",
  id: "hydro-east",
  role: "producer",
  voter: "0x535d07716bb94c3de13d6856e61db0b804ff8361",
  nodes: [{ name: "hydro-east-validator-1", kind: "validator", publicKey, host: "203.0.113.7" }],
  accounts: [
    { address: "0x535d07716bb94c3de13d6856e61db0b804ff8361", role: "producer", zone: "south" },
  ],
};

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

describe("public member file (gridchain-member-minimal/1) and members from the network", () => {
  it("a member file becomes the proposal's member: node-key validator address, enode, roles, zones", () => {
    const path = write(valid);
    const input = memberInputFromFile(readMemberFile(path), spec, path);
    expect(input.id).to.equal(memberId("hydro-east"));
    expect(input.validators).to.deep.equal([node.address]);
    expect(input.enodes).to.deep.equal([`enode://${publicKey.slice(2)}@203.0.113.7:30303`]);
    expect(input.roles).to.deep.equal([ROLE_IDS.PRODUCER]);
    expect(input.zones).to.deep.equal([2]); // south is the pilot's second zone
  });

  it("bad input is one error naming the file, the field and what is allowed", () => {
    const wrongRole = write({ ...valid, role: "consumer" });
    expect(failure(() => readMemberFile(wrongRole)).message).to.match(
      new RegExp(`^${wrongRole}: role: `),
    );
    const badZone = write({ ...valid, accounts: [{ ...valid.accounts[0], zone: "east" }] });
    expect(
      failure(() => memberInputFromFile(readMemberFile(badZone), spec, badZone)).message,
    ).to.equal(`${badZone}: accounts[0].zone: unknown zone "east"; allowed: north, south`);
    const notJson = write("{");
    expect(failure(() => readMemberFile(notJson)).message).to.equal(
      `${notJson}: cannot read the member file`,
    );
    const badKey = write({ ...valid, nodes: [{ ...valid.nodes[0], publicKey: "0x1234" }] });
    expect(
      failure(() => memberInputFromFile(readMemberFile(badKey), spec, badKey)).message,
    ).to.match(new RegExp(`^${badKey}: nodes\\[0\\]\\.publicKey: `));
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
