import type { Command } from "commander";
import { chainContext, chainOptions, rememberEngine, type ChainOptions } from "./context.js";

/** `gridchain up`: start the generated network on an engine and wait until it is ready. */
export function register(program: Command): void {
  chainOptions(
    program.command("up").description("start the consortium's chain and wait until it is ready"),
  )
    .addHelpText("after", "\nExamples:\n  gridchain up\n  gridchain up --engine besu")
    .action(async (options: ChainOptions) => {
      const { engine, kind, networkDir } = await chainContext(options);
      await engine.up();
      rememberEngine(networkDir, kind);
      await engine.ready();
      const status = await engine.status();
      console.log(
        `${kind} engine up: ${engine.rpcUrl()} (chain id ${status.chainId}, block ${status.height})`,
      );
    });
}
