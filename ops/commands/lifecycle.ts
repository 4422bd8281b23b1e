import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../fs.js";

export type EngineKind = "embedded" | "besu";

/**
 * What `up` records in network/<name>/engine.json: enough for `down` and `status` to find and stop
 * the running chain from the network folder alone, whatever became of the YAML file since.
 */
export type EngineRecord = {
  engine: EngineKind;
  network: string;
  manifest: string;
  /** sha256 of the genesis.json the chain was started from. */
  genesisSha256: string;
  embedded: { host: string; port: number; saveIntervalSeconds: number };
  /** The besu engine's RPC nodes serve TLS (docker.rpcTls), trusting this CA file when set. */
  rpcTls?: { caFile?: string };
};

export const ENGINE_RECORD = "engine.json";

export function writeEngineRecord(networkDir: string, record: EngineRecord): void {
  writeFileAtomic(join(networkDir, ENGINE_RECORD), `${JSON.stringify(record, null, 2)}\n`);
}

/** The record `up` left, or undefined; a record from before it held more than the kind is partial. */
export function readEngineRecord(networkDir: string): Partial<EngineRecord> | undefined {
  try {
    const record = JSON.parse(readFileSync(join(networkDir, ENGINE_RECORD), "utf8")) as unknown;
    if (record === null || typeof record !== "object") return undefined;
    return record as Partial<EngineRecord>;
  } catch {
    return undefined;
  }
}

export function genesisSha256(networkDir: string): string | undefined {
  try {
    return createHash("sha256")
      .update(readFileSync(join(networkDir, "genesis.json")))
      .digest("hex");
  } catch {
    return undefined;
  }
}

/** Network folders (under `root`) that hold an engine record: chains that were started. */
export function recordedNetworks(root = "network"): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, ENGINE_RECORD)))
    .map((entry) => join(root, entry.name))
    .sort();
}

/** Folders of a network that belong to one chain: its saved state and the clients' stores. */
const CHAIN_FOLDERS = ["embedded", "channels", join("loadtest", "channels")];

/**
 * What shows that a chain was started from this network folder: the engine record, the embedded
 * engine's saves, the deployment manifest, client stores. Paths that exist, in a fixed order.
 */
export function chainEvidence(networkDir: string, manifestPath: string): string[] {
  return [
    join(networkDir, ENGINE_RECORD),
    ...CHAIN_FOLDERS.map((folder) => join(networkDir, folder)),
    manifestPath,
  ].filter((path) => existsSync(path));
}

/**
 * Ends a chain's life in this folder: moves (or deletes) what belongs to the chain (engine record,
 * saves, client stores, manifest) so the next `up` starts from the genesis and the next `deploy`
 * deploys afresh. Archives go to network/<name>/archive/<stamp>/, keeping the relative layout.
 * Keys, genesis and node files stay. Returns the paths that were moved or deleted.
 */
export function retireChain(
  networkDir: string,
  manifestPath: string,
  mode: { archive: boolean; stamp?: string },
): { moved: string[]; archive: string | undefined } {
  const evidence = chainEvidence(networkDir, manifestPath);
  if (evidence.length === 0) return { moved: [], archive: undefined };
  const stamp = mode.stamp ?? new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  let archive: string | undefined;
  if (mode.archive) {
    // Two retirements within a second get their own folders.
    archive = join(networkDir, "archive", stamp);
    for (let n = 2; existsSync(archive); n += 1)
      archive = join(networkDir, "archive", `${stamp}-${n}`);
  }
  for (const path of evidence) {
    if (archive === undefined) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    const target =
      path === manifestPath
        ? join(archive, "deployments", basename(path))
        : join(archive, path.slice(networkDir.length + 1));
    mkdirSync(join(target, ".."), { recursive: true });
    renameSync(path, target);
  }
  return { moved: evidence, archive };
}
