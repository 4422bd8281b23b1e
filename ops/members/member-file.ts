import { SigningKey, keccak256, recoverAddress, toUtf8Bytes } from "ethers";
import { z } from "zod/v4";
import { keyFromPublic, toAddress, type Hex, type KeyPair } from "../besu/keys.js";
import { publicKeyProblem } from "../besu/key-checks.js";

/**
 * The public member file: what one organisation publishes about itself and nothing it must keep.
 * It travels by e-mail, a shared folder or a governance proposal; every claim in it is signed by
 * the key it names (proof of possession), and every signature covers the whole file bound to one
 * network name and chain id, so a file cannot be edited in transit or replayed for another network.
 *
 * Format `gridchain-member/1` (JSON, UTF-8):
 * - `network`: `{ name, chainId }` of the network the member joins;
 * - `organisation`: `{ id, role: "grid-operator" | "producer", name?, zone? }`;
 * - `nodes[]`: `{ name, kind: "validator" | "rpc" | "bootnode", publicKey (64 bytes, hex), address,
 *   host (DNS name or IPv4 where peers reach its P2P port), p2pPort, proof }`;
 * - `accounts[]`: `{ id, role, address, zone?, proof }`;
 * - `proof`: a 65-byte secp256k1 signature (r, s, v) by that node's or account's key over
 *   `memberDigest(file)`.
 */
export const MEMBER_FORMAT = "gridchain-member/1";

const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
/** A DNS name (RFC 1123 labels) or a dotted IPv4 address. */
const HOST =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const signature = z
  .string()
  .regex(/^0x[0-9a-f]{130}$/, "a 65-byte signature: 0x and 130 lower-case hex digits");

const memberNode = z.strictObject({
  name: z.string().regex(NAME, "a node name: lower-case letters, digits and dashes"),
  kind: z.enum(["validator", "rpc", "bootnode"]),
  publicKey: z
    .string()
    .refine((text) => publicKeyProblem(text) === undefined, "a 64-byte secp256k1 public key"),
  address: z.string().regex(/^0x[0-9a-f]{40}$/, "an address: 0x and 40 lower-case hex digits"),
  host: z.string().regex(HOST, "a host name or IPv4 address where peers reach the node's P2P port"),
  p2pPort: z.number().int().min(1).max(65535),
  proof: signature,
});

const memberAccount = z.strictObject({
  id: z.string().regex(NAME, "an account id: lower-case letters, digits and dashes"),
  role: z.enum(["deployer", "grid-operator", "meter", "producer", "consumer"]),
  address: z.string().regex(/^0x[0-9a-f]{40}$/, "an address: 0x and 40 lower-case hex digits"),
  zone: z.string().optional(),
  proof: signature,
});

export const memberFileSchema = z.strictObject({
  format: z.literal(MEMBER_FORMAT),
  network: z.strictObject({
    name: z.string().regex(NAME, "a network name"),
    chainId: z
      .number()
      .int()
      .min(1)
      .max(2 ** 53 - 1),
  }),
  organisation: z.strictObject({
    id: z.string().regex(NAME, "an organisation id"),
    role: z.enum(["grid-operator", "producer"]),
    name: z.string().min(1).optional(),
    zone: z.string().optional(),
  }),
  nodes: z.array(memberNode).min(1),
  accounts: z.array(memberAccount).default([]),
});

export type MemberFile = z.output<typeof memberFileSchema>;
export type MemberNode = MemberFile["nodes"][number];
export type MemberAccount = MemberFile["accounts"][number];
/** A member file before it is signed: proofs are filled in by `signMemberFile`. */
export type UnsignedMemberFile = Omit<MemberFile, "nodes" | "accounts"> & {
  nodes: Omit<MemberNode, "proof">[];
  accounts: Omit<MemberAccount, "proof">[];
};

/** JSON with object keys sorted at every level: the same content always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What every proof in a member file signs: keccak256 of a domain line, the network name and chain
 * id, and the canonical JSON of the file without its proofs. Binding the whole file means a changed
 * host, port, role or account voids every proof; binding the network means a file made for one
 * network proves nothing on another.
 */
export function memberDigest(file: UnsignedMemberFile | MemberFile): Hex {
  const body = {
    ...file,
    nodes: file.nodes.map(({ name, kind, publicKey, address, host, p2pPort }) => ({
      name,
      kind,
      publicKey,
      address,
      host,
      p2pPort,
    })),
    accounts: file.accounts.map(({ id, role, address, zone }) => ({ id, role, address, zone })),
  };
  const text = `${MEMBER_FORMAT}\nnetwork ${file.network.name}\nchain ${file.network.chainId}\n${canonicalJson(body)}`;
  return keccak256(toUtf8Bytes(text)) as Hex;
}

/** Signs every node and account of the file with its own key (keys by node name / account id). */
export function signMemberFile(
  file: UnsignedMemberFile,
  keys: { nodes: ReadonlyMap<string, KeyPair>; accounts: ReadonlyMap<string, KeyPair> },
): MemberFile {
  const digest = memberDigest(file);
  const sign = (key: KeyPair | undefined, what: string): string => {
    if (key?.privateKey === undefined) throw new Error(`no private key for ${what}`);
    return new SigningKey(key.privateKey).sign(digest).serialized.toLowerCase();
  };
  return {
    ...file,
    nodes: file.nodes.map((node) => ({
      ...node,
      proof: sign(keys.nodes.get(node.name), node.name),
    })),
    accounts: file.accounts.map((account) => ({
      ...account,
      proof: sign(keys.accounts.get(account.id), account.id),
    })),
  };
}

/**
 * The problems of a parsed member file's claims, each as `path: what is wrong`: an address that is
 * not its public key's, or a proof not made by the key it stands beside over this file's digest.
 */
export function memberFileProblems(file: MemberFile): string[] {
  const problems: string[] = [];
  const digest = memberDigest(file);
  const signer = (proof: string): string | undefined => {
    try {
      return recoverAddress(digest, proof).toLowerCase();
    } catch {
      return undefined;
    }
  };
  file.nodes.forEach((node, index) => {
    const address = keyFromPublic(node.publicKey).address;
    if (address !== node.address) {
      problems.push(`nodes[${index}].address: ${node.address} is not the address of its publicKey`);
    }
    if (signer(node.proof) !== address) {
      problems.push(
        `nodes[${index}].proof: not signed by ${node.name}'s key over this file for network ${file.network.name} (chain ${file.network.chainId})`,
      );
    }
  });
  file.accounts.forEach((account, index) => {
    if (signer(account.proof) !== toAddress(account.address)) {
      problems.push(
        `accounts[${index}].proof: not signed by ${account.address} over this file for network ${file.network.name} (chain ${file.network.chainId})`,
      );
    }
  });
  return problems;
}
