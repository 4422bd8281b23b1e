import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { getAddress, ZeroHash, type TransactionResponse } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import type { ConsortiumSpec } from "../consortium/index.js";
import type { GridAccessManager } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import {
  deployMarket,
  upgradeMarketContract,
  type Address,
  type ReviewParameters,
} from "./deploy.js";
import type { DeploymentManifest } from "./manifest.js";
import { MARKET_CONTRACTS, ROLE_IDS, type RoleName } from "./roles.js";

/** Transactions of one signer in flight at once; the node pools the ones that arrive early. */
const SEND_WINDOW = 100;
/** A mint to a new holder costs about 78k gas; a fixed limit spares an estimate per mint. */
const MINT_GAS = 150_000n;

/** One line of network/<name>/accounts.json. */
export type ConsortiumAccount = {
  id: string;
  address: Address;
  role: "deployer" | "grid-operator" | "meter" | "producer" | "consumer";
  organisation: string;
  zone: string;
};

/** What the consortium file asks of the market: pure data derived from the spec and the accounts. */
export type MarketSetup = {
  review: ReviewParameters;
  upgraderDelaySeconds: number;
  settleTimeoutSeconds: number;
  /** The hub's mediation fee, credit base units per kWh. */
  mediationFeePerKwh: bigint;
  /** Role -> accounts, deployer excluded (it is admin and upgrader). */
  roles: Record<Exclude<RoleName, "ADMIN">, Address[]>;
  /** Zone id of the YAML -> numeric zone of GridReview (1-based, YAML order). */
  zoneIds: Record<string, number>;
  /** Every trading account (producers, consumers) and its numeric zone. */
  participantZones: { account: Address; zone: number }[];
  /** Numeric zone -> line capacities in W. */
  capacities: { zone: number; exportW: bigint; importW: bigint }[];
  /** What booking costs (GridCredit base units per kWh): line capacity fee and least default. */
  charges: { capacityFeePerKwh: bigint; minDefaultPerKwh: bigint };
  /** Starting GridCredit (base units) per account, minted when the account first gets its role. */
  credits: { account: Address; amount: bigint }[];
};

/** Derives the market's setup from the consortium file and its generated accounts. */
export function marketSetup(spec: ConsortiumSpec, accounts: ConsortiumAccount[]): MarketSetup {
  const { market } = spec;
  const zoneIds = Object.fromEntries(market.zones.map((zone, index) => [zone.id, index + 1]));
  const byRole = (role: ConsortiumAccount["role"]) =>
    accounts.filter((account) => account.role === role).map((account) => account.address);
  const deployer = byRole("deployer")[0];
  const credits: MarketSetup["credits"] = [];
  for (const account of accounts) {
    const amount =
      account.role === "producer"
        ? market.startingCredits.producer
        : account.role === "consumer"
          ? market.startingCredits.consumer
          : account.role === "grid-operator"
            ? market.startingCredits.gridOperator
            : 0n;
    if (amount > 0n) credits.push({ account: account.address, amount });
  }
  return {
    review: {
      slotSeconds: market.slotSeconds,
      maxOrderWh: BigInt(market.maxKwhPerOrder) * 1000n,
      maxParticipantSlotWh: BigInt(market.maxKwhPerParticipantPerSlot) * 1000n,
      mode: market.reviewMode === "threshold" ? "manualAbove" : market.reviewMode,
      manualThresholdWh: BigInt(market.manualAboveKwh ?? 0) * 1000n,
    },
    upgraderDelaySeconds: market.upgradeDelaySeconds,
    settleTimeoutSeconds: market.channelSettleTimeoutSeconds,
    mediationFeePerKwh: market.hubMediationFeePerKwh,
    roles: {
      UPGRADER: deployer === undefined ? [] : [deployer],
      GRID_OPERATOR: byRole("grid-operator"),
      METER: byRole("meter"),
      PRODUCER: byRole("producer"),
      CONSUMER: byRole("consumer"),
    },
    zoneIds,
    participantZones: accounts
      .filter((account) => account.role === "producer" || account.role === "consumer")
      .map((account) => ({ account: account.address, zone: zoneIds[account.zone] ?? 0 })),
    capacities: market.zones.map((zone, index) => ({
      zone: index + 1,
      exportW: BigInt(zone.exportKw) * 1000n,
      importW: BigInt(zone.importKw) * 1000n,
    })),
    charges: {
      capacityFeePerKwh: market.capacityFeePerKwh,
      minDefaultPerKwh: market.minDefaultPerKwh,
    },
    credits,
  };
}

export type EnsureDeployedParams = {
  hre: HardhatRuntimeEnvironment;
  connection: NetworkConnection;
  deployer: HardhatEthersSigner;
  gridOperator: HardhatEthersSigner;
  setup: MarketSetup;
  /** The manifest already written for this network, if any. */
  existing: DeploymentManifest | undefined;
  manifestPath: string;
  /** Receives one line per change made. */
  log: (line: string) => void;
};

export type EnsureDeployedResult = {
  manifest: DeploymentManifest;
  /** Transactions sent by this run (0 = nothing changed). */
  transactions: number;
};

/**
 * Brings the chain to what the consortium file asks: deploys the market when there is no
 * manifest; otherwise upgrades each contract whose compiled code differs from its implementation
 * on chain. Then grants missing roles, sets participant zones, line capacities, limits, review
 * mode, capacity fee and least default where they differ, and mints the starting credits of accounts that got their role in this
 * run. Reads before it writes, so a second run sends nothing.
 */
export async function ensureDeployed(params: EnsureDeployedParams): Promise<EnsureDeployedResult> {
  const { hre, connection, deployer, gridOperator, setup, manifestPath, log } = params;
  const { ethers } = connection;
  let sent = 0;
  /**
   * Sends one signer's transactions with consecutive nonces, SEND_WINDOW at a time (not one round
   * trip each: 3000 mints would take a minute), then waits for all.
   */
  const batch = async (
    signer: HardhatEthersSigner,
    sends: ((overrides: { nonce: number }) => Promise<TransactionResponse>)[],
  ) => {
    const nonce = await signer.getNonce("pending");
    const responses: TransactionResponse[] = [];
    for (let start = 0; start < sends.length; start += SEND_WINDOW) {
      const window = sends.slice(start, start + SEND_WINDOW);
      responses.push(
        ...(await Promise.all(window.map((send, i) => send({ nonce: nonce + start + i })))),
      );
    }
    await Promise.all(responses.map((tx) => tx.wait()));
    sent += responses.length;
  };

  let manifest = params.existing;
  const fresh = manifest === undefined;
  if (manifest === undefined) {
    manifest = await deployMarket({
      hre,
      connection,
      deployer,
      roles: {
        upgraders: setup.roles.UPGRADER,
        upgraderDelaySeconds: setup.upgraderDelaySeconds,
        gridOperators: setup.roles.GRID_OPERATOR,
        meters: setup.roles.METER,
        producers: setup.roles.PRODUCER,
        consumers: setup.roles.CONSUMER,
      },
      review: setup.review,
      channels: {
        settleTimeoutSeconds: setup.settleTimeoutSeconds,
        mediationFeePerKwh: setup.mediationFeePerKwh,
      },
      manifestPath,
    });
    sent += 3 + 2 * MARKET_CONTRACTS.length;
    log(`deployed ${MARKET_CONTRACTS.length} contracts on chain ${manifest.chainId}`);
  } else {
    await checkOnChain(connection, manifest, manifestPath);
    const [upgrader] = await (
      await ethers.getContractAt("GridAccessManager", manifest.contracts.GridAccessManager.proxy)
    ).hasRole(ROLE_IDS.UPGRADER, deployer.address);
    for (const name of MARKET_CONTRACTS) {
      const current = manifest.contracts[name];
      const onChain = await ethers.provider.getCode(current.implementation);
      const artifact = await hre.artifacts.readArtifact(current.contractName);
      if (sameCode(onChain, artifact)) continue;
      if (!upgrader) {
        log(
          `${name}: compiled code changed; the deployer handed UPGRADER to the members' governance: deploy the implementation and propose it ('gridchain members propose upgrade ${current.proxy} <implementation>')`,
        );
        continue;
      }
      const result = await upgradeMarketContract({
        hre,
        connection,
        manifest,
        contract: name,
        implementation: current.contractName,
        upgrader: deployer,
        manifestPath,
      });
      if (result.status === "unchanged") continue;
      sent += 1;
      if (result.status === "scheduled") {
        log(
          `${name}: compiled code changed; upgrade scheduled, executable at ${new Date(result.executableAt * 1000).toISOString()}: run 'gridchain deploy' again then`,
        );
      } else {
        manifest = result.manifest;
        log(`${name}: compiled code changed; upgraded to implementation ${result.implementation}`);
      }
    }
  }

  const contracts = manifest.contracts;
  const manager = (await ethers.getContractAt(
    "GridAccessManager",
    contracts.GridAccessManager.proxy,
    deployer,
  )) as unknown as GridAccessManager;
  const review = await ethers.getContractAt("GridReview", contracts.GridReview.proxy, gridOperator);
  const credit = await ethers.getContractAt("GridCredit", contracts.GridCredit.proxy, gridOperator);

  // Roles granted since the manifest was written (accounts added to the YAML).
  const newlyGranted = new Set<string>();
  if (fresh) {
    for (const accounts of Object.values(setup.roles))
      for (const account of accounts) newlyGranted.add(getAddress(account));
  } else {
    const grants: string[] = [];
    const [admin, adminDelay] = await manager.hasRole(ROLE_IDS.ADMIN, deployer.address);
    // A deployer that handed ADMIN to the governance renounced its own roles on purpose.
    const wanted = (Object.entries(setup.roles) as [Exclude<RoleName, "ADMIN">, Address[]][])
      .flatMap(([role, accounts]) => accounts.map((account) => ({ role, account })))
      .filter(({ account }) => admin || getAddress(account) !== deployer.address);
    for (let start = 0; start < wanted.length; start += SEND_WINDOW) {
      const window = wanted.slice(start, start + SEND_WINDOW);
      const members = await Promise.all(
        window.map(
          async ({ role, account }) => (await manager.hasRole(ROLE_IDS[role], account))[0],
        ),
      );
      window.forEach(({ role, account }, index) => {
        if (members[index]) return;
        const delay = role === "UPGRADER" ? setup.upgraderDelaySeconds : 0;
        grants.push(
          manager.interface.encodeFunctionData("grantRole", [ROLE_IDS[role], account, delay]),
        );
        newlyGranted.add(getAddress(account));
      });
    }
    if (grants.length > 0) {
      const managerAddress = await manager.getAddress();
      if (!admin) {
        // Handed over: only a passed proposal grants roles now; nothing is minted before it.
        const first = manager.interface.decodeFunctionData("grantRole", grants[0]!);
        for (const data of grants) {
          newlyGranted.delete(
            getAddress(manager.interface.decodeFunctionData("grantRole", data)[1]),
          );
        }
        log(
          `${grants.length} accounts of the file lack their roles, and the members' governance holds ADMIN, not the deployer: propose each grant, e.g. 'gridchain members propose grant ${Object.keys(ROLE_IDS).find((role) => ROLE_IDS[role as RoleName] === first[0])} ${first[1]}'`,
        );
      } else if (adminDelay === 0n) {
        await batch(deployer, [(o) => manager.multicall(grants, o)]);
        log(`granted ${grants.length} missing roles`);
      } else {
        const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
        const pending = await delayedGrants(manager, deployer.address, managerAddress, grants, now);
        for (const account of pending.granting) newlyGranted.add(account);
        for (const account of pending.waiting) newlyGranted.delete(account);
        const calls = [
          ...pending.due.map((data) =>
            manager.interface.encodeFunctionData("execute", [managerAddress, data]),
          ),
          ...pending.unscheduled.map((data) =>
            manager.interface.encodeFunctionData("schedule", [managerAddress, data, 0]),
          ),
        ];
        if (calls.length > 0) await batch(deployer, [(o) => manager.multicall(calls, o)]);
        if (pending.due.length > 0)
          log(`granted ${pending.due.length} missing roles (scheduled earlier, now due)`);
        const notDue = pending.unscheduled.length + pending.scheduled.length;
        if (notDue > 0) {
          const first = pending.earliest ?? now + adminDelay;
          log(
            `${notDue} missing role grants wait for the admin's ${adminDelay} s delay (${pending.unscheduled.length} scheduled now); executable from ${new Date(Number(first) * 1000).toISOString()}: run 'gridchain deploy' again then`,
          );
        }
      }
    }
  }

  // A fresh market has no zones yet; otherwise read them SEND_WINDOW at a time.
  const current: number[] = [];
  for (let start = 0; start < setup.participantZones.length; start += SEND_WINDOW) {
    const window = setup.participantZones.slice(start, start + SEND_WINDOW);
    current.push(
      ...(fresh
        ? window.map(() => 0)
        : await Promise.all(
            window.map(async ({ account }) => Number(await review.zoneOf(account))),
          )),
    );
  }
  const zoneChanges = setup.participantZones.filter(({ zone }, index) => current[index] !== zone);
  const reviewTxs: ((overrides: { nonce: number }) => Promise<TransactionResponse>)[] = [];
  if (zoneChanges.length > 0) {
    reviewTxs.push((o) =>
      review.setZones(
        zoneChanges.map((change) => change.account),
        zoneChanges.map((change) => change.zone),
        o,
      ),
    );
    log(`set the zones of ${zoneChanges.length} participants`);
  }
  for (const { zone, exportW, importW } of setup.capacities) {
    const now = await review.zoneCapacity(zone);
    if (now.exportW === exportW && now.importW === importW) continue;
    reviewTxs.push((o) => review.setZoneCapacity(zone, exportW, importW, o));
    log(`zone ${zone}: lines ${exportW / 1000n} kW out, ${importW / 1000n} kW in`);
  }
  const [maxOrderWh, maxParticipantSlotWh] = await review.limits();
  if (
    maxOrderWh !== setup.review.maxOrderWh ||
    maxParticipantSlotWh !== setup.review.maxParticipantSlotWh
  ) {
    reviewTxs.push((o) =>
      review.setLimits(setup.review.maxOrderWh, setup.review.maxParticipantSlotWh, o),
    );
    log(
      `limits: ${setup.review.maxOrderWh} Wh per order, ${setup.review.maxParticipantSlotWh} Wh per participant and slot`,
    );
  }
  const [mode, threshold] = await review.reviewMode();
  const modeId = { auto: 0n, manual: 1n, manualAbove: 2n }[setup.review.mode];
  if (mode !== modeId || threshold !== setup.review.manualThresholdWh) {
    reviewTxs.push((o) => review.setReviewMode(modeId, setup.review.manualThresholdWh, o));
    log(`review mode: ${setup.review.mode}`);
  }
  const { capacityFeePerKwh, minDefaultPerKwh } = setup.charges;
  if ((await review.capacityFee()) !== capacityFeePerKwh) {
    reviewTxs.push((o) => review.setCapacityFee(capacityFeePerKwh, o));
    log(`capacity fee: ${formatCredits(capacityFeePerKwh)} credits per kWh of line held`);
  }
  // A GridReview whose upgrade is still scheduled runs code from before the least default.
  const minDefault = await review.minDefault().catch(() => undefined);
  if (minDefault === undefined) {
    log("least default: set by the run after GridReview's scheduled upgrade executes");
  } else if (minDefault !== minDefaultPerKwh) {
    reviewTxs.push((o) => review.setMinDefault(minDefaultPerKwh, o));
    log(`least default: ${formatCredits(minDefaultPerKwh)} credits per kWh not delivered`);
  }
  await batch(gridOperator, reviewTxs);

  const mints = setup.credits.filter(({ account }) => newlyGranted.has(getAddress(account)));
  if (mints.length > 0) {
    await batch(
      gridOperator,
      mints.map(
        ({ account, amount }) =>
          (o) =>
            credit.mint(account, amount, ZeroHash, { ...o, gasLimit: MINT_GAS }),
      ),
    );
    const total = mints.reduce((sum, { amount }) => sum + amount, 0n);
    log(`minted ${formatCredits(total)} GridCredit to ${mints.length} accounts`);
  }
  return { manifest, transactions: sent };
}

/** Role grants the admin sent under its execution delay, sorted by where they stand. */
type DelayedGrants = {
  /** Scheduled and due: executed in this run. */
  due: string[];
  /** Scheduled, not yet due. */
  scheduled: string[];
  /** Never scheduled (or expired): scheduled in this run. */
  unscheduled: string[];
  /** Accounts whose grant executes in this run, and those whose grant still waits. */
  granting: string[];
  waiting: string[];
  /** The earliest time a waiting grant becomes executable (unix seconds), if one is scheduled. */
  earliest: bigint | undefined;
};

/**
 * An admin with an execution delay cannot grant at once: the manager refuses a call that was not
 * scheduled. Each grant is scheduled, then executed by a later run once due (the manager forgets a
 * schedule a week after it is due, after which it is scheduled again).
 */
async function delayedGrants(
  manager: GridAccessManager,
  caller: string,
  managerAddress: string,
  grants: string[],
  now: bigint,
): Promise<DelayedGrants> {
  const result: DelayedGrants = {
    due: [],
    scheduled: [],
    unscheduled: [],
    granting: [],
    waiting: [],
    earliest: undefined,
  };
  for (const data of grants) {
    const [, account] = manager.interface.decodeFunctionData("grantRole", data) as unknown as [
      bigint,
      string,
    ];
    const id = await manager.hashOperation(caller, managerAddress, data);
    const when = await manager.getSchedule(id);
    if (when !== 0n && when <= now) {
      result.due.push(data);
      result.granting.push(getAddress(account));
      continue;
    }
    result.waiting.push(getAddress(account));
    if (when === 0n) {
      result.unscheduled.push(data);
    } else {
      result.scheduled.push(data);
      if (result.earliest === undefined || when < result.earliest) result.earliest = when;
    }
  }
  // An account with one grant due and another waiting gets its credits when the last one is due.
  result.granting = result.granting.filter((account) => !result.waiting.includes(account));
  return result;
}

/**
 * A manifest is only valid on the chain it was written for: the chain id must match and every
 * proxy must have code. A reset chain (a new genesis, a deleted state file) has neither.
 */
async function checkOnChain(
  connection: NetworkConnection,
  manifest: DeploymentManifest,
  manifestPath: string,
): Promise<void> {
  const { provider } = connection.ethers;
  const chainId = Number((await provider.getNetwork()).chainId);
  const hint = `the chain was reset: move ${manifestPath} aside and run 'gridchain deploy' to deploy afresh, or restore the chain's state`;
  if (chainId !== manifest.chainId) {
    throw new OperatorError(`${manifestPath} is for chain ${manifest.chainId}, not ${chainId}`, {
      hint,
    });
  }
  for (const name of MARKET_CONTRACTS) {
    const { proxy } = manifest.contracts[name];
    if ((await provider.getCode(proxy)) === "0x") {
      throw new OperatorError(
        `${manifestPath} names ${name} at ${proxy}, which has no code on chain ${chainId}`,
        {
          hint,
        },
      );
    }
  }
}

/**
 * Whether deployed runtime code is the artifact's, ignoring immutables (the UUPS implementation
 * stores its own address in one): those bytes are set at deployment.
 */
export function sameCode(
  onChain: string,
  artifact: {
    deployedBytecode: string;
    immutableReferences?: Record<string, { start: number; length: number }[]>;
  },
): boolean {
  const deployed = onChain.toLowerCase().replace(/^0x/, "");
  const compiled = artifact.deployedBytecode.toLowerCase().replace(/^0x/, "");
  if (deployed.length !== compiled.length) return false;
  const mask = (code: string) => {
    const chars = code.split("");
    for (const refs of Object.values(artifact.immutableReferences ?? {}))
      for (const { start, length } of refs) chars.fill("0", start * 2, (start + length) * 2);
    return chars.join("");
  };
  return mask(deployed) === mask(compiled);
}

/** GridCredit base units (6 decimals) as a decimal string. */
export function formatCredits(amount: bigint): string {
  const whole = amount / 1_000_000n;
  const fraction = (amount % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return fraction === "" ? whole.toString() : `${whole}.${fraction}`;
}
