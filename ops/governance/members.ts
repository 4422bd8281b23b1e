import { readFileSync } from "node:fs";
import { getAddress, hexlify, toUtf8Bytes, toUtf8String, getBytes } from "ethers";
import { enodeUrl, keyFromPublic } from "../besu/keys.js";
import type { ConsortiumAccount } from "../contracts/consortium.js";
import type { ConsortiumSpec } from "../consortium/index.js";
import { ROLE_IDS } from "../contracts/roles.js";
import { OperatorError } from "../errors.js";
import { parseMemberFile } from "../members/assemble.js";
import { MEMBER_FORMAT, type MemberFile } from "../members/member-file.js";

/** A member as ConsortiumGovernance's MemberInput takes it (ids as bytes32, roles as ids). */
export type MemberInput = {
  id: string;
  voter: string;
  gridOperator: boolean;
  enodes: string[];
  validators: string[];
  accounts: string[];
  roles: bigint[];
  zones: number[];
};

/** One line of network/<name>/nodes.json (the fields governance needs). */
export type NodeRecord = {
  name: string;
  organisation: string;
  kind: "validator" | "rpc" | "bootnode";
  address: string;
  enode: string;
};

const TRADING_ROLES = {
  "grid-operator": ROLE_IDS.GRID_OPERATOR,
  meter: ROLE_IDS.METER,
  producer: ROLE_IDS.PRODUCER,
  consumer: ROLE_IDS.CONSUMER,
} as const;
type TradingRole = keyof typeof TRADING_ROLES;

/**
 * An organisation id as the bytes32 the contract keys members by: its ASCII bytes, right-padded
 * with zeros. Organisation ids are at most 32 lower-case characters (consortium spec), so all fit.
 */
export function memberId(organisation: string): string {
  const bytes = toUtf8Bytes(organisation);
  if (bytes.length === 0 || bytes.length > 32) {
    throw new Error(`organisation id "${organisation}" must be 1-32 bytes`);
  }
  return hexlify(new Uint8Array([...bytes, ...new Uint8Array(32 - bytes.length)]));
}

/** The organisation id back from its bytes32. */
export function organisationOf(id: string): string {
  return toUtf8String(getBytes(id).filter((byte) => byte !== 0));
}

/**
 * The members at deploy, from what `generate` wrote: one per organisation. Its voter (its one vote)
 * is its grid-operator account for the grid company, its first producer account for a producer;
 * its accounts are every account of the organisation but the deployer, with their market zones.
 */
export function membersFromNetwork(
  spec: ConsortiumSpec,
  accounts: readonly ConsortiumAccount[],
  nodes: readonly NodeRecord[],
): MemberInput[] {
  const zoneIds = new Map(spec.market.zones.map((zone, index) => [zone.id, index + 1]));
  return spec.organisations.map((org) => {
    const own = accounts.filter(
      (account) => account.organisation === org.id && account.role !== "deployer",
    );
    const voterRole = org.role === "grid-operator" ? "grid-operator" : "producer";
    const voter = own.find((account) => account.role === voterRole);
    if (voter === undefined) {
      throw new OperatorError(`organisation ${org.id} has no ${voterRole} account to vote with`, {
        details: "each member organisation votes through one of its accounts",
        hint: "raise accounts.producers so every producer organisation gets one, then run 'gridchain generate'",
      });
    }
    const orgNodes = nodes.filter((node) => node.organisation === org.id);
    return {
      id: memberId(org.id),
      voter: getAddress(voter.address),
      gridOperator: org.role === "grid-operator",
      enodes: orgNodes.map((node) => node.enode),
      validators: orgNodes
        .filter((node) => node.kind === "validator")
        .map((node) => getAddress(node.address)),
      accounts: own.map((account) => getAddress(account.address)),
      roles: own.map((account) => TRADING_ROLES[account.role as TradingRole]),
      zones: own.map((account) =>
        account.role === "producer" || account.role === "consumer"
          ? (zoneIds.get(account.zone) ?? 0)
          : 0,
      ),
    };
  });
}

const JOIN_ROLES = Object.keys(TRADING_ROLES) as TradingRole[];

/**
 * Reads the joining organisation's public member file, the signed `gridchain-member/1` that
 * `gridchain member init` writes, and checks every proof in it with the key ceremony's own reader
 * (ops/members/assemble.ts parseMemberFile): a file changed after it was signed is refused before
 * the members are asked to vote on it. One OperatorError names the file, the path and what is allowed.
 */
export function readMemberFile(path: string): MemberFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new OperatorError(`${path}: cannot read the member file`, {
      details: (error as Error).message,
      hint: `a member file is the ${MEMBER_FORMAT} JSON 'gridchain member init' writes (README: the public member file)`,
    });
  }
  // An unsigned or foreign file fails on its format first, not on the first unknown key in it.
  const format = /"format"\s*:\s*("[^"]*")/.exec(text)?.[1];
  if (format !== undefined && format !== JSON.stringify(MEMBER_FORMAT)) {
    throw new OperatorError(`${path}: format: ${format}; allowed: "${MEMBER_FORMAT}"`, {
      hint: "the joining member sends the signed member.json 'gridchain member init' wrote",
    });
  }
  return parseMemberFile(text, path);
}

/**
 * The MemberInput of a member file: its voter is its grid-operator account (grid company) or its
 * first producer account, as for the members at deploy; zones are the consortium's zone ids
 * (1-based, YAML order), an account's own zone or else its organisation's. The file must be made
 * for this network (its proofs sign the network name and chain id) and hold trading roles only: a
 * deployer account has no role in a running consortium.
 */
export function memberInputFromFile(
  file: MemberFile,
  spec: ConsortiumSpec,
  path: string,
): MemberInput {
  const fail = (field: string, what: string, hint?: string): never => {
    throw new OperatorError(`${path}: ${field}: ${what}`, { hint });
  };
  if (file.network.name !== spec.name || file.network.chainId !== spec.chainId) {
    fail(
      "network",
      `made for ${file.network.name} (chain ${file.network.chainId}), not ${spec.name} (chain ${spec.chainId})`,
      `the joining member runs 'gridchain member init --network ${spec.name} --chain-id ${spec.chainId}'`,
    );
  }
  const zoneIds = new Map(spec.market.zones.map((zone, index) => [zone.id, index + 1]));
  const roles = file.accounts.map((account, index) =>
    JOIN_ROLES.includes(account.role as TradingRole)
      ? (account.role as TradingRole)
      : fail(`accounts[${index}].role`, `${account.role}; allowed: ${JOIN_ROLES.join(", ")}`),
  );
  const voterRole = file.organisation.role === "grid-operator" ? "grid-operator" : "producer";
  const voter = file.accounts.find((account) => account.role === voterRole);
  if (voter === undefined) {
    fail(
      "accounts",
      `no ${voterRole} account to vote with`,
      `a ${file.organisation.role} member votes through its first ${voterRole} account: 'gridchain member init --account ${voterRole}'`,
    );
  }
  const nodes = file.nodes.map((node) => ({
    ...node,
    enode: enodeUrl(keyFromPublic(node.publicKey), node.host, node.p2pPort),
  }));
  return {
    id: memberId(file.organisation.id),
    voter: getAddress(voter!.address),
    gridOperator: file.organisation.role === "grid-operator",
    enodes: nodes.map((node) => node.enode),
    validators: nodes
      .filter((node) => node.kind === "validator")
      .map((node) => getAddress(node.address)),
    accounts: file.accounts.map((account) => getAddress(account.address)),
    roles: roles.map((role) => TRADING_ROLES[role]),
    zones: file.accounts.map((account, index) => {
      if (account.role !== "producer" && account.role !== "consumer") return 0;
      const zone = account.zone ?? file.organisation.zone;
      if (zone === undefined) return 0;
      return (
        zoneIds.get(zone) ??
        fail(
          account.zone === undefined ? "organisation.zone" : `accounts[${index}].zone`,
          `unknown zone "${zone}"; allowed: ${[...zoneIds.keys()].join(", ")}`,
        )
      );
    }),
  };
}
