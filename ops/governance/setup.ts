import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import { VALIDATOR_CONTRACT_ADDRESS } from "../besu/validator-contract.js";
import type { ConsortiumSpec } from "../consortium/index.js";
import type { ConsortiumAccount } from "../contracts/consortium.js";
import type { DeploymentManifest } from "../contracts/manifest.js";
import { OperatorError } from "../errors.js";
import { ensureGovernance, governanceRecordPath } from "./deploy.js";
import { votingRules } from "./parameters.js";
import { membersFromNetwork, type NodeRecord } from "./members.js";

/**
 * The validator contract a network's QBFT reads: the genesis one, or the transition's. A Clique
 * network has none.
 */
export function validatorContractOf(spec: ConsortiumSpec): string | undefined {
  if (spec.consensus.protocol !== "qbft") return undefined;
  return spec.consensus.validatorContractTransition?.address ?? VALIDATOR_CONTRACT_ADDRESS;
}

/** network/<name>/nodes.json as `generate` wrote it. */
export function readNodes(networkDir: string): NodeRecord[] {
  const path = join(networkDir, "nodes.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as NodeRecord[];
  } catch (error) {
    throw new OperatorError(`cannot read ${path}`, {
      details: (error as Error).message,
      hint: "run 'gridchain generate' first",
    });
  }
}

/** `gridchain deploy`'s governance step: the consortium's members and voting rules from the YAML. */
export async function deployGovernanceFor(params: {
  hre: HardhatRuntimeEnvironment;
  connection: NetworkConnection;
  deployer: HardhatEthersSigner;
  spec: ConsortiumSpec;
  networkDir: string;
  accounts: ConsortiumAccount[];
  manifest: DeploymentManifest;
  manifestPath: string;
  log: (line: string) => void;
}): Promise<number> {
  const validatorSet = validatorContractOf(params.spec);
  if (validatorSet === undefined) return 0;
  let members;
  try {
    members = membersFromNetwork(params.spec, params.accounts, readNodes(params.networkDir));
  } catch (error) {
    if (!(error instanceof OperatorError)) throw error;
    // The market works without it; say why the members cannot vote yet.
    params.log(`governance: not deployed: ${error.message} (${error.hint ?? ""})`);
    return 0;
  }
  return ensureGovernance({
    hre: params.hre,
    connection: params.connection,
    deployer: params.deployer,
    manifest: params.manifest,
    validatorSet,
    parameters: votingRules(params.spec),
    members,
    deployerKeepsAdmin: params.spec.governance.deployerKeepsAdmin,
    recordPath: governanceRecordPath(params.manifestPath),
    log: params.log,
  });
}
