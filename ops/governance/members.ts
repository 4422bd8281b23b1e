import { readFileSync } from "node:fs";
import { getAddress, hexlify, toUtf8Bytes, toUtf8String, getBytes } from "ethers";
import { z } from "zod/v4";
import { enodeUrl, keyFromPublic } from "../besu/keys.js";
import type { ConsortiumAccount } from "../contracts/consortium.js";
import type { ConsortiumSpec } from "../consortium/index.js";
import { ROLE_IDS } from "../contracts/roles.js";
import { OperatorError } from "../errors.js";

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

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address: 0x and 40 hex digits");

/**
 * The public member file, minimal format `gridchain-member-minimal/1`: what an organisation that
 * wants to join hands the consortium. Public data only (no key ever leaves the organisation).
 */
const memberFileSchema = z.strictObject({
  format: z.literal("gridchain-member-minimal/1"),
  id: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, "2-32 lower-case letters, digits and dashes"),
  name: z.string().min(1).optional(),
  role: z.enum(["grid-operator", "producer"]),
  voter: address.describe("the account that casts the organisation's vote"),
  nodes: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        kind: z.enum(["validator", "rpc", "bootnode"]),
        publicKey: z.string().describe("the node's 64-byte public key"),
        host: z.string().min(1).describe("IPv4 address its peers reach it at"),
        p2pPort: z.number().int().min(1).max(65535).default(30303),
      }),
    )
    .default([]),
  accounts: z
    .array(
      z.strictObject({
        address,
        role: z.enum(["grid-operator", "meter", "producer", "consumer"]),
        zone: z.string().optional(),
      }),
    )
    .default([]),
});
export type MemberFile = z.output<typeof memberFileSchema>;

/** Reads a public member file; one error names the file, the field and what is allowed. */
export function readMemberFile(path: string): MemberFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new OperatorError(`${path}: cannot read the member file`, {
      details: (error as Error).message,
      hint: "a member file is JSON in the format gridchain-member-minimal/1 (README: adding a member)",
    });
  }
  const result = memberFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new OperatorError(`${path}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`, {
      hint: "see README, 'How a consortium adds and removes a member', for the format",
    });
  }
  return result.data;
}

/** The MemberInput of a member file; zones are the consortium's zone ids (1-based, YAML order). */
export function memberInputFromFile(
  file: MemberFile,
  spec: ConsortiumSpec,
  path: string,
): MemberInput {
  const zoneIds = new Map(spec.market.zones.map((zone, index) => [zone.id, index + 1]));
  const nodes = file.nodes.map((node, index) => {
    let key;
    try {
      key = keyFromPublic(node.publicKey);
    } catch (error) {
      throw new OperatorError(`${path}: nodes[${index}].publicKey: ${(error as Error).message}`);
    }
    return { ...node, address: key.address, enode: enodeUrl(key, node.host, node.p2pPort) };
  });
  return {
    id: memberId(file.id),
    voter: getAddress(file.voter),
    gridOperator: file.role === "grid-operator",
    enodes: nodes.map((node) => node.enode),
    validators: nodes
      .filter((node) => node.kind === "validator")
      .map((node) => getAddress(node.address)),
    accounts: file.accounts.map((account) => getAddress(account.address)),
    roles: file.accounts.map((account) => TRADING_ROLES[account.role]),
    zones: file.accounts.map((account, index) => {
      if (account.zone === undefined) return 0;
      const zone = zoneIds.get(account.zone);
      if (zone === undefined) {
        throw new OperatorError(
          `${path}: accounts[${index}].zone: unknown zone "${account.zone}"; allowed: ${[...zoneIds.keys()].join(", ")}`,
        );
      }
      return zone;
    }),
  };
}
