import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Command } from "commander";
import { OperatorError } from "../errors.js";

/** Options of `gridchain generate`, as commander parses them. */
export type GenerateOptions = {
  config: string;
  out?: string;
  rotate: boolean;
  composeFile?: string;
  /** Start a new chain: archive the started one's state, manifest and client stores. */
  newChain?: boolean;
};

/** `gridchain generate`: one consortium YAML file to a complete Besu network folder. */
export function register(program: Command): void {
  program
    .command("generate")
    .description(
      "generate the Besu network (keys, genesis, node configs, compose) from a consortium YAML file",
    )
    .option("-c, --config <file>", "consortium YAML file", "network/consortium.yaml")
    .option("--out <dir>", "output folder (default: network/<name>)")
    .option(
      "--rotate",
      "regenerate the node keys (changes the validators: needs --new-chain once started)",
      false,
    )
    .option(
      "--new-chain",
      "allow a new genesis for a network that was started: its state, manifest and channel stores are archived",
      false,
    )
    .option("--compose-file <file>", "also write a compose file here, its paths relative to it")
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain generate\n  gridchain generate -c network/examples/loadtest-3000.yaml --out /tmp/loadtest",
    )
    .action(async (options: GenerateOptions) => {
      const summary = await generate(options);
      console.log(summary.join("\n"));
    });
}

/**
 * Validates, plans and renders everything in memory, then writes; a failed run writes nothing.
 * Once a chain has started from the folder, its genesis and node identities are fixed: a run that
 * would change them is refused unless `newChain` says a new chain is meant.
 */
export async function generate(options: GenerateOptions): Promise<string[]> {
  const { loadConsortium, planNetwork, renderNetwork, resolveKeys } =
    await import("../consortium/index.js");
  const { renderCompose } = await import("../compose/render.js");
  const { writeFileAtomic, writeFilesAtomic } = await import("../fs.js");
  const { chainEvidence, readEngineRecord, retireChain } = await import("./lifecycle.js");
  const { chainChanges, previousLayout } = await import("./chain-identity.js");

  const spec = loadConsortium(options.config);
  const outDir = options.out ?? join("network", spec.name);
  const { checkNetworkSource, sourceRecord, SOURCE_FILE } = await import("../consortium/source.js");
  const { readFileSync } = await import("node:fs");
  checkNetworkSource(outDir, options.config, readFileSync(options.config, "utf8"));
  const manifestPath =
    readEngineRecord(outDir)?.manifest ?? join("deployments", `${spec.name}.json`);
  const started = chainEvidence(outDir, manifestPath).length > 0;
  const newChain = options.newChain === true && started;
  if (newChain) await refuseWhileRunning(options.config, outDir);
  const previous = previousLayout(outDir);
  const { keys, origins } = resolveKeys(spec, outDir, { rotate: options.rotate });
  // A new chain gets a new genesis time; otherwise the first generation's time is kept (a folder
  // from before genesis times, stamped 0, gets one unless its chain has started).
  const keptTimestamp =
    newChain || (!started && previous.genesisTimestamp === 0)
      ? undefined
      : previous.genesisTimestamp;
  const plan = planNetwork(spec, keys, {
    genesisTimestamp: spec.genesis.timestamp ?? keptTimestamp ?? Math.floor(Date.now() / 1000),
    previousIps: previous.previousIps,
    previousValidatorSelection: previous.previousValidatorSelection,
  });
  const files = renderNetwork(plan);
  if (started && !newChain) {
    const changes = chainChanges(outDir, {
      genesis: files.get("genesis.json")!.content,
      nodes: files.get("nodes.json")!.content,
    });
    if (changes.length > 0) {
      throw new OperatorError(
        `${outDir} holds a chain that has started; this would change its genesis or node identities: ${changes.join("; ")}`,
        {
          details:
            "a different genesis or node set is a different chain: its saved state, deployed contracts and payment channels would not belong to it",
          hint: `undo the change (or restore the missing key files); to start a new chain, run 'gridchain generate --new-chain${options.config === "network/consortium.yaml" ? "" : ` -c ${options.config}`}' (the old chain is archived)`,
        },
      );
    }
  }
  const retired = newChain ? retireChain(outDir, manifestPath, { archive: true }) : undefined;
  const extraCompose =
    options.composeFile === undefined
      ? undefined
      : renderCompose(plan, `./${relative(dirname(options.composeFile), outDir) || "."}`);

  const { written, unchanged } = await writeFilesAtomic(outDir, files);
  writeFileAtomic(join(outDir, SOURCE_FILE), sourceRecord(options.config));
  if (options.composeFile !== undefined && extraCompose !== undefined) {
    writeFileAtomic(options.composeFile, extraCompose);
  }

  const count = (kind: string, word: string) => {
    const n = plan.nodes.filter((node) => node.kind === kind).length;
    return `${n} ${word}${n === 1 || word === "RPC" ? "" : "s"}`;
  };
  const lines = [
    `generated network "${spec.name}" (${spec.consensus.protocol.toUpperCase()}, Besu ${spec.besu.version}, chain id ${spec.chainId}) in ${outDir}`,
    `  nodes: ${plan.nodes.length} (${count("validator", "validator")}, ${count("rpc", "RPC")}, ${count("bootnode", "bootnode")})`,
    `  node keys: ${origins.nodesGenerated.length} generated, ${origins.nodesReused.length} reused, ${origins.nodesImported.length} imported`,
    `  accounts: ${plan.accounts.length} (keys: ${origins.accountsGenerated.length} generated, ${origins.accountsReused.length} reused)`,
    `  files: ${written} written, ${unchanged} unchanged${options.composeFile === undefined ? "" : `; compose file ${options.composeFile}`}`,
  ];
  if (retired?.archive !== undefined) {
    lines.push(
      `  new chain: the old chain's state, manifest and channel stores moved to ${retired.archive}`,
    );
  }
  if (origins.nodesRotated.length > 0) {
    lines.push(
      `  rotated ${origins.nodesRotated.length} node keys: the genesis changed, start the chain afresh`,
    );
  }
  const stale = staleNodeFolders(outDir, new Set(plan.nodes.map((node) => node.name)));
  if (stale.length > 0) {
    lines.push(
      `  not in the YAML any more (left in place, delete by hand): nodes/${stale.join(", nodes/")}`,
    );
  }
  for (const warning of spec.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}

/** A chain cannot be archived under a running engine: it would go on writing its saves. */
async function refuseWhileRunning(config: string, outDir: string): Promise<void> {
  const { recordedContext } = await import("./context.js");
  let running = false;
  try {
    running = (await (await recordedContext({ config, network: outDir })).engine.status()).running;
  } catch {
    // No engine to ask (no Docker, a broken record): nothing of ours is running.
  }
  if (running) {
    throw new OperatorError(`the chain of ${outDir} is running`, {
      hint: "stop it with 'gridchain down' before starting a new chain",
    });
  }
}

/** Node folders a previous run wrote for nodes the YAML no longer has: reported, never deleted. */
function staleNodeFolders(outDir: string, nodes: ReadonlySet<string>): string[] {
  const folder = join(outDir, "nodes");
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => !nodes.has(name))
    .sort();
}
