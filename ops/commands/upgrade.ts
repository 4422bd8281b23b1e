import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

/** `gridchain upgrade <Contract> <Artifact>`: upgrade one market proxy to another implementation. */
export function register(program: Command): void {
  chainOptions(
    program
      .command("upgrade")
      .description("upgrade one market contract to a new implementation (storage layout checked)")
      .argument(
        "<contract>",
        "the proxy: GridAccessManager, GridCredit, GridReview, EnergyMarket or PaymentChannels",
      )
      .argument("<artifact>", "the compiled contract to upgrade to"),
  )
    .addHelpText("after", "\nExamples:\n  gridchain upgrade EnergyMarket EnergyMarketV2Test")
    .action(async (contract: string, artifact: string, options: ChainOptions) => {
      console.log(await upgrade(contract, artifact, options));
    });
}

export async function upgrade(
  contract: string,
  artifact: string,
  options: ChainOptions,
): Promise<string> {
  const { MARKET_CONTRACTS } = await import("../contracts/roles.js");
  if (!(MARKET_CONTRACTS as readonly string[]).includes(contract)) {
    throw new OperatorError(`${contract} is not a market contract`, {
      hint: `use one of ${MARKET_CONTRACTS.join(", ")}`,
    });
  }
  const context = await chainContext(options);
  const { accountId, openSession, readAccounts, requireRunning } = await import("./hardhat.js");
  const { readManifest } = await import("../contracts/manifest.js");
  const { upgradeMarketContract } = await import("../contracts/deploy.js");
  await requireRunning(context);
  const deployerId = accountId(readAccounts(context.networkDir), "deployer");
  const session = await openSession(context, [deployerId]);
  try {
    const manifest = await readManifest(session.manifestPath);
    if (!(await session.hre.artifacts.artifactExists(artifact))) {
      throw new OperatorError(`no compiled contract named ${artifact}`, {
        hint: "name a contract under contracts/ (the build ran just now)",
      });
    }
    const { ROLE_IDS } = await import("../contracts/roles.js");
    const upgrader = session.signers.get(deployerId)!;
    const manager = await session.connection.ethers.getContractAt(
      "GridAccessManager",
      manifest.contracts.GridAccessManager.proxy,
    );
    if (!(await manager.hasRole(ROLE_IDS.UPGRADER, upgrader.address))[0]) {
      throw new OperatorError(
        `the deployer ${upgrader.address} no longer holds UPGRADER: the members' governance does`,
        {
          hint: "an upgrade is a members' proposal: 'gridchain members propose upgrade <proxy> <implementation>' (a pilot keeps the deployer's roles with governance.deployerKeepsAdmin: true)",
        },
      );
    }
    const result = await upgradeMarketContract({
      hre: session.hre,
      connection: session.connection,
      manifest,
      contract: contract as (typeof MARKET_CONTRACTS)[number],
      implementation: artifact,
      upgrader,
      manifestPath: session.manifestPath,
    });
    if (result.status === "unchanged") {
      return `${contract}: nothing to upgrade: the proxy already runs this code (implementation ${result.implementation}); no transaction sent, ${session.manifestPath} left as it is`;
    }
    if (result.status === "scheduled") {
      return `${contract}: upgrade to ${artifact} scheduled (operation ${result.operationId}); run 'gridchain upgrade ${contract} ${artifact}' again after ${new Date(result.executableAt * 1000).toISOString()}`;
    }
    return `${contract} upgraded to ${artifact} (implementation ${result.implementation}); ${session.manifestPath} updated`;
  } finally {
    await session.connection.close();
  }
}
