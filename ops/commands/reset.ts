import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import { chainOptions, recordedContext, type ChainOptions } from "./context.js";
import { chainEvidence, retireChain } from "./lifecycle.js";

type ResetOptions = ChainOptions & { yes: boolean; delete: boolean };

/** `gridchain reset`: back to a clean slate on the same genesis. */
export function register(program: Command): void {
  chainOptions(
    program
      .command("reset")
      .description(
        "stop the chain and start over from its genesis: archives its state, deployment manifest and client stores",
      ),
  )
    .option("--yes", "do not ask for confirmation", false)
    .option("--delete", "delete instead of archiving", false)
    .addHelpText("after", "\nExamples:\n  gridchain reset\n  gridchain reset --yes --delete")
    .action(async (options: ResetOptions) => {
      for (const line of await reset(options, ask)) console.log(line);
    });
}

/**
 * Stops the chain, then archives (or deletes) what belongs to it: the embedded engine's saves (the
 * besu engine's data volumes are removed), the engine record, the deployment manifest and every
 * channel store. Keys, genesis and node files stay: the next `up` starts the same genesis afresh.
 */
export async function reset(
  options: ResetOptions,
  confirm: (question: string) => Promise<boolean>,
): Promise<string[]> {
  const { engine, kind, networkDir, manifestPath } = await recordedContext(options);
  const evidence = chainEvidence(networkDir, manifestPath);
  const status = await engine.status().catch(() => undefined);
  if (!options.yes) {
    const what = [
      ...evidence,
      ...(kind === "besu" ? ["the nodes' Docker data volumes (always deleted)"] : []),
    ];
    const question =
      `This ends the ${kind} chain of ${networkDir}` +
      (status?.running === true ? ` (running, block ${status.height ?? "?"})` : "") +
      `: ${options.delete ? "deletes" : "archives"} ${what.length === 0 ? "nothing" : what.join(", ")}. Continue? [y/N] `;
    if (!(await confirm(question))) {
      throw new OperatorError("reset cancelled: nothing changed");
    }
  }
  const lines: string[] = [];
  if (status?.running === true) {
    await engine.down();
    lines.push(`stopped the ${kind} chain at block ${status.height ?? "?"}`);
  }
  if (kind === "besu") {
    const { BesuEngine } = await import("../engines/besu.js");
    if (engine instanceof BesuEngine) {
      const removed = await engine.eraseChainData();
      if (removed.length > 0) lines.push(`removed ${removed.length} data volumes`);
    }
  }
  const { moved, archive } = retireChain(networkDir, manifestPath, { archive: !options.delete });
  lines.push(
    moved.length === 0
      ? "nothing to clear: no saved state, manifest or channel store"
      : archive === undefined
        ? `deleted ${moved.join(", ")}`
        : `archived to ${archive}: ${moved.join(", ")}`,
  );
  lines.push(
    "the next 'gridchain up' starts the chain afresh from its genesis; 'gridchain deploy' (or 'npm start') deploys the market again",
  );
  return lines;
}

/** Asks on the terminal; without one, there is nobody to answer, so `--yes` is needed. */
async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new OperatorError("reset asks for confirmation, and there is no terminal to ask on", {
      hint: "pass --yes",
    });
  }
  const { createInterface } = await import("node:readline/promises");
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}
