import { OperatorError } from "../errors.js";
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

/** `gridchain deploy`: deploy or upgrade the market on the running chain, set it up from the YAML. */
export function register(program: Command): void {
  chainOptions(
    program
      .command("deploy")
      .description(
        "deploy the market (or upgrade what changed), grant roles, set the grid's parameters, mint credits",
      ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain deploy\n  gridchain deploy -c network/consortium.yaml",
    )
    .action(async (options: ChainOptions) => {
      const lines = await deploy(options, (line) => console.log(line));
      console.log(lines.join("\n"));
    });
}

/** Runs a deploy; `log` gets each change as it happens, the result is the closing line. */
export async function deploy(
  options: ChainOptions,
  log: (line: string) => void,
): Promise<string[]> {
  const context = await chainContext(options);
  if (context.spec.consensus.protocol === "clique") {
    throw new OperatorError(
      `${options.config}: consensus.protocol: the market contracts cannot run on a Clique network`,
      {
        details:
          "they are built for the Cancun EVM (transient storage in PaymentChannels, mcopy in OpenZeppelin 5.7), and Besu 26.2.0's Clique seals no block past London, so a Clique genesis stops there",
        hint: "use protocol: qbft for the market",
      },
    );
  }
  const { accountId, openSession, readAccounts, requireRunning } = await import("./hardhat.js");
  const { ensureDeployed, marketSetup } = await import("../contracts/consortium.js");
  const { readManifest } = await import("../contracts/manifest.js");
  await requireRunning(context);
  const accounts = readAccounts(context.networkDir);
  const deployerId = accountId(accounts, "deployer");
  const operatorId = accountId(accounts, "grid-operator");
  const session = await openSession(context, [deployerId, operatorId]);
  const { manifestPath } = session;
  const existing = existsSync(manifestPath) ? await readManifest(manifestPath) : undefined;
  const result = await ensureDeployed({
    hre: session.hre,
    connection: session.connection,
    deployer: session.signers.get(deployerId)!,
    gridOperator: session.signers.get(operatorId)!,
    setup: marketSetup(context.spec, accounts),
    existing,
    manifestPath,
    log,
  });
  const { deployGovernanceFor } = await import("../governance/setup.js");
  const governed = await deployGovernanceFor({
    hre: session.hre,
    connection: session.connection,
    deployer: session.signers.get(deployerId)!,
    spec: context.spec,
    networkDir: context.networkDir,
    accounts,
    manifest: result.manifest,
    manifestPath,
    log,
  });
  result.transactions += governed;
  await session.connection.close();
  if (result.transactions === 0) {
    return [
      `${manifestPath} is up to date: nothing to do (market ${result.manifest.contracts.EnergyMarket.proxy} on chain ${result.manifest.chainId})`,
    ];
  }
  return [
    `${manifestPath} written: market ${result.manifest.contracts.EnergyMarket.proxy} on chain ${result.manifest.chainId} (${result.transactions} transactions)`,
  ];
}
