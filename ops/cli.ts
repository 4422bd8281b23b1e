import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { OperatorError } from "./errors.js";

const program = new Command()
  .name("gridchain")
  .description("Stand up and run a permissioned energy-trading consortium on Hyperledger Besu")
  .showHelpAfterError()
  .exitOverride();

for (const command of commands) command.register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (error instanceof OperatorError) {
    console.error(`gridchain: ${error.oneLine()}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
