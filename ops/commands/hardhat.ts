import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import type { ConsortiumAccount } from "../contracts/consortium.js";
import { OperatorError } from "../errors.js";
import type { ChainContext } from "./context.js";

/** Hardhat connected to the running engine, with the named consortium accounts as signers. */
export type ChainSession = {
  hre: HardhatRuntimeEnvironment;
  connection: NetworkConnection;
  accounts: ConsortiumAccount[];
  /** Signers by account id (only those whose keys were asked for). */
  signers: Map<string, HardhatEthersSigner>;
  manifestPath: string;
};

/** The consortium's accounts as `generate` wrote them. */
export function readAccounts(networkDir: string): ConsortiumAccount[] {
  const path = join(networkDir, "accounts.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ConsortiumAccount[];
  } catch (cause) {
    throw new OperatorError(`cannot read ${path}`, {
      details: (cause as Error).message,
      hint: "run 'gridchain generate' first",
      cause,
    });
  }
}

/**
 * Loads Hardhat (compiling first, so artifacts always match the sources) and connects it to the
 * engine's RPC with the private keys of the given account ids. Keys are read from
 * network/<name>/accounts/<id>.key and handed to Hardhat only; they are never printed.
 */
export async function openSession(
  context: ChainContext,
  ids: string[],
  options: { compile?: boolean } = {},
): Promise<ChainSession> {
  const accounts = readAccounts(context.networkDir);
  const keys = ids.map((id) => readAccountKey(context.networkDir, id));
  const { default: hre } = await import("hardhat");
  if (options.compile !== false) {
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
  }
  const connection = await hre.network.create({
    network: "embedded",
    override: {
      url: context.engine.rpcUrl(),
      httpHeaders: context.engine.rpcHeaders(),
      accounts: keys,
    },
  });
  const signers = new Map<string, HardhatEthersSigner>();
  for (const id of ids) {
    const account = accounts.find((candidate) => candidate.id === id);
    if (account === undefined) {
      throw new OperatorError(
        `account ${id} is not in ${join(context.networkDir, "accounts.json")}`,
        {
          hint: "run 'gridchain generate' again",
        },
      );
    }
    signers.set(id, await connection.ethers.getSigner(account.address));
  }
  return { hre, connection, accounts, signers, manifestPath: context.manifestPath };
}

/** An account's private key from network/<name>/accounts/<id>.key (0x-prefixed); never printed. */
export function readAccountKey(networkDir: string, id: string): string {
  const path = join(networkDir, "accounts", `${id}.key`);
  if (!existsSync(path)) {
    throw new OperatorError(`no key for account ${id}`, {
      details: `${path} is missing`,
      hint: "run 'gridchain generate' to create the consortium's keys",
    });
  }
  const key = readFileSync(path, "utf8").trim();
  return key.startsWith("0x") ? key : `0x${key}`;
}

/** The id of the first account with a role (e.g. the grid operator's `grid-operator`). */
export function accountId(accounts: ConsortiumAccount[], role: ConsortiumAccount["role"]): string {
  const found = accounts.find((account) => account.role === role);
  if (found === undefined) {
    throw new OperatorError(`the consortium has no ${role} account`, {
      hint: "check the organisations and accounts of the consortium file, then run 'gridchain generate'",
    });
  }
  return found.id;
}

/** Fails with one line when the engine does not answer. */
export async function requireRunning(context: ChainContext): Promise<void> {
  const status = await context.engine.status();
  if (!status.running) {
    throw new OperatorError(`the ${context.kind} chain is not running`, {
      details: status.problem,
      hint: "start it with 'gridchain up'",
    });
  }
}
