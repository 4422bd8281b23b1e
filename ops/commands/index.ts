import type { Command } from "commander";
import * as init from "./init.js";
import * as generate from "./generate.js";
import * as inspect from "./inspect.js";
import * as up from "./up.js";
import * as down from "./down.js";
import * as reset from "./reset.js";
import * as status from "./status.js";
import * as demo from "./demo.js";
import * as deploy from "./deploy.js";
import * as upgrade from "./upgrade.js";
import * as exporter from "./exporter.js";
import * as monitor from "./monitor.js";
import * as loadtest from "./loadtest.js";
import * as member from "./member.js";
import * as members from "./members.js";

/** A CLI command: adds itself (name, options, example, action) to the program. */
export type CommandModule = { register(program: Command): void };

/**
 * Every command of the CLI, in the order `--help` lists them. Each lives in its own file and is
 * loaded lazily by its action so that `gridchain --help` stays fast.
 */
export const commands: CommandModule[] = [
  init,
  generate,
  member,
  inspect,
  up,
  deploy,
  upgrade,
  status,
  down,
  reset,
  exporter,
  monitor,
  demo,
  loadtest,
  members,
];
