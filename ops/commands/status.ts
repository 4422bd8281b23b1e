import type { Command } from "commander";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

/** `gridchain status`: the engine, chain id, height, block time and engine details. */
export function register(program: Command): void {
  chainOptions(
    program.command("status").description("show the chain: engine, chain id, height, block time"),
  )
    .option("--json", "print JSON", false)
    .addHelpText("after", "\nExamples:\n  gridchain status\n  gridchain status --json")
    .action(async (options: ChainOptions & { json: boolean }) => {
      const { engine, spec } = await chainContext(options);
      const status = await engine.status();
      if (options.json) {
        console.log(
          JSON.stringify(
            { network: spec.name, ...status },
            (_k, v) => (typeof v === "bigint" ? v.toString() : v),
            2,
          ),
        );
      } else {
        const lines = [
          `network: ${spec.name}`,
          `engine: ${status.engine} (${status.running ? "running" : "stopped"})`,
          `rpc: ${status.rpcUrl}`,
          ...(status.chainId === undefined ? [] : [`chain id: ${status.chainId}`]),
          ...(status.height === undefined ? [] : [`height: ${status.height}`]),
          ...(status.blockTimeSeconds === undefined
            ? []
            : [`block time: ${status.blockTimeSeconds.toFixed(2)} s`]),
          ...(status.problem === undefined ? [] : [`problem: ${status.problem}`]),
        ];
        console.log(lines.join("\n"));
      }
      if (!status.running || status.problem !== undefined) process.exitCode = 3;
    });
}
