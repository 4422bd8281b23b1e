import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { ConsortiumSpec } from "../consortium/index.js";
import type { Engine } from "../engines/types.js";
import { OperatorError } from "../errors.js";
import { writeFileAtomic } from "../fs.js";

export type EngineKind = "embedded" | "besu";

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
 * Resolves a command's chain context. The engine `up` chose is remembered in
 * network/<name>/engine.json so that `status` and `down` need no flag.
 */
export async function chainContext(options: ChainOptions): Promise<ChainContext> {
  const { loadConsortium } = await import("../consortium/load.js");
  const spec = loadConsortium(options.config);
  const networkDir = options.network ?? join("network", spec.name);
  if (!existsSync(join(networkDir, "genesis.json"))) {
    throw new OperatorError(`${networkDir} holds no generated network`, {
      hint: `run 'gridchain generate -c ${options.config}' first`,
    });
  }
  const kind = options.engine ?? rememberedEngine(networkDir) ?? "embedded";
  if (kind !== "embedded" && kind !== "besu") {
    throw new OperatorError(`--engine ${String(kind)} is not an engine`, {
      hint: "use embedded or besu",
    });
  }
  return {
    spec,
    networkDir,
    kind,
    manifestPath: options.manifest ?? join("deployments", `${spec.name}.json`),
    engine: await makeEngine(kind, spec, networkDir),
  };
}

export function rememberEngine(networkDir: string, kind: EngineKind): void {
  writeFileAtomic(join(networkDir, "engine.json"), `${JSON.stringify({ engine: kind })}\n`);
}

function rememberedEngine(networkDir: string): EngineKind | undefined {
  try {
    return (
      JSON.parse(readFileSync(join(networkDir, "engine.json"), "utf8")) as { engine: EngineKind }
    ).engine;
  } catch {
    return undefined;
  }
}

async function makeEngine(
  kind: EngineKind,
  spec: ConsortiumSpec,
  networkDir: string,
): Promise<Engine> {
  if (kind === "embedded") {
    const { EmbeddedEngine } = await import("../engines/embedded.js");
    return new EmbeddedEngine({
      networkDir,
      host: spec.engine.embedded.host,
      port: spec.engine.embedded.port,
    });
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
  return new BesuEngine({
    composeFile: join(networkDir, "docker-compose.yml"),
    rpcToken,
    rpcTls:
      spec.docker.rpcTls === undefined
        ? undefined
        : {
            ca:
              spec.docker.rpcTls.caFile === undefined
                ? undefined
                : readFileSync(spec.docker.rpcTls.caFile, "utf8"),
          },
    project: spec.name,
    blockWaitMs: 2_000 * spec.consensus.blockPeriodSeconds,
    expect: {
      consensus: spec.consensus.protocol,
      validators: nodes.filter((n) => n.kind === "validator").map((n) => n.address),
      // Static nodes connect every node to every other one.
      peers: nodes.length - 1,
    },
  });
}
