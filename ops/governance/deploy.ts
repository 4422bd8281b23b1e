import { existsSync, readFileSync } from "node:fs";
import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { getAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import { z } from "zod/v4";
import type {
  ConsortiumGovernance,
  GridAccessManager,
} from "../../types/ethers-contracts/index.js";
import type { DeploymentManifest } from "../contracts/manifest.js";
import { ROLE_IDS } from "../contracts/roles.js";
import { OperatorError } from "../errors.js";
import { writeFileAtomic } from "../fs.js";
import { addMissingAccounts, withoutAccounts } from "./accounts.js";
import type { MemberInput } from "./members.js";

/** The members' voting rules as ConsortiumGovernance takes them (consortium YAML `governance`). */
export type GovernanceParameters = {
  approvalBps: number;
  votingPeriodSeconds: number;
  executionDelaySeconds: number;
  executionWindowSeconds: number;
};

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const recordSchema = z.strictObject({
  format: z.literal("gridchain-governance/1"),
  chainId: z.number().int().positive(),
  governance: address,
  implementation: address,
  validatorSet: address,
  proxyTx: z.string(),
});
/** deployments/<network>.governance.json: where the members' governance lives. */
export type GovernanceRecord = z.infer<typeof recordSchema>;

/** The governance record beside a deployment manifest. */
export function governanceRecordPath(manifestPath: string): string {
  return manifestPath.replace(/\.json$/, "") + ".governance.json";
}

export function readGovernanceRecord(path: string): GovernanceRecord | undefined {
  if (!existsSync(path)) return undefined;
  const result = recordSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!result.success) {
    throw new OperatorError(`invalid governance record ${path}`, {
      details: result.error.issues[0]!.message,
      hint: "it is written by 'gridchain deploy'; move it aside and deploy again",
    });
  }
  return result.data;
}

export type EnsureGovernanceParams = {
  hre: HardhatRuntimeEnvironment;
  connection: NetworkConnection;
  /** Holds the manager's ADMIN role and is the validator contract's genesis controller. */
  deployer: HardhatEthersSigner;
  manifest: DeploymentManifest;
  validatorSet: string;
  parameters: GovernanceParameters;
  members: MemberInput[];
  /**
   * A pilot's opt-out (consortium YAML `governance.deployerKeepsAdmin`): the deployer keeps ADMIN
   * and UPGRADER beside the governance. Otherwise it renounces both once the governance holds them.
   */
  deployerKeepsAdmin: boolean;
  recordPath: string;
  log: (line: string) => void;
};

/**
 * Deploys ConsortiumGovernance behind a UUPS proxy (once) and wires it, in one manager multicall:
 * - ADMIN with no execution delay, to grant and revoke members' roles: the proposal's voting
 *   period and execution delay are the delay, a second one from the manager would only stack;
 * - UPGRADER, to run upgrade proposals, and GRID_OPERATOR, to register members' market zones and
 *   change grid parameters; and its own `upgradeToAndCall` restricted to UPGRADER.
 * The proxy is created with the members but without their accounts (its creation must not grow
 * with the consortium); once the governance holds its roles the deployer adds the accounts in
 * bounded batches (ops/governance/accounts.ts). Then the genesis ValidatorSet's controller (the
 * deployer) hands the set to it, and last the deployer renounces ADMIN, after which only a vote
 * could add an account. Reads first, so a second run sends nothing. Returns the transactions sent.
 */
export async function ensureGovernance(params: EnsureGovernanceParams): Promise<number> {
  const { hre, connection, deployer, manifest, log } = params;
  const { ethers } = connection;
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  if ((await ethers.provider.getCode(params.validatorSet)) === "0x") {
    log(
      `governance: no validator contract at ${params.validatorSet} (a block-header network before its transition): not deployed`,
    );
    return 0;
  }
  let sent = 0;
  let record = readGovernanceRecord(params.recordPath);
  if (record !== undefined && (await ethers.provider.getCode(record.governance)) === "0x") {
    record = undefined;
  }
  if (record === undefined) {
    const upgrades = await upgradesFor(hre, connection);
    const factory = await ethers.getContractFactory("ConsortiumGovernance", deployer);
    const proxy = await upgrades.deployProxy(
      factory,
      [
        manifest.contracts.GridAccessManager.proxy,
        params.validatorSet,
        manifest.contracts.GridReview.proxy,
        params.parameters,
        withoutAccounts(params.members),
      ],
      { kind: "uups" },
    );
    await proxy.waitForDeployment();
    const governance = getAddress(await proxy.getAddress());
    record = {
      format: "gridchain-governance/1",
      chainId,
      governance,
      implementation: getAddress(await upgrades.erc1967.getImplementationAddress(governance)),
      validatorSet: getAddress(params.validatorSet),
      proxyTx: proxy.deploymentTransaction()?.hash ?? "",
    };
    writeFileAtomic(params.recordPath, `${JSON.stringify(record, null, 2)}\n`);
    sent += 2;
    log(`governance: deployed at ${governance} with ${params.members.length} members`);
  }
  const governance = record.governance;
  const manager = (await ethers.getContractAt(
    "GridAccessManager",
    manifest.contracts.GridAccessManager.proxy,
    deployer,
  )) as unknown as GridAccessManager;
  const grants: string[] = [];
  for (const role of ["ADMIN", "UPGRADER", "GRID_OPERATOR"] as const) {
    const [member, delay] = await manager.hasRole(ROLE_IDS[role], governance);
    if (!member || delay !== 0n) {
      grants.push(
        manager.interface.encodeFunctionData("grantRole", [ROLE_IDS[role], governance, 0]),
      );
    }
  }
  const upgradeSelector = (
    await ethers.getContractFactory("ConsortiumGovernance")
  ).interface.getFunction("upgradeToAndCall")!.selector;
  if ((await manager.getTargetFunctionRole(governance, upgradeSelector)) !== ROLE_IDS.UPGRADER) {
    grants.push(
      manager.interface.encodeFunctionData("setTargetFunctionRole", [
        governance,
        [upgradeSelector],
        ROLE_IDS.UPGRADER,
      ]),
    );
  }
  if (grants.length > 0) {
    await (await manager.multicall(grants)).wait();
    sent += 1;
    log(`governance: granted ADMIN, UPGRADER and GRID_OPERATOR to ${governance}`);
  }
  // Needs the governance's ADMIN (role grants) and GRID_OPERATOR (zones), and the deployer's
  // ADMIN (the function is restricted to it): after the grants above, before the hand-over below.
  sent += await addMissingAccounts({
    governance: (await ethers.getContractAt(
      "ConsortiumGovernance",
      governance,
    )) as unknown as ConsortiumGovernance,
    deployer,
    deployerIsAdmin: (await manager.hasRole(ROLE_IDS.ADMIN, deployer.address))[0],
    members: params.members,
    log,
  });
  const set = await ethers.getContractAt("ValidatorSet", params.validatorSet, deployer);
  const controller = await set.controller();
  if (controller.toLowerCase() !== governance.toLowerCase()) {
    if (controller.toLowerCase() !== (await deployer.getAddress()).toLowerCase()) {
      throw new OperatorError(
        `the validator contract ${params.validatorSet} is controlled by ${controller}`,
        {
          details: `neither the deployer nor the governance ${governance}`,
          hint: "the set can only be handed over by its controller",
        },
      );
    }
    await (await set.setController(governance)).wait();
    sent += 1;
    log(`governance: controls the validator contract ${params.validatorSet}`);
  }
  // Never leave the manager without an admin: renounce only once the governance holds ADMIN.
  if (!params.deployerKeepsAdmin && (await manager.hasRole(ROLE_IDS.ADMIN, governance))[0]) {
    sent += await renounceDeployerRoles(manager, deployer, log);
  }
  return sent;
}

/**
 * The deployer gives up ADMIN and UPGRADER once the governance holds them, so that only a passed
 * proposal can grant a role, rewire a function or upgrade: one key no longer outranks the members'
 * vote. Run last, after every grant the deploy needed; AccessManager.renounceRole is not subject to
 * an execution delay (only the holder itself may call it), so it takes effect in this transaction.
 */
async function renounceDeployerRoles(
  manager: GridAccessManager,
  deployer: HardhatEthersSigner,
  log: (line: string) => void,
): Promise<number> {
  const held: ("UPGRADER" | "ADMIN")[] = [];
  for (const role of ["UPGRADER", "ADMIN"] as const) {
    if ((await manager.hasRole(ROLE_IDS[role], deployer.address))[0]) held.push(role);
  }
  if (held.length === 0) return 0;
  await (
    await manager.multicall(
      held.map((role) =>
        manager.interface.encodeFunctionData("renounceRole", [ROLE_IDS[role], deployer.address]),
      ),
    )
  ).wait();
  log(
    `governance: the deployer ${deployer.address} renounced ${held.join(" and ")}: roles and upgrades change by the members' vote only`,
  );
  return 1;
}

/**
 * Deploys a ValidatorSet by transaction, holding `validators` and controlled by `deployer` until
 * `gridchain deploy` hands it to the governance: the contract a block-header chain moves to through
 * a QBFT transition (its genesis cannot hold one any more).
 */
export async function deployValidatorSet(params: {
  connection: NetworkConnection;
  deployer: HardhatEthersSigner;
  validators: string[];
}): Promise<{ address: string; tx: string }> {
  const factory = await params.connection.ethers.getContractFactory(
    "ValidatorSet",
    params.deployer,
  );
  const set = await factory.deploy(params.validators, await params.deployer.getAddress());
  await set.waitForDeployment();
  return {
    address: getAddress(await set.getAddress()),
    tx: set.deploymentTransaction()?.hash ?? "",
  };
}
