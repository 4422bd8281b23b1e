import { OperatorError } from "../errors.js";
import type { MemberView } from "./client.js";

/** One JSON-RPC call to a Besu node; throws with Besu's error message on an error response. */
export type NodeRpc = (method: string, params: unknown[]) => Promise<unknown>;

/** What `members sync` changed on one node's allowlists (empty lists: nothing to do). */
export type SyncReport = {
  nodesAdded: string[];
  nodesRemoved: string[];
  accountsAdded: string[];
  accountsRemoved: string[];
  /** An allowlist the node does not run (Besu: "... allowlist has not been enabled"). */
  skipped: string[];
};

/**
 * Brings one Besu node's node and account allowlists in line with the members on chain: every
 * active member's enodes, voter and accounts are added; those of removed members are taken out
 * unless an active member still has them. Entries nobody on chain claims (the deployer, a node the
 * operator added by hand) are left alone: sync applies the members' decisions, nothing else.
 *
 * Besu 26.8.0 (ethereum/api/.../methods/permissioning/PermAddNodesToAllowlist.java and siblings)
 * answers "Success" and persists the change to the node's permissions_config.toml; it refuses an
 * entry already present or absent, a read-only file (ALLOWLIST_PERSIST_FAILURE) and an allowlist
 * not enabled with JSON-RPC errors (RpcErrorType): sync asks first (perm_get*) and sends only
 * the difference, so the first two never happen.
 */
export async function syncAllowlists(
  rpc: NodeRpc,
  members: readonly MemberView[],
): Promise<SyncReport> {
  const active = members.filter((member) => member.active);
  const removed = members.filter((member) => !member.active);
  const wantedNodes = new Map(
    active.flatMap((m) => m.enodes).map((enode) => [enodeKey(enode), enode]),
  );
  const goneNodes = new Map(
    removed
      .flatMap((m) => m.enodes)
      .filter((enode) => !wantedNodes.has(enodeKey(enode)))
      .map((enode) => [enodeKey(enode), enode]),
  );
  const accountsOf = (m: MemberView) => [m.voter, ...m.accounts].map((a) => a.toLowerCase());
  const wantedAccounts = new Set(active.flatMap(accountsOf));
  const goneAccounts = new Set(removed.flatMap(accountsOf).filter((a) => !wantedAccounts.has(a)));

  const report: SyncReport = {
    nodesAdded: [],
    nodesRemoved: [],
    accountsAdded: [],
    accountsRemoved: [],
    skipped: [],
  };
  const nodes = await listOrSkip(rpc, "perm_getNodesAllowlist", "nodes", report);
  if (nodes !== undefined) {
    const present = new Set(nodes.map(enodeKey));
    report.nodesAdded = [...wantedNodes].filter(([key]) => !present.has(key)).map(([, e]) => e);
    report.nodesRemoved = nodes.filter((enode) => goneNodes.has(enodeKey(enode)));
    await send(rpc, "perm_addNodesToAllowlist", report.nodesAdded);
    await send(rpc, "perm_removeNodesFromAllowlist", report.nodesRemoved);
  }
  const accounts = await listOrSkip(rpc, "perm_getAccountsAllowlist", "accounts", report);
  if (accounts !== undefined) {
    const present = new Set(accounts.map((a) => a.toLowerCase()));
    report.accountsAdded = [...wantedAccounts].filter((a) => !present.has(a));
    report.accountsRemoved = accounts.filter((a) => goneAccounts.has(a.toLowerCase()));
    await send(rpc, "perm_addAccountsToAllowlist", report.accountsAdded);
    await send(rpc, "perm_removeAccountsFromAllowlist", report.accountsRemoved);
  }
  return report;
}

/** The lines `members sync` prints for one node. */
export function describeSync(node: string, report: SyncReport): string[] {
  const lines: string[] = [];
  const list = (what: string, entries: string[]) => {
    for (const entry of entries) lines.push(`  ${what} ${entry}`);
  };
  list("node allowlist + ", report.nodesAdded);
  list("node allowlist - ", report.nodesRemoved);
  list("account allowlist + ", report.accountsAdded);
  list("account allowlist - ", report.accountsRemoved);
  for (const what of report.skipped)
    lines.push(`  ${what} allowlist not enabled on this node: skipped`);
  return [
    lines.length === 0 ? `${node}: allowlists already follow the members on chain` : `${node}:`,
    ...lines,
  ];
}

/** Public key, host and port of an enode URL (Besu may add ?discport=...): how Besu matches them. */
function enodeKey(enode: string): string {
  const match = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?]+):(\d+)/.exec(enode);
  return match === null ? enode : `${match[1]!.toLowerCase()}@${match[2]}:${match[3]}`;
}

async function listOrSkip(
  rpc: NodeRpc,
  method: string,
  what: "nodes" | "accounts",
  report: SyncReport,
): Promise<string[] | undefined> {
  try {
    return (await rpc(method, [])) as string[];
  } catch (error) {
    if (/has not been enabled/.test((error as Error).message)) {
      report.skipped.push(what === "nodes" ? "node" : "account");
      return undefined;
    }
    throw failure(method, error);
  }
}

async function send(rpc: NodeRpc, method: string, entries: string[]): Promise<void> {
  if (entries.length === 0) return;
  let result: unknown;
  try {
    result = await rpc(method, [entries]);
  } catch (error) {
    throw failure(method, error);
  }
  if (result !== "Success") {
    throw new OperatorError(`${method} answered ${JSON.stringify(result)}, not "Success"`);
  }
}

function failure(method: string, error: unknown): OperatorError {
  const message = (error as Error).message;
  return new OperatorError(`${method} failed on the node`, {
    details: message,
    hint: /persist/i.test(message)
      ? "the node cannot write its permissions_config.toml: make it writable by the besu user"
      : "check that the node runs with the PERM API and local permissioning enabled",
  });
}
