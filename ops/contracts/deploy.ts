import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { isAddress, type Interface, type TransactionResponse } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import { MAX_SETTLE_TIMEOUT_SECONDS, MIN_SETTLE_TIMEOUT_SECONDS } from "../consortium/index.js";
import { OperatorError } from "../errors.js";
import type { DeployedContract, DeploymentManifest } from "./manifest.js";
import { writeManifest } from "./manifest.js";
import { MAX_MEDIATION_FEE_PER_KWH } from "../channels/locks.js";
import {
  MARKET_CONTRACTS,
  ROLE_IDS,
  ROLE_TABLE,
  type MarketContractName,
  type RoleName,
} from "./roles.js";

/** A 0x-prefixed 20-byte hex address. */
export type Address = `0x${string}`;

/** Energy in watt-hours. */
export type Wh = bigint;

/** How orders are approved; mirrors GridReview.ReviewMode. */
export type ReviewMode = "auto" | "manual" | "manualAbove";
const REVIEW_MODE_IDS: Record<ReviewMode, number> = { auto: 0, manual: 1, manualAbove: 2 };

/** The grid's initial security parameters (zones and capacities are set later by the grid operator). */
export type ReviewParameters = {
  /** Length of a delivery slot in seconds, fixed for the deployment's life (e.g. 900). */
  slotSeconds: number;
  maxOrderWh: Wh;
  maxParticipantSlotWh: Wh;
  mode: ReviewMode;
  /** Orders above this go to the grid operator when `mode` is "manualAbove". */
  manualThresholdWh: Wh;
};

/** Who holds which role after the deploy. The deployer is the initial admin. */
export type RoleAccounts = {
  /** The consortium's admin; defaults to the deployer, who hands the role over and renounces it. */
  admin?: Address;
  upgraders: Address[];
  /** Execution delay of the upgrader role in seconds: upgrades are scheduled, then executed. */
  upgraderDelaySeconds: number;
  /**
   * Delay in seconds on everything the admin does: its execution delay, the admin delay of every
   * managed contract (the manager included) and the grant delay of the ADMIN and UPGRADER roles.
   * Defaults to `upgraderDelaySeconds`: an admin without delay could hand itself the upgrade
   * selector and upgrade at once, so the upgrade delay would bind the upgrader only.
   */
  adminDelaySeconds?: number;
  gridOperators: Address[];
  meters: Address[];
  producers: Address[];
  consumers: Address[];
};

export type DeployMarketParams = {
  hre: HardhatRuntimeEnvironment;
  /** The network to deploy on: in-process (edr) or a JSON-RPC endpoint such as anvil. */
  connection: NetworkConnection;
  /** Sends every deploy transaction; defaults to the connection's first account. */
  deployer?: HardhatEthersSigner;
  roles: RoleAccounts;
  review: ReviewParameters;
  /**
   * Payment channels: the settle timeout a newly opened channel gets (seconds, >= 60), and the hub's
   * mediation fee in credit base units per kWh (off chain, recorded for the hub; default 0).
   */
  channels: { settleTimeoutSeconds: number; mediationFeePerKwh?: bigint };
  /** When set, the manifest is written here (atomically). */
  manifestPath?: string;
};

export type UpgradeMarketContractParams = {
  hre: HardhatRuntimeEnvironment;
  connection: NetworkConnection;
  manifest: DeploymentManifest;
  contract: MarketContractName;
  /** Name of the new implementation's artifact. */
  implementation: string;
  /** An account holding the UPGRADER role; defaults to the connection's first account. */
  upgrader?: HardhatEthersSigner;
  manifestPath?: string;
};

export type UpgradeResult =
  | { status: "upgraded"; implementation: Address; tx: string; manifest: DeploymentManifest }
  /** The proxy already runs this code: nothing was sent, the manifest is left as it is. */
  | { status: "unchanged"; implementation: Address; manifest: DeploymentManifest }
  | {
      status: "scheduled";
      implementation: Address;
      operationId: string;
      /** Unix time (seconds) from which calling `upgradeMarketContract` again executes it. */
      executableAt: number;
      tx: string;
      manifest: DeploymentManifest;
    };

/**
 * Deploys the market as five UUPS proxies (manager, credit, review, market, channels), each created with its
 * initialize calldata, points the review and the channels' locks at the market, wires every restricted selector of
 * {@link ROLE_TABLE} and grants the roles in one multicall on the manager. Returns the manifest and
 * writes it when `manifestPath` is given.
 */
export async function deployMarket(params: DeployMarketParams): Promise<DeploymentManifest> {
  const { hre, connection } = params;
  const { ethers } = connection;
  const upgrades = await upgradesFor(hre, connection);
  const deployer = params.deployer ?? (await firstSigner(connection));
  const deployerAddress = (await deployer.getAddress()) as Address;

  validateDeployParams(params);
  const deployProxy = async (
    name: MarketContractName,
    args: unknown[],
  ): Promise<DeployedContract> => {
    const factory = await ethers.getContractFactory(name, deployer);
    const implDeploy = await upgrades.deployImplementation(factory, {
      kind: "uups",
      getTxResponse: true,
    });
    const implementationTx = typeof implDeploy === "string" ? null : implDeploy.hash;
    if (typeof implDeploy !== "string") await implDeploy.wait();
    const proxy = await upgrades.deployProxy(factory, args, { kind: "uups" });
    await proxy.waitForDeployment();
    const proxyAddress = (await proxy.getAddress()) as Address;
    const proxyTx = proxy.deploymentTransaction()?.hash;
    if (proxyTx === undefined) throw new Error(`no deployment transaction for the ${name} proxy`);
    const implementation = await upgrades.erc1967.getImplementationAddress(proxyAddress);
    return { contractName: name, proxy: proxyAddress, implementation, proxyTx, implementationTx };
  };

  const manager = await deployProxy("GridAccessManager", [deployerAddress]);
  const credit = await deployProxy("GridCredit", [manager.proxy]);
  const { review: p } = params;
  const review = await deployProxy("GridReview", [
    manager.proxy,
    p.slotSeconds,
    p.maxOrderWh,
    p.maxParticipantSlotWh,
    REVIEW_MODE_IDS[p.mode],
    p.manualThresholdWh,
  ]);
  const market = await deployProxy("EnergyMarket", [manager.proxy, credit.proxy, review.proxy]);
  const channels = await deployProxy("PaymentChannels", [
    manager.proxy,
    credit.proxy,
    params.channels.settleTimeoutSeconds,
  ]);
  const records: Record<MarketContractName, DeployedContract> = {
    GridAccessManager: manager,
    GridCredit: credit,
    GridReview: review,
    EnergyMarket: market,
    PaymentChannels: channels,
  };

  const reviewContract = await ethers.getContractAt("GridReview", review.proxy, deployer);
  const setMarketTx = await reviewContract.setMarket(market.proxy);
  await setMarketTx.wait();
  const channelsContract = await ethers.getContractAt("PaymentChannels", channels.proxy, deployer);
  const setLockMarketTx = await channelsContract.setLockMarket(market.proxy);
  await setLockMarketTx.wait();

  const managerContract = await ethers.getContractAt("GridAccessManager", manager.proxy, deployer);
  const calls = await wiringCalls(connection, records, params.roles, deployerAddress);
  const wiringTx = await managerContract.multicall(calls);
  await wiringTx.wait();

  const { chainId } = await ethers.provider.getNetwork();
  const manifest: DeploymentManifest = {
    format: "gridchain-deployment/1",
    network: connection.networkName,
    chainId: Number(chainId),
    deployer: deployerAddress,
    contracts: records,
    roles: {
      admin: params.roles.admin ?? deployerAddress,
      upgraders: params.roles.upgraders,
      upgraderDelaySeconds: params.roles.upgraderDelaySeconds,
      adminDelaySeconds: adminDelayOf(params.roles),
      gridOperators: params.roles.gridOperators,
      meters: params.roles.meters,
      producers: params.roles.producers,
      consumers: params.roles.consumers,
    },
    review: {
      slotSeconds: p.slotSeconds,
      maxOrderWh: p.maxOrderWh.toString(),
      maxParticipantSlotWh: p.maxParticipantSlotWh.toString(),
      mode: p.mode,
      manualThresholdWh: p.manualThresholdWh.toString(),
    },
    channels: {
      settleTimeoutSeconds: params.channels.settleTimeoutSeconds,
      mediationFeePerKwh: (params.channels.mediationFeePerKwh ?? 0n).toString(),
    },
    transactions: { setMarket: setMarketTx.hash, wiring: wiringTx.hash },
    upgrades: [],
  };
  if (params.manifestPath !== undefined) await writeManifest(params.manifestPath, manifest);
  return manifest;
}

/**
 * Upgrades one proxy of a deployment after the plugin's validation (storage layout, unsafe code)
 * and deployment of the new implementation. An upgrader without execution delay upgrades at once.
 * With a delay the upgrade is scheduled on the manager; calling again with the same arguments
 * executes it once due (before that it fails with the time it becomes executable).
 */
export async function upgradeMarketContract(
  params: UpgradeMarketContractParams,
): Promise<UpgradeResult> {
  const { hre, connection, manifest } = params;
  const { ethers } = connection;
  const upgrades = await upgradesFor(hre, connection);
  const upgrader = params.upgrader ?? (await firstSigner(connection));
  const upgraderAddress = await upgrader.getAddress();
  const current = manifest.contracts[params.contract];
  const managerContract = await ethers.getContractAt(
    "GridAccessManager",
    manifest.contracts.GridAccessManager.proxy,
    upgrader,
  );
  const [isUpgrader, delay] = await managerContract.hasRole(ROLE_IDS.UPGRADER, upgraderAddress);
  if (!isUpgrader) {
    throw new OperatorError(`${upgraderAddress} does not hold the UPGRADER role`, {
      details: `manager ${manifest.contracts.GridAccessManager.proxy}, contract ${params.contract}`,
      hint: "upgrade with one of the manifest's roles.upgraders",
    });
  }

  // A later process (or another machine) has no plugin record of the proxy: import the current
  // implementation first so the storage-layout check compares against what is really deployed.
  const currentFactory = await ethers.getContractFactory(current.contractName, upgrader);
  await upgrades.forceImport(current.proxy, currentFactory, { kind: "uups" });
  const factory = await ethers.getContractFactory(params.implementation, upgrader);
  const prepared = await upgrades.prepareUpgrade(current.proxy, factory, { kind: "uups" });
  const implementation = (
    typeof prepared === "string" ? prepared : await implFromTx(prepared)
  ) as Address;
  const running = await upgrades.erc1967.getImplementationAddress(current.proxy);
  if (running.toLowerCase() === implementation.toLowerCase()) {
    return { status: "unchanged", implementation, manifest };
  }
  const data = factory.interface.encodeFunctionData("upgradeToAndCall", [implementation, "0x"]);

  const record = (tx: string, scheduleTx: string | null): DeploymentManifest => ({
    ...manifest,
    contracts: {
      ...manifest.contracts,
      [params.contract]: { ...current, contractName: params.implementation, implementation },
    },
    upgrades: [
      ...manifest.upgrades,
      {
        contract: params.contract,
        contractName: params.implementation,
        previousImplementation: current.implementation,
        implementation,
        tx,
        scheduleTx,
      },
    ],
  });
  const finish = async (tx: TransactionResponse, scheduleTx: string | null) => {
    await tx.wait();
    const updated = record(tx.hash, scheduleTx);
    if (params.manifestPath !== undefined) await writeManifest(params.manifestPath, updated);
    return { status: "upgraded" as const, implementation, tx: tx.hash, manifest: updated };
  };

  if (delay === 0n)
    return finish(await upgrader.sendTransaction({ to: current.proxy, data }), null);

  const operationId = await managerContract.hashOperation(upgraderAddress, current.proxy, data);
  const scheduledFor = await managerContract.getSchedule(operationId);
  if (scheduledFor === 0n) {
    const scheduleTx = await managerContract.schedule(current.proxy, data, 0);
    await scheduleTx.wait();
    const executableAt = Number(await managerContract.getSchedule(operationId));
    return {
      status: "scheduled",
      implementation,
      operationId,
      executableAt,
      tx: scheduleTx.hash,
      manifest,
    };
  }
  const latest = await ethers.provider.getBlock("latest");
  if (latest === null || BigInt(latest.timestamp) < scheduledFor) {
    throw new OperatorError(`the upgrade of ${params.contract} is not due yet`, {
      details: `operation ${operationId} becomes executable at ${new Date(Number(scheduledFor) * 1000).toISOString()}`,
      hint: "run the upgrade again after that time",
    });
  }
  return finish(await managerContract.execute(current.proxy, data), null);
}

const UINT32_MAX = 2 ** 32 - 1;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Checks the parameters before anything is sent, so a mistake never leaves half a deployment: one
 * error names the parameter and what is allowed.
 */
function validateDeployParams(params: DeployMarketParams): void {
  const fail = (path: string, allowed: string, value: unknown): never => {
    throw new OperatorError(`invalid deploy parameter ${path}`, {
      details: `got ${typeof value === "bigint" ? value.toString() : JSON.stringify(value)}; allowed: ${allowed}`,
    });
  };
  const { roles, review } = params;
  if (roles.admin !== undefined && !isAddress(roles.admin))
    fail("roles.admin", "an address", roles.admin);
  for (const key of ["upgraders", "gridOperators", "meters", "producers", "consumers"] as const) {
    roles[key].forEach((account, i) => {
      if (!isAddress(account)) fail(`roles.${key}[${i}]`, "an address", account);
    });
  }
  for (const key of ["upgraderDelaySeconds", "adminDelaySeconds"] as const) {
    const value = roles[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX)
      fail(`roles.${key}`, `an integer from 0 to ${UINT32_MAX}`, value);
  }
  if (
    !Number.isInteger(review.slotSeconds) ||
    review.slotSeconds < 1 ||
    review.slotSeconds > UINT32_MAX
  )
    fail("review.slotSeconds", `an integer from 1 to ${UINT32_MAX}`, review.slotSeconds);
  const { settleTimeoutSeconds } = params.channels;
  if (
    !Number.isInteger(settleTimeoutSeconds) ||
    settleTimeoutSeconds < MIN_SETTLE_TIMEOUT_SECONDS ||
    settleTimeoutSeconds > MAX_SETTLE_TIMEOUT_SECONDS
  )
    fail(
      "channels.settleTimeoutSeconds",
      `an integer from ${MIN_SETTLE_TIMEOUT_SECONDS} to ${MAX_SETTLE_TIMEOUT_SECONDS} (PaymentChannels.MIN_SETTLE_TIMEOUT to MAX_SETTLE_TIMEOUT)`,
      settleTimeoutSeconds,
    );
  const fee = params.channels.mediationFeePerKwh ?? 0n;
  if (fee < 0n || fee > MAX_MEDIATION_FEE_PER_KWH)
    fail(
      "channels.mediationFeePerKwh",
      `0 to ${MAX_MEDIATION_FEE_PER_KWH} credit base units per kWh (1 credit)`,
      fee,
    );
  for (const key of ["maxOrderWh", "maxParticipantSlotWh", "manualThresholdWh"] as const) {
    if (review[key] < 0n || review[key] > UINT64_MAX)
      fail(`review.${key}`, `0 to ${UINT64_MAX} Wh`, review[key]);
  }
  if (!(review.mode in REVIEW_MODE_IDS))
    fail("review.mode", Object.keys(REVIEW_MODE_IDS).join(", "), review.mode);
}

/** The manager calls that wire every table row and grant every role, in one multicall. */
async function wiringCalls(
  connection: NetworkConnection,
  records: Record<MarketContractName, DeployedContract>,
  roles: RoleAccounts,
  deployer: Address,
): Promise<string[]> {
  const { ethers } = connection;
  const managerInterface = (await ethers.getContractFactory("GridAccessManager")).interface;
  const interfaces = Object.fromEntries(
    await Promise.all(
      MARKET_CONTRACTS.map(
        async (name) => [name, (await ethers.getContractFactory(name)).interface] as const,
      ),
    ),
  ) as Record<
    MarketContractName,
    Awaited<ReturnType<typeof ethers.getContractFactory>>["interface"]
  >;

  const calls: string[] = [];
  for (const [name, id] of Object.entries(ROLE_IDS) as [RoleName, bigint][]) {
    if (id !== ROLE_IDS.ADMIN)
      calls.push(managerInterface.encodeFunctionData("labelRole", [id, name]));
  }
  for (const rule of ROLE_TABLE) {
    const selectors = rule.functions.map((fn) => {
      const fragment = interfaces[rule.contract].getFunction(fn);
      if (fragment === null)
        throw new Error(`${rule.contract} has no function ${fn} (ops/contracts/roles.ts)`);
      return fragment.selector;
    });
    calls.push(
      managerInterface.encodeFunctionData("setTargetFunctionRole", [
        records[rule.contract].proxy,
        selectors,
        ROLE_IDS[rule.role],
      ]),
    );
  }
  const grant = (role: RoleName, accounts: Address[], delay = 0) => {
    for (const account of new Set(accounts)) {
      calls.push(
        managerInterface.encodeFunctionData("grantRole", [ROLE_IDS[role], account, delay]),
      );
    }
  };
  grant("UPGRADER", roles.upgraders, roles.upgraderDelaySeconds);
  grant("GRID_OPERATOR", roles.gridOperators);
  grant("METER", roles.meters);
  grant("PRODUCER", roles.producers);
  grant("CONSUMER", roles.consumers);
  // Last, because from here on every admin call of this multicall would have to be scheduled.
  // The admin's execution delay binds at once; target admin delays and grant delays take effect
  // after the manager's minSetback (5 days), so they guard against a later admin granted without
  // delay (OpenZeppelin's AccessManager._getAdminRestrictions says which admin call waits for which).
  const adminDelay = adminDelayOf(roles);
  if (adminDelay > 0) {
    for (const name of MARKET_CONTRACTS) {
      calls.push(
        managerInterface.encodeFunctionData("setTargetAdminDelay", [
          records[name].proxy,
          adminDelay,
        ]),
      );
    }
    for (const role of ["ADMIN", "UPGRADER"] as const)
      calls.push(
        managerInterface.encodeFunctionData("setGrantDelay", [ROLE_IDS[role], adminDelay]),
      );
  }
  const admin = roles.admin ?? deployer;
  const handOver = admin.toLowerCase() !== deployer.toLowerCase();
  if (handOver || adminDelay > 0) grant("ADMIN", [admin], adminDelay);
  if (handOver)
    calls.push(managerInterface.encodeFunctionData("renounceRole", [ROLE_IDS.ADMIN, deployer]));
  return calls;
}

function adminDelayOf(roles: RoleAccounts): number {
  return roles.adminDelaySeconds ?? roles.upgraderDelaySeconds;
}

async function firstSigner(connection: NetworkConnection): Promise<HardhatEthersSigner> {
  const [signer] = await connection.ethers.getSigners();
  if (signer === undefined) {
    throw new OperatorError(`network ${connection.networkName} has no accounts to deploy from`, {
      hint: "configure accounts for the network or pass a deployer",
    });
  }
  return signer;
}

async function implFromTx(tx: {
  wait(): Promise<{ contractAddress?: string | null } | null>;
}): Promise<string> {
  const receipt = await tx.wait();
  if (!receipt?.contractAddress)
    throw new Error("the implementation deployment created no contract");
  return receipt.contractAddress;
}
