import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Command } from "commander";

/** Options of `gridchain generate`, as commander parses them. */
export type GenerateOptions = {
  config: string;
  out?: string;
  rotate: boolean;
  composeFile?: string;
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
    .option("--rotate", "regenerate the node keys: a new chain, since the validators change", false)
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

/** Validates, plans and renders everything in memory, then writes; a failed run writes nothing. */
export async function generate(options: GenerateOptions): Promise<string[]> {
  const { loadConsortium, planNetwork, renderNetwork, resolveKeys } =
    await import("../consortium/index.js");
  const { renderCompose } = await import("../compose/render.js");
  const { writeFileAtomic, writeFilesAtomic } = await import("../fs.js");

  const spec = loadConsortium(options.config);
  const outDir = options.out ?? join("network", spec.name);
  const { checkNetworkSource, sourceRecord, SOURCE_FILE } = await import("../consortium/source.js");
  const { readFileSync } = await import("node:fs");
  checkNetworkSource(outDir, options.config, readFileSync(options.config, "utf8"));
  const { keys, origins } = resolveKeys(spec, outDir, { rotate: options.rotate });
  const plan = planNetwork(spec, keys);
  const files = renderNetwork(plan);
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

/** Node folders a previous run wrote for nodes the YAML no longer has: reported, never deleted. */
function staleNodeFolders(outDir: string, nodes: ReadonlySet<string>): string[] {
  const folder = join(outDir, "nodes");
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => !nodes.has(name))
    .sort();
}
