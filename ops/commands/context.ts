import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { ConsortiumSpec } from "../consortium/index.js";
import type { Engine } from "../engines/types.js";
import { OperatorError } from "../errors.js";
import {
  genesisSha256,
  readEngineRecord,
  recordedNetworks,
  writeEngineRecord,
  type EngineKind,
  type EngineRecord,
} from "./lifecycle.js";

export type { EngineKind } from "./lifecycle.js";

/** Options every command that talks to a running chain takes. */
export type ChainOptions = {
  config: string;
  network?: string;
  engine?: EngineKind;
  manifest?: string;
};

export function chainOptions(command: Command): Command {
  return command
    .option("-c, --config <file>", "consortium YAML file", "network/consortium.yaml")
    .option("--network <dir>", "generated network folder (default: network/<name>)")
    .option(
      "--engine <kind>",
      "embedded (anvil, default) or besu (Docker); default: what 'up' used",
    )
    .option("--manifest <file>", "deployment manifest (default: deployments/<name>.json)");
}

/** The consortium, its generated folder and the engine that runs (or will run) it. */
export type ChainContext = {
  spec: ConsortiumSpec;
  /** Where `deploy` writes the deployment manifest. */
  manifestPath: string;
  networkDir: string;
  engine: Engine;
  kind: EngineKind;
};

/**
 * Resolves a command's chain context from the YAML file. The engine `up` chose, and where the
 * embedded engine listens, are remembered in network/<name>/engine.json so that the other commands
 * talk to the chain that runs; `up` itself starts what the YAML says (`fromYaml`).
 */
export async function chainContext(
  options: ChainOptions,
  { fromYaml = false }: { fromYaml?: boolean } = {},
): Promise<ChainContext> {
  const { loadConsortium } = await import("../consortium/load.js");
  const spec = loadConsortium(options.config);
  const networkDir = options.network ?? join("network", spec.name);
  if (!existsSync(join(networkDir, "genesis.json"))) {
    throw new OperatorError(`${networkDir} holds no generated network`, {
      hint: `run 'gridchain generate -c ${options.config}' first`,
    });
  }
  const record = readEngineRecord(networkDir);
  const kind = checkKind(options.engine ?? record?.engine ?? "embedded");
  const embedded =
    !fromYaml && record?.embedded !== undefined ? record.embedded : embeddedSettings(spec);
  return {
    spec,
    networkDir,
    kind,
    manifestPath: options.manifest ?? join("deployments", `${spec.name}.json`),
    engine: await makeEngine(kind, networkDir, spec.name, embedded, rpcTlsSettings(spec)),
  };
}

/** What `down` and `status` need: the running chain, found without trusting the YAML file. */
export type RecordedContext = {
  network: string;
  networkDir: string;
  kind: EngineKind;
  engine: Engine;
  manifestPath: string;
};

/**
 * `down` and `status` must work whatever became of the YAML file since `up` (a typo, a rename):
 * they use the engine record in the network folder. The folder is `--network`, else the YAML's
 * network/<name> when the YAML still reads and that folder has a record, else the only folder
 * under network/ that has one. Without any record, a readable YAML's folder is used as before.
 */
export async function recordedContext(options: ChainOptions): Promise<RecordedContext> {
  const { loadConsortium } = await import("../consortium/load.js");
  let spec: ConsortiumSpec | undefined;
  let yamlError: unknown;
  try {
    spec = loadConsortium(options.config);
  } catch (error) {
    yamlError = error;
  }
  let networkDir = options.network ?? (spec === undefined ? undefined : join("network", spec.name));
  if (options.network === undefined && (networkDir === undefined || !hasRecord(networkDir))) {
    const recorded = recordedNetworks();
    if (recorded.length === 1) networkDir = recorded[0]!;
    else if (recorded.length > 1 && spec === undefined) {
      throw new OperatorError(
        `${options.config} cannot be read, and several networks were started`,
        {
          details: recorded.join(", "),
          hint: "name one with --network <dir>",
        },
      );
    }
  }
  if (networkDir === undefined || !existsSync(join(networkDir, "genesis.json"))) {
    if (yamlError !== undefined) throw yamlError;
    const dir = networkDir ?? "network/<name>";
    throw new OperatorError(`${dir} holds no generated network`, {
      hint: `run 'gridchain generate -c ${options.config}' first`,
    });
  }
  const record = readEngineRecord(networkDir);
  if (record?.network === undefined || record.embedded === undefined) {
    if (spec === undefined) throw yamlError;
    const context = await chainContext({ ...options, network: networkDir });
    return { ...context, network: spec.name };
  }
  const kind = checkKind(options.engine ?? record.engine ?? "embedded");
  return {
    network: record.network,
    networkDir,
    kind,
    manifestPath:
      options.manifest ?? record.manifest ?? join("deployments", `${record.network}.json`),
    engine: await makeEngine(kind, networkDir, record.network, record.embedded, record.rpcTls),
  };
}

/** Records what `up` started, so that every later command finds the same chain. */
export function rememberEngine(context: ChainContext): void {
  const { spec, networkDir, kind, manifestPath } = context;
  const record: EngineRecord = {
    engine: kind,
    network: spec.name,
    manifest: manifestPath,
    genesisSha256: genesisSha256(networkDir) ?? "",
    embedded: embeddedSettings(spec),
    rpcTls: rpcTlsSettings(spec),
  };
  writeEngineRecord(networkDir, record);
}

function hasRecord(networkDir: string): boolean {
  return readEngineRecord(networkDir)?.network !== undefined;
}

function checkKind(kind: string): EngineKind {
  if (kind !== "embedded" && kind !== "besu") {
    throw new OperatorError(`--engine ${kind} is not an engine`, {
      hint: "use embedded or besu",
    });
  }
  return kind;
}

function embeddedSettings(spec: ConsortiumSpec): EngineRecord["embedded"] {
  return {
    host: spec.engine.embedded.host,
    port: spec.engine.embedded.port,
    saveIntervalSeconds: spec.engine.embedded.saveIntervalSeconds,
  };
}

/** TLS on the besu engine's RPC nodes, and the CA file to trust, as the YAML set it. */
function rpcTlsSettings(spec: ConsortiumSpec): EngineRecord["rpcTls"] {
  const tls = spec.docker.rpcTls;
  if (tls === undefined) return undefined;
  return tls.caFile === undefined ? {} : { caFile: tls.caFile };
}

async function makeEngine(
  kind: EngineKind,
  networkDir: string,
  project: string,
  embedded: EngineRecord["embedded"],
  rpcTls: EngineRecord["rpcTls"],
): Promise<Engine> {
  if (kind === "embedded") {
    const { EmbeddedEngine } = await import("../engines/embedded.js");
    return new EmbeddedEngine({ networkDir, ...embedded });
  }
  const { BesuEngine } = await import("../engines/besu.js");
  const nodes = JSON.parse(readFileSync(join(networkDir, "nodes.json"), "utf8")) as Array<{
    kind: string;
    address: string;
    runsHere: boolean;
  }>;
  const { signRpcToken } = await import("../engines/rpc-token.js");
  const tokenKey = join(networkDir, "rpc-jwt.key");
  const rpcToken = existsSync(tokenKey)
    ? () => signRpcToken(readFileSync(tokenKey, "utf8"))
    : undefined;
  // Consensus and block period come from the genesis the network was generated with.
  const genesis = JSON.parse(readFileSync(join(networkDir, "genesis.json"), "utf8")) as {
    config: {
      qbft?: { blockperiodseconds: number };
      clique?: { blockperiodseconds: number };
    };
  };
  const consensus = genesis.config.clique === undefined ? "qbft" : "clique";
  const period =
    genesis.config.qbft?.blockperiodseconds ?? genesis.config.clique?.blockperiodseconds ?? 2;
  return new BesuEngine({
    composeFile: join(networkDir, "docker-compose.yml"),
    rpcToken,
    rpcTls:
      rpcTls === undefined
        ? undefined
        : { ca: rpcTls.caFile === undefined ? undefined : readFileSync(rpcTls.caFile, "utf8") },
    project,
    blockWaitMs: 2_000 * period,
    expect: {
      consensus,
      validators: nodes.filter((n) => n.kind === "validator").map((n) => n.address),
      // Static nodes connect every node to every other one.
      peers: nodes.length - 1,
    },
  });
}
