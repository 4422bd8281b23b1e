import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { versionLine } from "./version.js";

/**
 * The CLI's one error boundary: whatever ends a command (a rejected action, an exception thrown
 * later by a server or a timer) is printed as one `gridchain:` line; the stack trace only with
 * --debug or GRIDCHAIN_DEBUG=1. Commands throw OperatorError for what the operator can fix and
 * let everything else through: ops/explain.ts classifies it.
 */
const debugFlag = process.argv.indexOf("--debug");
const debug = debugFlag !== -1 || process.env.GRIDCHAIN_DEBUG === "1";
const argv = debugFlag === -1 ? process.argv : process.argv.filter((_, i) => i !== debugFlag);

async function fail(error: unknown): Promise<void> {
  const { debugTrace, explainError } = await import("./explain.js");
  const explained = await explainError(error).catch(() => ({
    line: `unexpected error: ${String(error)}`,
    code: 70,
  }));
  console.error(`gridchain: ${explained.line}`);
  if (debug) console.error(debugTrace(error));
  process.exitCode = explained.code;
}

const program = new Command()
  .name("gridchain")
  .description("Stand up and run a permissioned energy-trading consortium on Hyperledger Besu")
  .option("-V, --version", "print gridchain's version (and git commit)")
  .option("--debug", "print the stack trace of an error (also GRIDCHAIN_DEBUG=1)")
  // A usage mistake is an operator error too: one line, the usage one --help away.
  .configureOutput({
    outputError: (message, write) =>
      write(
        `gridchain: ${message.replace(/^error: /, "").trim()}; hint: add --help for the usage\n`,
      ),
  })
  // A subcommand's options stay its own: `loadtest report --out` is not the load test's --out.
  .enablePositionalOptions()
  .exitOverride();

for (const command of commands) command.register(program);
program.on("option:version", () => {
  console.log(versionLine());
  process.exit(0);
});

const crashed = (error: unknown) => {
  void fail(error).finally(() => process.exit());
};
process.on("uncaughtException", crashed);
process.on("unhandledRejection", crashed);

try {
  await program.parseAsync(argv);
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else await fail(error);
}
