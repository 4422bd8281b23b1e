import type { NetworkPlan, PlannedNode } from "../consortium/plan.js";
import { nodeConfigEntries, type TomlValue } from "./config-toml.js";

/** Whether a node's host is a dotted IPv4 address (else a DNS name). */
export function isIpv4(host: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host);
}

/** Whether any enode of the network names its host by DNS rather than by IP. */
export function usesHostNames(plan: NetworkPlan): boolean {
  return plan.nodes.some((node) => !isIpv4(node.ip));
}

/**
 * A node's config.toml entries for a network across hosts. Besu parses enodes with a host name only
 * with DNS enabled, and resolves them once at start unless updates are on too, after which a
 * moved peer keeps its old address; with updates, a name that does not resolve yet stands for
 * 127.0.0.1 instead of stopping the node (ethereum/p2p/.../peers/EnodeURLImpl.java, ipAddress and
 * getIp). So both hidden options are set when any enode uses a name. `p2p-host` takes an IP only
 * (app/.../cli/options/P2PDiscoveryOptions.java, validateHost): a node published under a name gets
 * it from start.sh, which resolves the name at every start.
 */
export function routableConfigEntries(plan: NetworkPlan, node: PlannedNode): [string, TomlValue][] {
  const entries = nodeConfigEntries(plan, node).filter(
    ([key]) => key !== "p2p-host" || isIpv4(node.ip),
  );
  if (usesHostNames(plan)) entries.push(["Xdns-enabled", true], ["Xdns-update-enabled", true]);
  return entries;
}
