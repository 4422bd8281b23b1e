import type { ConsortiumSpec, Organisation } from "./spec.js";

/**
 * Addresses .1-.9 of the compose subnet are kept: .1 is Docker's gateway, .2 Prometheus, .3
 * Grafana; nodes take .10 upwards in the order of the YAML file.
 */
export const FIRST_NODE_HOST = 10;
export const PROMETHEUS_HOST = 2;
export const GRAFANA_HOST = 3;

/** Node names of one organisation, by role: `<org>-validator-<n>`, `<org>-rpc-<n>`, `<org>-bootnode-<n>`. */
export function nodeNames(
  org: Pick<Organisation, "id" | "validators" | "rpcNodes" | "bootnodes">,
): {
  validators: string[];
  rpcNodes: string[];
  bootnodes: string[];
  all: string[];
} {
  const numbered = (kind: string, count: number) =>
    Array.from({ length: count }, (_, index) => `${org.id}-${kind}-${index + 1}`);
  const validators = numbered("validator", org.validators);
  const rpcNodes = numbered("rpc", org.rpcNodes);
  const bootnodes = numbered("bootnode", org.bootnodes);
  return { validators, rpcNodes, bootnodes, all: [...validators, ...rpcNodes, ...bootnodes] };
}

function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip = "", bits = "0"] = cidr.split("/");
  const base = ip.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  return { base: base - (base % size), bits: prefix };
}

/** How many nodes fit on the subnet after the reserved addresses (network and broadcast excluded). */
export function subnetCapacity(cidr: string): number {
  const { bits } = parseCidr(cidr);
  return Math.max(0, 2 ** (32 - bits) - 1 - FIRST_NODE_HOST);
}

/** Whether an IPv4 address lies inside the subnet. */
export function inSubnet(cidr: string, ip: string): boolean {
  const { base, bits } = parseCidr(cidr);
  const value = ip.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
  return value >= base && value < base + 2 ** (32 - bits);
}

/** The address `host` places into the subnet (host 1 = first usable address). */
export function subnetAddress(cidr: string, host: number): string {
  const value = parseCidr(cidr).base + host;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/**
 * Host ports the compose file publishes: the k-th RPC node (YAML order) gets rpcHttp + k and
 * rpcWs + k; Prometheus and Grafana their own. Validators publish nothing.
 */
export function publishedPorts(spec: Pick<ConsortiumSpec, "organisations" | "docker">): {
  port: number;
  what: string;
}[] {
  const { hostPorts } = spec.docker;
  const ports: { port: number; what: string }[] = [];
  let k = 0;
  for (const org of spec.organisations) {
    for (const node of nodeNames(org).rpcNodes) {
      ports.push({ port: hostPorts.rpcHttp + k, what: `${node} HTTP RPC` });
      ports.push({ port: hostPorts.rpcWs + k, what: `${node} WebSocket RPC` });
      k += 1;
    }
  }
  ports.push({ port: hostPorts.prometheus, what: "Prometheus" });
  ports.push({ port: hostPorts.grafana, what: "Grafana" });
  return ports;
}
