import { join } from "node:path";
import type { Command } from "commander";
import type {
  EnergyMarket,
  GridCredit,
  GridReview,
  PaymentChannels,
} from "../../types/ethers-contracts/index.js";

type DemoOptions = { config: string };

/** `gridchain demo` (= `npm start`): the whole system on the embedded chain, with a trading story. */
export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "init, generate, start the embedded chain, deploy, and walk a trading session through every step",
    )
    .option("-c, --config <file>", "consortium YAML file", "network/consortium.yaml")
    .addHelpText("after", "\nExamples:\n  gridchain demo\n  npm start")
    .action(async (options: DemoOptions) => {
      await demo(options, (line) => console.log(line));
    });
}

export async function demo(options: DemoOptions, say: (line: string) => void): Promise<void> {
  const started = Date.now();
  const { init } = await import("./init.js");
  const { generate } = await import("./generate.js");
  const { chainContext, rememberEngine } = await import("./context.js");
  const { deploy } = await import("./deploy.js");
  const { openSession } = await import("./hardhat.js");
  const { readManifest } = await import("../contracts/manifest.js");
  const { marketSetup } = await import("../contracts/consortium.js");
  const { runDemoSession, renderTable } = await import("../market/demo.js");

  say(`== 1/4 consortium file: ${init(options.config)}`);
  const generated = await generate({ config: options.config, rotate: false });
  say(`== 2/4 ${generated[0]}`);
  const chainOptions = { config: options.config, engine: "embedded" as const };
  const context = await chainContext(chainOptions);
  const before = await context.engine.status();
  if (before.running) {
    say(`== 3/4 embedded chain already running at ${context.engine.rpcUrl()}: reusing it`);
  } else {
    rememberEngine(context);
    const report = await context.engine.up();
    await context.engine.ready();
    say(`== 3/4 embedded chain started at ${context.engine.rpcUrl()}`);
    if (report?.crashed === true) {
      say(
        `  it had stopped without 'gridchain down': resumed from block ${report.resumedFrom}; at most ${report.lossWindowSeconds} s of blocks before the stop were lost`,
      );
    }
  }
  say("== 4/4 deploy");
  for (const line of await deploy(chainOptions, (line) => say(`  ${line}`))) say(`  ${line}`);

  const manifest = await readManifest(context.manifestPath);
  const accounts = (await import("./hardhat.js")).readAccounts(context.networkDir);
  const ids = accounts
    .filter((account) => account.role !== "deployer")
    .map((account) => account.id);
  const session = await openSession(context, ids, { compile: false });
  try {
    const { ethers } = session.connection;
    const at = async <T>(name: string, address: string) =>
      (await ethers.getContractAt(name, address)) as unknown as T;
    const setup = marketSetup(context.spec, accounts);
    const { readFileSync } = await import("node:fs");
    say("");
    say(
      `Trading session on "${context.spec.name}" (chain id ${manifest.chainId}), market ${manifest.contracts.EnergyMarket.proxy}`,
    );
    const rows = await runDemoSession({
      contracts: {
        market: await at<EnergyMarket>("EnergyMarket", manifest.contracts.EnergyMarket.proxy),
        review: await at<GridReview>("GridReview", manifest.contracts.GridReview.proxy),
        credit: await at<GridCredit>("GridCredit", manifest.contracts.GridCredit.proxy),
        channels: await at<PaymentChannels>(
          "PaymentChannels",
          manifest.contracts.PaymentChannels.proxy,
        ),
      },
      manifest,
      provider: ethers.provider,
      accounts,
      signerOf: (id) => session.signers.get(id)!,
      keyOf: (id) => readFileSync(join(context.networkDir, "accounts", `${id}.key`), "utf8").trim(),
      zones: context.spec.market.zones.map((zone) => ({
        id: zone.id,
        exportW: BigInt(zone.exportKw) * 1000n,
      })),
      slotSeconds: BigInt(context.spec.market.slotSeconds),
      maxOrderWh: setup.review.maxOrderWh,
      channelStoreDir: join(context.networkDir, "channels"),
      say,
    });
    say("");
    say("Summary");
    say(renderTable(rows));
  } finally {
    await session.connection.close();
  }
  say("");
  say(`Done in ${Math.round((Date.now() - started) / 1000)} s. The chain keeps running:`);
  const config = options.config === "network/consortium.yaml" ? "" : ` -c ${options.config}`;
  const next = [
    [`gridchain status${config}`, "contracts, offers and orders"],
    [`gridchain loadtest${config} --preset smoke`, "load-test the market: 60 trades, a report"],
    [`gridchain down${config}`, "stop it (state kept; 'gridchain up' resumes)"],
    ["npm start", "again: a new session on the same chain"],
  ];
  const width = Math.max(...next.map(([command]) => command!.length));
  for (const [command, what] of next) say(`  ${command!.padEnd(width)}  ${what}`);
}
