import { execFile } from "node:child_process";
import { resolve as resolvePath } from "node:path";

export type CliRun = { code: number; stdout: string; stderr: string };

/** Runs the CLI as an operator would: a child process, its exit code and both streams. */
export function gridchain(...args: string[]): Promise<CliRun> {
  return gridchainIn(process.cwd(), ...args);
}

/** Runs the CLI from `cwd`: its default paths (network/, deployments/) are relative to it. */
export function gridchainIn(cwd: string, ...args: string[]): Promise<CliRun> {
  const cli = resolvePath("ops/bin/gridchain");
  return new Promise((resolve) => {
    execFile(cli, args, { timeout: 180_000, cwd }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A small consortium on the embedded engine: one grid validator, one producer organisation,
 * `producers` and `consumers` trading accounts, two zones, 1 s blocks.
 */
export function smallConsortiumYaml(options: {
  name: string;
  chainId: number;
  port: number;
  producers: number;
  consumers: number;
  zoneKw: number;
  slotSeconds?: number;
  startingCredits: { consumer: string; producer?: string };
  /** A pilot's opt-out: the deployer keeps ADMIN and UPGRADER beside the members' governance. */
  deployerKeepsAdmin?: boolean;
}): string {
  const { name, chainId, port, producers, consumers, zoneKw, slotSeconds } = options;
  const credits = Object.entries(options.startingCredits)
    .map(([role, amount]) => `    ${role}: "${amount}"`)
    .join("\n");
  return `name: ${name}
chainId: ${chainId}
consensus:
  blockPeriodSeconds: 1
organisations:
  - id: grid
    role: grid-operator
    zone: north
    validators: 1
  - id: solar
    role: producer
    zone: south
    validators: 1
accounts:
  producers: ${producers}
  consumers: ${consumers}
market:
${slotSeconds === undefined ? "" : `  slotSeconds: ${slotSeconds}\n`}  zones:
    - { id: north, importKw: ${zoneKw}, exportKw: ${zoneKw} }
    - { id: south, importKw: ${zoneKw}, exportKw: ${zoneKw} }
  startingCredits:
${credits}
${options.deployerKeepsAdmin === true ? "governance: { deployerKeepsAdmin: true }\n" : ""}engine:
  embedded:
    port: ${port}
`;
}
