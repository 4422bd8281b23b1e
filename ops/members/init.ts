import { generateKey, type KeyPair } from "../besu/keys.js";
import { PUBLIC_MODE, SECRET_MODE, type RenderedFile } from "../consortium/render.js";
import {
  MEMBER_FORMAT,
  canonicalJson,
  signMemberFile,
  type MemberAccount,
  type MemberFile,
  type MemberNode,
} from "./member-file.js";

/** Where a member's folder keeps its private keys (0600 files in 0700 folders) and its public file. */
export const MEMBER_FILE = "member.json";
export const nodeKeyFile = (node: string) => `keys/nodes/${node}.key`;
export const accountKeyFile = (id: string) => `keys/accounts/${id}.key`;

export type MemberInitParams = {
  network: { name: string; chainId: number };
  organisation: MemberFile["organisation"];
  /** One entry per node, in order; names are `<organisation>-<kind>-<n>`. */
  nodes: { kind: MemberNode["kind"]; host: string; p2pPort: number }[];
  /** One entry per account, in order; ids are `<organisation>-<role>-<n>`. */
  accounts: { role: MemberAccount["role"]; zone?: string }[];
  generate?: () => KeyPair;
};

/**
 * A member's keys and its signed public member file, as files of the member's folder. Pure apart
 * from the key source: nothing is written, and only `member.json` is meant to leave the folder.
 */
export function initMember(params: MemberInitParams): {
  member: MemberFile;
  files: Map<string, RenderedFile>;
} {
  const generate = params.generate ?? generateKey;
  const org = params.organisation.id;
  const counters = new Map<string, number>();
  const next = (kind: string) => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return `${org}-${kind}-${n}`;
  };
  const nodeKeys = new Map<string, KeyPair>();
  const nodes = params.nodes.map(({ kind, host, p2pPort }) => {
    const name = next(kind);
    const key = generate();
    nodeKeys.set(name, key);
    return { name, kind, publicKey: key.publicKey, address: key.address, host, p2pPort };
  });
  const accountKeys = new Map<string, KeyPair>();
  const accounts = params.accounts.map(({ role, zone }) => {
    const id = next(role);
    const key = generate();
    accountKeys.set(id, key);
    return { id, role, address: key.address, ...(zone === undefined ? {} : { zone }) };
  });
  const member = signMemberFile(
    {
      format: MEMBER_FORMAT,
      network: params.network,
      organisation: params.organisation,
      nodes,
      accounts,
    },
    { nodes: nodeKeys, accounts: accountKeys },
  );
  const files = new Map<string, RenderedFile>();
  for (const [name, key] of nodeKeys) {
    files.set(nodeKeyFile(name), { content: key.privateKey!, mode: SECRET_MODE });
  }
  for (const [id, key] of accountKeys) {
    files.set(accountKeyFile(id), { content: key.privateKey!, mode: SECRET_MODE });
  }
  files.set(MEMBER_FILE, { content: memberFileText(member), mode: PUBLIC_MODE });
  return { member, files };
}

/** The bytes of a member file: canonical JSON, one line, so every copy of it is the same. */
export function memberFileText(member: MemberFile): string {
  return `${canonicalJson(member)}\n`;
}
