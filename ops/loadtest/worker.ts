/**
 * A load-test worker: a process (or a container) holding a share of the agents. It reads one
 * ToWorker object per line on stdin and writes one FromWorker object per line on stdout; stderr is
 * its log. Keys arrive in the init message on stdin, never in arguments or environment, so they
 * show in no process list and no `docker inspect`.
 */
import { createInterface } from "node:readline";
import { Agents } from "./agents.js";
import type { FromWorker, ToWorker } from "./protocol.js";

function emit(message: FromWorker): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function fatal(error: unknown): void {
  emit({ type: "fatal", message: error instanceof Error ? error.message : String(error) });
}

let agents: Agents | undefined;

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case "init":
      agents = new Agents(message, emit);
      await agents.start();
      return;
    case "setup":
      await agents!.setup();
      return;
    case "offers":
      await agents!.publishOffers(message);
      return;
    case "trade":
      agents!.trade(message);
      return;
    case "reviewed":
      agents!.reviewed(message.trade, message);
      return;
    case "stop":
      await agents?.stop();
      process.stdout.end(() => process.exit(0));
      return;
    default:
      agents!.payments.handle(message);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  let message: ToWorker;
  try {
    message = JSON.parse(line) as ToWorker;
  } catch {
    fatal(new Error(`not a JSON line: ${line.slice(0, 80)}`));
    return;
  }
  handle(message).catch(fatal);
});
// The coordinator went away: nothing will read what this worker says.
lines.on("close", () => {
  void (agents?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
