import { readFileSync } from "node:fs";
import { enodeUrl, toAddress, type Address, type KeyPair } from "../besu/keys.js";
import { OperatorError } from "../errors.js";
import { FIRST_NODE_HOST, inSubnet, nodeNames, subnetAddress, subnetCapacity } from "./layout.js";
import type { AccountRole, ConsortiumSpec } from "./spec.js";
import type { ValidatorSelection } from "../besu/validator-contract.js";

/** P2P port inside every container: each node has its own IP, so all can use Besu's default. */
export const P2P_PORT = 30303;
export const RPC_HTTP_PORT = 8545;
export const RPC_WS_PORT = 8546;
export const METRICS_PORT = 9545;

export type NodeKind = "validator" | "rpc" | "bootnode";

export type PlannedNode = {
  name: string;
  organisation: string;
  kind: NodeKind;
  key: KeyPair;
  ip: string;
  p2pPort: number;
  enode: string;
  /** False for a validator imported by public key: it runs elsewhere and is not in compose. */
  inCompose: boolean;
  /** Host ports this node publishes (RPC nodes only). */
  published: { rpcHttp: number; rpcWs: number } | undefined;
};

export type PlannedAccount = {
  id: string;
  address: Address;
  role: AccountRole;
  organisation: string;
  zone: string;
  /** Absent for an account given by address only (its key is held elsewhere). */
  key: KeyPair | undefined;
};

/** Everything the renderers need: nodes with keys and addresses, accounts, and the spec. */
export type NetworkPlan = {
  spec: ConsortiumSpec;
  nodes: PlannedNode[];
  validators: PlannedNode[];
  bootnodes: PlannedNode[];
  accounts: PlannedAccount[];
  rpcJwt?: RpcJwtKey;
  /** The RPC nodes' TLS keystore and its password, read from the files the YAML names. */
  rpcTls?: { keystore: Buffer; password: Buffer };
  /** Unix seconds of the genesis block. */
  genesisTimestamp: number;
  /** Where QBFT reads the validators from (Clique: always the block headers). */
  validatorSelection: ValidatorSelection;
};

/**
 * What a previous run fixed and this one must keep: the genesis time, and the address of every node
 * that is still in the YAML (so removing a node never moves the ones after it: their enodes, the
 * static nodes and the allowlists stay valid).
 */
export type PlanLayout = {
  genesisTimestamp?: number;
  /** Node name -> IP the node had. */
  previousIps?: ReadonlyMap<string, string>;
  /** The validator selection of the genesis already written, kept unless the YAML says otherwise. */
  previousValidatorSelection?: "contract" | "blockheader";
};

/** An RSA key pair in PEM: gridchain signs RPC tokens with it, RPC nodes check them. */
export type RpcJwtKey = { privateKeyPem: string; publicKeyPem: string };

/** Keys by node name and by account id; the RPC token key when RPC is published beyond loopback. */
export type NetworkKeys = {
  nodes: ReadonlyMap<string, KeyPair>;
  accounts: ReadonlyMap<string, KeyPair>;
  rpcJwt?: RpcJwtKey;
};

/** A node the CLI must find or generate a key for, or one whose key the YAML imports. */
export type NodeKeySource =
  | { node: string; source: "generated" }
  | { node: string; source: "keyFile"; keyFile: string }
  | { node: string; source: "publicKey"; publicKey: string };

/** Which node keys the network needs, in YAML order, and where each comes from. */
export function nodeKeySources(spec: ConsortiumSpec): NodeKeySource[] {
  return spec.organisations.flatMap((org) =>
    nodeNames(org).all.map((node): NodeKeySource => {
      const imported = org.importedKeys[node];
      if (imported === undefined) return { node, source: "generated" };
      if ("keyFile" in imported) return { node, source: "keyFile", keyFile: imported.keyFile };
      return { node, source: "publicKey", publicKey: imported.publicKey };
    }),
  );
}

type AccountSlot = { id: string; role: AccountRole; organisation: string; zone: string };

/**
 * The accounts the network generates keys for, in a fixed order:
 * - `deployer`, `<grid>-operator` and `<grid>-meter`: the grid company's, in its zone;
 * - `producer-<n>`: organisation round robin over the producer organisations (the grid company
 *   when there is none); zone round robin over market.zones, in order;
 * - `consumer-<n>`: organisation = the grid company; zone round robin over market.zones.
 * Explicit accounts (address only) come after, in YAML order.
 */
export function generatedAccountSlots(spec: ConsortiumSpec): AccountSlot[] {
  const grid = spec.organisations.find((org) => org.role === "grid-operator")!;
  const gridZone = grid.zone ?? spec.market.zones[0]!.id;
  const producerOrgs = spec.organisations.filter((org) => org.role === "producer");
  const sellers = producerOrgs.length > 0 ? producerOrgs : [grid];
  const zones = spec.market.zones.map((zone) => zone.id);
  const slots: AccountSlot[] = [
    { id: "deployer", role: "deployer", organisation: grid.id, zone: gridZone },
    { id: `${grid.id}-operator`, role: "grid-operator", organisation: grid.id, zone: gridZone },
    { id: `${grid.id}-meter`, role: "meter", organisation: grid.id, zone: gridZone },
  ];
  for (let i = 0; i < spec.accounts.producers; i += 1) {
    slots.push({
      id: `producer-${i + 1}`,
      role: "producer",
      organisation: sellers[i % sellers.length]!.id,
      zone: zones[i % zones.length]!,
    });
  }
  for (let i = 0; i < spec.accounts.consumers; i += 1) {
    slots.push({
      id: `consumer-${i + 1}`,
      role: "consumer",
      organisation: grid.id,
      zone: zones[i % zones.length]!,
    });
  }
  return slots;
}

/** Lays the network out: node IPs on the subnet, enodes, published ports, accounts with zones. */
export function planNetwork(
  spec: ConsortiumSpec,
  keys: NetworkKeys,
  layout: PlanLayout = {},
): NetworkPlan {
  const nodes: PlannedNode[] = [];
  const ipOf = addressBook(spec, layout.previousIps ?? new Map());
  let rpcIndex = 0;
  for (const org of spec.organisations) {
    const names = nodeNames(org);
    for (const name of names.all) {
      const kind: NodeKind = names.validators.includes(name)
        ? "validator"
        : names.rpcNodes.includes(name)
          ? "rpc"
          : "bootnode";
      const imported = org.importedKeys[name];
      const key = keys.nodes.get(name);
      if (key === undefined) throw new Error(`no key for node ${name}`);
      let ip: string;
      let p2pPort = P2P_PORT;
      let inCompose = true;
      if (imported !== undefined && "publicKey" in imported) {
        ip = imported.ip;
        p2pPort = imported.p2pPort;
        inCompose = false;
      } else {
        ip = ipOf(name);
      }
      let published: PlannedNode["published"];
      if (kind === "rpc") {
        published = {
          rpcHttp: spec.docker.hostPorts.rpcHttp + rpcIndex,
          rpcWs: spec.docker.hostPorts.rpcWs + rpcIndex,
        };
        rpcIndex += 1;
      }
      nodes.push({
        name,
        organisation: org.id,
        kind,
        key,
        ip,
        p2pPort,
        enode: enodeUrl(key, ip, p2pPort),
        inCompose,
        published,
      });
    }
  }
  const validators = nodes.filter((node) => node.kind === "validator");
  const bootnodes = chooseBootnodes(spec, nodes);

  const accounts: PlannedAccount[] = generatedAccountSlots(spec).map((slot) => {
    const key = keys.accounts.get(slot.id);
    if (key === undefined) throw new Error(`no key for account ${slot.id}`);
    return { ...slot, address: key.address, key };
  });
  const grid = spec.organisations.find((org) => org.role === "grid-operator")!;
  spec.accounts.explicit.forEach((account) => {
    const org =
      spec.organisations.find((candidate) => candidate.id === account.organisation) ?? grid;
    accounts.push({
      id: toAddress(account.address),
      address: toAddress(account.address),
      role: account.role,
      organisation: account.organisation,
      zone: account.zone ?? org.zone ?? spec.market.zones[0]!.id,
      key: undefined,
    });
  });
  const seen = new Set<string>();
  for (const account of accounts) {
    if (seen.has(account.address)) throw new Error(`account ${account.address} appears twice`);
    seen.add(account.address);
  }
  const tls = spec.docker.rpcTls;
  const rpcTls =
    tls === undefined
      ? undefined
      : { keystore: readFileSync(tls.keystoreFile), password: readFileSync(tls.passwordFile) };
  return {
    spec,
    nodes,
    validators,
    bootnodes,
    accounts,
    genesisTimestamp: layout.genesisTimestamp ?? spec.genesis.timestamp ?? 0,
    validatorSelection: validatorSelection(spec, layout),
    rpcJwt: keys.rpcJwt,
    rpcTls,
  };
}

/** The dedicated bootnodes; without any, each organisation's first validator serves as one. */
export function chooseBootnodes(
  spec: Pick<ConsortiumSpec, "organisations">,
  nodes: readonly PlannedNode[],
): PlannedNode[] {
  const dedicated = nodes.filter((node) => node.kind === "bootnode");
  if (dedicated.length > 0) return dedicated;
  return spec.organisations.flatMap((org) =>
    nodes.filter((node) => node.kind === "validator" && node.organisation === org.id).slice(0, 1),
  );
}

/**
 * QBFT networks read their validators from the ValidatorSet contract unless the YAML, or the genesis
 * an earlier run wrote, says block headers: a started chain keeps the mode it started in (its genesis
 * cannot change) and moves to contract mode only through a transition.
 */
export function validatorSelection(
  spec: ConsortiumSpec,
  layout: PlanLayout = {},
): ValidatorSelection {
  const { consensus } = spec;
  if (consensus.protocol !== "qbft") return { mode: "blockheader" };
  const mode = consensus.validatorSelection ?? layout.previousValidatorSelection ?? "contract";
  if (mode === "contract") return { mode };
  const transition = consensus.validatorContractTransition;
  return transition === undefined
    ? { mode }
    : { mode, transition: { block: transition.block, address: toAddress(transition.address) } };
}

/**
 * Node addresses on the compose subnet: a node keeps the address it had (when still on the subnet
 * and not taken twice); a new node takes the lowest free host from .10, in YAML order. The same
 * YAML and previous addresses always give the same answer.
 */
function addressBook(
  spec: ConsortiumSpec,
  previous: ReadonlyMap<string, string>,
): (name: string) => string {
  const subnet = spec.docker.subnet;
  const local = spec.organisations.flatMap((org) =>
    nodeNames(org).all.filter((name) => {
      const imported = org.importedKeys[name];
      return imported === undefined || !("publicKey" in imported);
    }),
  );
  const assigned = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of local) {
    const ip = previous.get(name);
    if (ip === undefined || !inSubnet(subnet, ip) || taken.has(ip)) continue;
    const host = hostNumber(subnet, ip);
    if (host < FIRST_NODE_HOST || host >= FIRST_NODE_HOST + subnetCapacity(subnet)) continue;
    assigned.set(name, ip);
    taken.add(ip);
  }
  let host = FIRST_NODE_HOST;
  for (const name of local) {
    if (assigned.has(name)) continue;
    while (taken.has(subnetAddress(subnet, host))) host += 1;
    if (host >= FIRST_NODE_HOST + subnetCapacity(subnet)) {
      throw new OperatorError(`docker.subnet ${subnet} has no free address for node ${name}`, {
        hint: "use a larger subnet",
      });
    }
    const ip = subnetAddress(subnet, host);
    assigned.set(name, ip);
    taken.add(ip);
  }
  return (name) => assigned.get(name)!;
}

function hostNumber(cidr: string, ip: string): number {
  const value = ip.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const bits = Number(cidr.split("/")[1] ?? "0");
  return value % 2 ** (32 - bits);
}
