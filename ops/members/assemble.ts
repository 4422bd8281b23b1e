import { createHash } from "node:crypto";
import { load as loadYaml } from "js-yaml";
import { z } from "zod/v4";
import { enodeUrl, keyFromPublic, type KeyPair } from "../besu/keys.js";
import { renderGenesis } from "../besu/genesis.js";
import { parseConsortium } from "../consortium/load.js";
import { nodeNames } from "../consortium/layout.js";
import {
  chooseBootnodes,
  validatorSelection,
  type NetworkPlan,
  type PlannedAccount,
  type PlannedNode,
} from "../consortium/plan.js";
import type { ConsortiumSpec } from "../consortium/spec.js";
import { OperatorError } from "../errors.js";
import { parseYamlWith } from "../yaml.js";
import {
  canonicalJson,
  memberFileProblems,
  memberFileSchema,
  type MemberFile,
} from "./member-file.js";

/**
 * The public network manifest, `gridchain-network/1`: the coordinator's consortium file (as JSON)
 * and every member file, verbatim with its proofs, in the consortium file's organisation order.
 * It holds no private key; its SHA-256 is what members compare before they start a node.
 */
export const NETWORK_FORMAT = "gridchain-network/1";
export const MANIFEST_FILE = "network-manifest.json";

export type NetworkManifest = {
  format: typeof NETWORK_FORMAT;
  consortium: Record<string, unknown>;
  members: MemberFile[];
};

const manifestSchema = z.strictObject({
  format: z.literal(NETWORK_FORMAT),
  consortium: z.record(z.string(), z.unknown()),
  members: z.array(z.unknown()).min(1),
});

/** Reads a member file and checks every proof in it; one OperatorError names the first problem. */
export function parseMemberFile(text: string, file: string): MemberFile {
  const { data } = parseYamlWith(text, file, memberFileSchema);
  const problems = memberFileProblems(data);
  if (problems.length > 0) {
    throw new OperatorError(`${file}: ${problems[0]}`, {
      details:
        problems.length > 1
          ? `and ${problems.length - 1} more: ${problems.slice(1).join("; ")}`
          : undefined,
      hint: "the file was changed after it was signed, or made for another network: ask its member for the file 'gridchain member init' wrote",
    });
  }
  return data;
}

/**
 * The coordinator's step: checks each member file against the consortium file (network name and
 * chain id, organisation and role, node counts), refuses duplicates, and builds the manifest and
 * the genesis. The result depends on the files' content only, never on their order or paths.
 */
export function assembleNetwork(
  consortium: { text: string; file: string },
  memberFiles: readonly { text: string; file: string }[],
): {
  manifest: NetworkManifest;
  manifestText: string;
  manifestHash: string;
  genesis: string;
  warnings: readonly string[];
} {
  const spec = parseConsortium(consortium.text, consortium.file);
  if (spec.genesis.timestamp === undefined) {
    throw new OperatorError(
      `${consortium.file}: genesis.timestamp: required for a member network`,
      {
        hint: "set genesis.timestamp (Unix seconds) so that everyone who assembles the network gets the same genesis",
      },
    );
  }
  refuseSingleFolderSettings(spec, consortium.file);
  const byOrganisation = new Map<string, { member: MemberFile; file: string }>();
  for (const { text, file } of memberFiles) {
    const member = parseMemberFile(text, file);
    const fail = (what: string, hint?: string): never => {
      throw new OperatorError(`${file}: ${what}`, { hint });
    };
    if (member.network.name !== spec.name || member.network.chainId !== spec.chainId) {
      fail(
        `network: made for ${member.network.name} (chain ${member.network.chainId}), not ${spec.name} (chain ${spec.chainId})`,
      );
    }
    const org = spec.organisations.find((candidate) => candidate.id === member.organisation.id);
    if (org === undefined) {
      fail(
        `organisation.id: ${member.organisation.id} is not an organisation of ${consortium.file}`,
        `allowed: ${spec.organisations.map((candidate) => candidate.id).join(", ")}`,
      );
    }
    if (org!.role !== member.organisation.role) {
      fail(`organisation.role: ${member.organisation.role}, the consortium file says ${org!.role}`);
    }
    const declared = nodeNames(org!).all;
    const offered = member.nodes.map((node) => node.name);
    if (canonicalJson(declared) !== canonicalJson(offered)) {
      fail(
        `nodes: ${offered.join(", ")}; the consortium file gives ${org!.id} ${declared.join(", ") || "no nodes"}`,
        "run 'gridchain member init' with the node counts the consortium file gives",
      );
    }
    if (byOrganisation.has(org!.id)) {
      fail(`organisation ${org!.id} also has the member file ${byOrganisation.get(org!.id)!.file}`);
    }
    byOrganisation.set(org!.id, { member, file });
  }
  const missing = spec.organisations.filter((org) => !byOrganisation.has(org.id));
  if (missing.length > 0) {
    throw new OperatorError(`no member file for ${missing.map((org) => org.id).join(", ")}`, {
      hint: "each organisation of the consortium file runs 'gridchain member init' and sends its member.json",
    });
  }
  const members = spec.organisations.map((org) => byOrganisation.get(org.id)!.member);
  refuseDuplicates(members);
  const manifest: NetworkManifest = {
    format: NETWORK_FORMAT,
    consortium: loadYaml(consortium.text) as Record<string, unknown>,
    members,
  };
  const manifestText = `${canonicalJson(manifest)}\n`;
  const plan = manifestPlan(manifest, consortium.file);
  return {
    manifest,
    manifestText,
    manifestHash: sha256(manifestText),
    genesis: renderGenesis(plan),
    warnings: spec.warnings,
  };
}

/** Reads a manifest and re-checks every member file in it: a member trusts no coordinator. */
export function parseManifest(text: string, file: string): NetworkManifest {
  const { data } = parseYamlWith(text, file, manifestSchema);
  const members = data.members.map((member, index) =>
    parseMemberFile(JSON.stringify(member), `${file}: members[${index}]`),
  );
  refuseDuplicates(members);
  return { format: NETWORK_FORMAT, consortium: data.consortium, members };
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The network plan of a manifest. Every node is known by its public key and its host; the nodes of
 * `own` (one organisation) carry the private keys its member holds and are the ones rendered to run.
 */
export function manifestPlan(
  manifest: NetworkManifest,
  file: string,
  own?: { organisation: string; nodeKeys: ReadonlyMap<string, KeyPair> },
): NetworkPlan {
  const spec: ConsortiumSpec = parseConsortium(
    canonicalJson(manifest.consortium),
    `${file} (consortium)`,
  );
  const nodes: PlannedNode[] = [];
  let rpcIndex = 0;
  for (const member of manifest.members) {
    const mine = member.organisation.id === own?.organisation;
    for (const node of member.nodes) {
      const key =
        (mine ? own?.nodeKeys.get(node.name) : undefined) ?? keyFromPublic(node.publicKey);
      let published: PlannedNode["published"];
      if (mine && node.kind === "rpc") {
        published = {
          rpcHttp: spec.docker.hostPorts.rpcHttp + rpcIndex,
          rpcWs: spec.docker.hostPorts.rpcWs + rpcIndex,
        };
        rpcIndex += 1;
      }
      nodes.push({
        name: node.name,
        organisation: member.organisation.id,
        kind: node.kind,
        key,
        ip: node.host,
        p2pPort: node.p2pPort,
        enode: enodeUrl(key, node.host, node.p2pPort),
        inCompose: mine,
        published,
      });
    }
  }
  const zoneOf = (member: MemberFile, zone: string | undefined) =>
    zone ?? member.organisation.zone ?? spec.market.zones[0]!.id;
  const accounts: PlannedAccount[] = manifest.members.flatMap((member) =>
    member.accounts.map((account) => ({
      id: account.id,
      address: account.address as PlannedAccount["address"],
      role: account.role,
      organisation: member.organisation.id,
      zone: zoneOf(member, account.zone),
      key: undefined,
    })),
  );
  return {
    spec,
    nodes,
    validators: nodes.filter((node) => node.kind === "validator"),
    bootnodes: chooseBootnodes(spec, nodes),
    accounts,
    genesisTimestamp: spec.genesis.timestamp ?? 0,
    // A member network is a new chain: the YAML's choice, else the validator contract.
    validatorSelection: validatorSelection(spec),
  };
}

/**
 * Settings of the single-folder flow that a member network cannot honour: keys imported into the
 * coordinator's folder (members bring their own), accounts the coordinator would generate keys for
 * (members declare theirs), and RPC beyond 127.0.0.1 or with TLS, whose
 * token key and keystore would have to be handed around.
 */
function refuseSingleFolderSettings(spec: ConsortiumSpec, file: string): void {
  const fail = (path: string, what: string, hint: string): never => {
    throw new OperatorError(`${file}: ${path}: ${what}`, { hint });
  };
  spec.organisations.forEach((org, index) => {
    if (Object.keys(org.importedKeys).length > 0) {
      fail(
        `organisations[${index}].importedKeys`,
        "not used by a member network: each member brings its own keys in its member file",
        "remove importedKeys; the member runs 'gridchain member init' with its own keys",
      );
    }
  });
  const { producers, consumers, explicit } = spec.accounts;
  if (producers > 0 || consumers > 0 || explicit.length > 0) {
    fail(
      "accounts",
      "not used by a member network: its accounts are the ones the member files declare",
      "remove the accounts section; members add accounts with 'gridchain member init --account'",
    );
  }
  if (spec.docker.rpcTls !== undefined) {
    fail("docker.rpcTls", "not supported in a member network yet", "remove docker.rpcTls");
  }
  if (!spec.docker.publishHost.startsWith("127.")) {
    fail(
      "docker.publishHost",
      `${spec.docker.publishHost}: a member network publishes RPC on 127.0.0.1 only (RPC tokens across members are not supported yet)`,
      "set docker.publishHost: 127.0.0.1, and reach RPC through an SSH tunnel or a proxy of your own",
    );
  }
}

/** Two members may not claim one key, address, account or P2P endpoint. */
function refuseDuplicates(members: readonly MemberFile[]): void {
  const seen = new Map<string, string>();
  const claim = (what: string, by: string) => {
    const other = seen.get(what);
    if (other !== undefined && other !== by) {
      throw new OperatorError(`${what} is claimed by ${other} and by ${by}`, {
        hint: "each node needs its own key and its own host:port; each account its own key",
      });
    }
    seen.set(what, by);
  };
  for (const member of members) {
    for (const node of member.nodes) {
      const by = `${member.organisation.id}/${node.name}`;
      claim(`node name ${node.name}`, by);
      claim(`node key ${node.address}`, by);
      claim(`P2P endpoint ${node.host}:${node.p2pPort}`, by);
    }
    for (const account of member.accounts) {
      const by = `${member.organisation.id}/${account.id}`;
      claim(`account id ${account.id}`, by);
      claim(`account ${account.address}`, by);
    }
  }
}
