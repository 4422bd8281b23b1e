import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import { chainContext, chainOptions, rememberEngine, type ChainOptions } from "./context.js";
import { genesisSha256, readEngineRecord } from "./lifecycle.js";

/** `gridchain up`: start the generated network on an engine and wait until it is ready. */
export function register(program: Command): void {
  chainOptions(
    program.command("up").description("start the consortium's chain and wait until it is ready"),
  )
    .addHelpText("after", "\nExamples:\n  gridchain up\n  gridchain up --engine besu")
    .action(async (options: ChainOptions) => {
      for (const line of await up(options)) console.log(line);
    });
}

/**
 * Starts the chain, or says it already runs: `up` twice is not an error when the running chain is
 * the one the network folder describes (same genesis).
 */
export async function up(options: ChainOptions): Promise<string[]> {
  const context = await chainContext(options, { fromYaml: true });
  const { kind, networkDir } = context;
  const record = readEngineRecord(networkDir);
  const running = await chainContext({ ...options, engine: record?.engine ?? kind });
  const before = await running.engine.status();
  if (before.running) {
    const genesis = genesisSha256(networkDir);
    if (record?.genesisSha256 !== undefined && record.genesisSha256 !== genesis) {
      throw new OperatorError(
        `the ${running.kind} chain running from ${networkDir} was started from another genesis`,
        { hint: "'gridchain down' stops it; 'gridchain generate' must not change a started chain" },
      );
    }
    return [
      `${running.kind} engine already running: ${running.engine.rpcUrl()} (chain id ${before.chainId ?? "?"}, block ${before.height ?? "?"}); nothing to do`,
    ];
  }
  rememberEngine(context);
  const report = await context.engine.up();
  await context.engine.ready();
  const status = await context.engine.status();
  const lines = [
    `${kind} engine up: ${context.engine.rpcUrl()} (chain id ${status.chainId}, block ${status.height})`,
  ];
  if (report !== undefined) {
    for (const note of report.notes) lines.push(`  ${note}`);
    if (report.resumedFrom === undefined) {
      lines.push("  a new chain, started from its genesis");
    } else if (report.crashed === true) {
      lines.push(
        `  the chain had stopped without 'gridchain down': resumed from its last save, block ${report.resumedFrom}; at most ${report.lossWindowSeconds} s of blocks before the stop were lost`,
      );
    } else {
      lines.push(`  resumed from block ${report.resumedFrom} (saved by 'gridchain down')`);
    }
  }
  return lines;
}
