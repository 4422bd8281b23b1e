import type { Command } from "commander";
import { chainOptions, recordedContext, type ChainOptions } from "./context.js";

/** `gridchain down`: stop what `up` started; the chain's state is kept for the next `up`. */
export function register(program: Command): void {
  chainOptions(
    program.command("down").description("stop the chain; its state is kept for the next 'up'"),
  )
    .addHelpText("after", "\nExample:\n  gridchain down")
    .action(async (options: ChainOptions) => {
      const { engine, kind } = await recordedContext(options);
      const before = await engine.status();
      await engine.down();
      console.log(
        before.running
          ? `${kind} engine stopped at block ${before.height ?? "?"}; state kept for the next 'gridchain up'`
          : `${kind} engine was not running (${before.problem ?? "stopped"})`,
      );
    });
}
