import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VALIDATOR_CONTRACT_ADDRESS } from "../besu/validator-contract.js";

type Genesis = {
  config?: Record<string, unknown>;
  timestamp?: string;
  gasLimit?: string;
  extraData?: string;
  alloc?: Record<string, unknown>;
  [key: string]: unknown;
};

type NodeEntry = { name: string; publicKey: string; ip: string; enode: string };

/** What a previous `generate` fixed in `outDir`: its genesis time and its nodes' addresses. */
export function previousLayout(outDir: string): {
  genesisTimestamp: number | undefined;
  previousIps: Map<string, string>;
  previousValidatorSelection: "contract" | "blockheader" | undefined;
} {
  const genesis = readJson<Genesis>(join(outDir, "genesis.json"));
  const nodes = readJson<NodeEntry[]>(join(outDir, "nodes.json")) ?? [];
  const timestamp = genesis?.timestamp;
  return {
    genesisTimestamp:
      typeof timestamp === "string" && /^0x[0-9a-f]+$/i.test(timestamp)
        ? Number(BigInt(timestamp))
        : undefined,
    previousIps: new Map(nodes.map((node) => [node.name, node.ip])),
    previousValidatorSelection: validatorSelectionOf(genesis),
  };
}

/** The QBFT validator selection a genesis starts with; undefined for none or a Clique genesis. */
function validatorSelectionOf(
  genesis: Genesis | undefined,
): "contract" | "blockheader" | undefined {
  const qbft = genesis?.config?.qbft as Record<string, unknown> | undefined;
  if (qbft === undefined) return undefined;
  return typeof qbft.validatorcontractaddress === "string" ? "contract" : "blockheader";
}

/**
 * What a regeneration would change in what makes a chain: the genesis (every field of it) and the
 * identity of every node that stays (key, address, enode). One plain line per change; empty when
 * the new files describe the same chain. Nodes added or removed do not change the others; a
 * validator added or removed shows as a change of the genesis's validator set.
 */
export function chainChanges(
  outDir: string,
  rendered: { genesis: string; nodes: string },
): string[] {
  const changes: string[] = [];
  const before = readJson<Genesis>(join(outDir, "genesis.json"));
  const after = JSON.parse(rendered.genesis) as Genesis;
  if (before === undefined) {
    changes.push(`${join(outDir, "genesis.json")} is missing: a new genesis would be written`);
  } else {
    changes.push(...genesisChanges(before, after));
  }
  const oldNodes = readJson<NodeEntry[]>(join(outDir, "nodes.json")) ?? [];
  const newNodes = new Map(
    (JSON.parse(rendered.nodes) as NodeEntry[]).map((node) => [node.name, node]),
  );
  for (const old of oldNodes) {
    const now = newNodes.get(old.name);
    if (now === undefined) continue;
    if (now.publicKey !== old.publicKey) {
      changes.push(
        `node ${old.name}: its key changes (nodes/${old.name}/key missing, replaced or rotated)`,
      );
    } else if (now.enode !== old.enode) {
      changes.push(`node ${old.name}: its enode changes (address ${old.ip} -> ${now.ip})`);
    }
  }
  return changes;
}

function genesisChanges(before: Genesis, after: Genesis): string[] {
  // Reassigned below without the validator contract, compared on its own.
  const changes: string[] = [];
  const config = (genesis: Genesis) => genesis.config ?? {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(config(before).chainId, config(after).chainId)) {
    changes.push(`chain id ${String(config(before).chainId)} -> ${String(config(after).chainId)}`);
  }
  const keys = new Set([...Object.keys(config(before)), ...Object.keys(config(after))]);
  keys.delete("chainId");
  // Appending QBFT transitions is how a started chain changes course (Besu reads them at start
  // and hashes no config into the genesis block); changing or dropping one is not.
  if (transitionsAppended(config(before).transitions, config(after).transitions)) {
    keys.delete("transitions");
  }
  for (const key of [...keys].sort()) {
    if (!same(config(before)[key], config(after)[key])) {
      changes.push(
        `genesis config.${key}: ${JSON.stringify(config(before)[key]) ?? "absent"} -> ${JSON.stringify(config(after)[key]) ?? "absent"}`,
      );
    }
  }
  if (before.extraData !== after.extraData) {
    changes.push(
      "the validator set in the genesis extraData (validators added, removed or re-keyed)",
    );
  }
  const contract = VALIDATOR_CONTRACT_ADDRESS;
  const oldContract = before.alloc?.[contract];
  const newContract = after.alloc?.[contract];
  if (oldContract !== undefined && newContract !== undefined && !same(oldContract, newContract)) {
    changes.push(
      "the validator set in the genesis validator contract (validators added, removed or re-keyed): on a started chain that is a members' vote (gridchain members propose)",
    );
  }
  const withoutContract = (alloc: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(alloc ?? {}).filter(([address]) => address !== contract));
  before = { ...before, alloc: withoutContract(before.alloc) };
  after = { ...after, alloc: withoutContract(after.alloc) };
  if ((oldContract === undefined) !== (newContract === undefined)) {
    changes.push("the validator contract in the genesis alloc (added or removed)");
  }
  const oldAlloc = Object.keys(before.alloc ?? {});
  const newAlloc = Object.keys(after.alloc ?? {});
  const added = newAlloc.filter((address) => !oldAlloc.includes(address)).length;
  const removed = oldAlloc.filter((address) => !newAlloc.includes(address)).length;
  if (added > 0 || removed > 0) {
    changes.push(`genesis accounts (alloc): ${added} added, ${removed} removed`);
  } else if (!same(before.alloc, after.alloc)) {
    changes.push("genesis account balances (alloc)");
  }
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const field of ["config", "extraData", "alloc"]) fields.delete(field);
  for (const field of [...fields].sort()) {
    if (!same(before[field], after[field])) {
      changes.push(
        `genesis ${field}: ${JSON.stringify(before[field]) ?? "absent"} -> ${JSON.stringify(after[field]) ?? "absent"}`,
      );
    }
  }
  return changes;
}

function transitionsAppended(before: unknown, after: unknown): boolean {
  const list = (value: unknown): unknown[] =>
    ((value as { qbft?: unknown[] } | undefined)?.qbft ?? []) as unknown[];
  const old = list(before);
  const now = list(after);
  return (
    now.length >= old.length &&
    old.every((entry, index) => JSON.stringify(entry) === JSON.stringify(now[index]))
  );
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}
