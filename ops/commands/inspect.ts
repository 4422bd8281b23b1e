import type { Command } from "commander";

/** `gridchain inspect <genesis.json>`: the consensus and validators of a genesis file. */
export function register(program: Command): void {
  program
    .command("inspect")
    .description("decode a genesis file's QBFT or Clique extraData and list the validators")
    .argument("<genesis>", "genesis.json file")
    .addHelpText("after", "\nExample:\n  gridchain inspect network/pilot/genesis.json")
    .action(async (genesis: string) => {
      const { inspectGenesis } = await import("../besu/inspect.js");
      console.log(inspectGenesis(genesis).join("\n"));
    });
}
