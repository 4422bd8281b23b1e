import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  permissionsFile,
  renderPermissions,
  renderStaticNodes,
  renderToml,
} from "../besu/config-toml.js";
import { routableConfigEntries } from "../besu/routable-config.js";
import { renderGenesis } from "../besu/genesis.js";
import { keyFromPrivate, type KeyPair } from "../besu/keys.js";
import { renderStartScript } from "../besu/start-script.js";
import { renderHostCompose } from "../compose/hosts.js";
import { PUBLIC_MODE, SCRIPT_MODE, SECRET_MODE, type RenderedFile } from "../consortium/render.js";
import { OperatorError } from "../errors.js";
import { isSecretFile, renderKubernetes } from "../kubernetes/render.js";
import { MANIFEST_FILE, manifestPlan, type NetworkManifest } from "./assemble.js";
import { nodeKeyFile } from "./init.js";
import type { MemberFile } from "./member-file.js";
import { followChain, type ChainMember } from "./roster.js";

/**
 * The node keys a member's folder holds for its organisation in the manifest, each checked against
 * the public key the manifest gives for that node.
 */
export function readMemberKeys(
  memberDir: string,
  manifest: NetworkManifest,
  organisation: string,
  /** A member that joined by vote after the manifest: its own signed member file. */
  joined?: MemberFile,
): Map<string, KeyPair> {
  const member =
    manifest.members.find((candidate) => candidate.organisation.id === organisation) ??
    (joined?.organisation.id === organisation ? joined : undefined);
  if (member === undefined) {
    throw new OperatorError(`the manifest has no member ${organisation}`, {
      details: `members: ${manifest.members.map((candidate) => candidate.organisation.id).join(", ")}`,
      hint: "a member that joined by vote renders with --rpc <a node's RPC>, which reads the members on chain",
    });
  }
  const keys = new Map<string, KeyPair>();
  for (const node of member.nodes) {
    const file = join(memberDir, nodeKeyFile(node.name));
    let key: KeyPair;
    try {
      key = keyFromPrivate(readFileSync(file, "utf8"));
    } catch (error) {
      throw new OperatorError(`${file}: cannot read the key of ${node.name}`, {
        details: (error as Error).message,
        hint: "render in the folder 'gridchain member init' wrote for this organisation",
      });
    }
    if (key.publicKey !== node.publicKey) {
      throw new OperatorError(`${file}: not the key the manifest gives for ${node.name}`, {
        hint: "this folder belongs to another member or another network",
      });
    }
    keys.set(node.name, key);
  }
  return keys;
}

/**
 * A member's bundle: the manifest and genesis everyone shares, then its own nodes only (key,
 * config, permissions, start script), one compose file per host it runs nodes on, and Kubernetes
 * manifests for the same nodes. No other member's private key is known here, so none can leak.
 */
export function renderMemberBundle(
  manifest: NetworkManifest,
  manifestText: string,
  manifestFile: string,
  organisation: string,
  nodeKeys: ReadonlyMap<string, KeyPair>,
  /** The members on chain (and a joined member's own file): static nodes and allowlists follow them. */
  chain?: { members: readonly ChainMember[]; member?: MemberFile },
): Map<string, RenderedFile> {
  const self = { organisation, nodeKeys, member: chain?.member };
  if (chain === undefined && !manifest.members.some((m) => m.organisation.id === organisation)) {
    throw new OperatorError(
      `${organisation} is not in the manifest: it joined after the network was assembled`,
      {
        hint: "render with --rpc <a node's RPC>: its nodes then follow the members on chain",
      },
    );
  }
  const plan =
    chain === undefined
      ? manifestPlan(manifest, manifestFile, self)
      : followChain(manifest, manifestFile, chain.members, self);
  const files = new Map<string, RenderedFile>();
  const add = (path: string, content: string, mode = PUBLIC_MODE) =>
    files.set(path, { content, mode });
  add(MANIFEST_FILE, manifestText);
  // The genesis is the manifest's whatever joined or left since: a started chain's never changes.
  add("genesis.json", renderGenesis(manifestPlan(manifest, manifestFile)));
  add("static-nodes.json", renderStaticNodes(plan));
  const permissions = renderPermissions(plan);
  const own = plan.nodes.filter((node) => node.inCompose);
  for (const node of own) {
    const folder = `nodes/${node.name}`;
    add(permissionsFile(node.name), permissions);
    add(`${folder}/start.sh`, renderStartScript(), SCRIPT_MODE);
    add(`${folder}/key`, node.key.privateKey!, SECRET_MODE);
    add(`${folder}/key.pub`, node.key.publicKey);
    add(`${folder}/enode`, node.enode);
    add(`${folder}/config.toml`, renderToml(routableConfigEntries(plan, node)));
  }
  for (const host of [...new Set(own.map((node) => node.ip))]) {
    add(`hosts/${host}/docker-compose.yml`, renderHostCompose(plan, host, "../.."));
  }
  for (const [path, content] of renderKubernetes(plan, organisation)) {
    add(`kubernetes/${path}`, content, isSecretFile(path) ? SECRET_MODE : PUBLIC_MODE);
  }
  return files;
}

/**
 * Layouts Besu's allowlist cannot serve: two of the member's nodes on one host reach each other
 * through Docker's hairpin NAT, which replaces the caller's address, and Besu admits an inbound
 * peer only from the IP its allowlist entry names (ethereum/p2p/.../netty/DeFramer.java createPeer
 * takes the connection's remote address; EnodeURLImpl.sameListeningEndpoint compares it).
 */
export function hostWarnings(manifest: NetworkManifest, organisation: string): string[] {
  const member = manifest.members.find((candidate) => candidate.organisation.id === organisation);
  const byHost = new Map<string, string[]>();
  for (const node of member?.nodes ?? []) {
    byHost.set(node.host, [...(byHost.get(node.host) ?? []), node.name]);
  }
  return [...byHost]
    .filter(([, nodes]) => nodes.length > 1)
    .map(
      ([host, nodes]) =>
        `${nodes.join(", ")} share ${host}: peers on one host connect through NAT and Besu's allowlist refuses the rewritten address; give each node a host of its own`,
    );
}
