import { Contract, Interface, JsonRpcProvider, type ContractRunner } from "ethers";
import {
  EnergyMarket__factory,
  GridAccessManager__factory,
  GridCredit__factory,
  GridReview__factory,
  PaymentChannels__factory,
} from "../../types/ethers-contracts/index.js";
import type { DeploymentManifest } from "./manifest.js";
import {
  MARKET_CONTRACTS,
  ROLE_IDS,
  ROLE_TABLE,
  type MarketContractName,
  type RoleName,
} from "./roles.js";

/**
 * The consortium's trust model as the chain holds it: for every role, who holds it (of the accounts
 * the manifest names), with what execution delay, how long a new grant waits, which role grants it,
 * and which functions it may call; and the admin delay of every managed contract. `gridchain status`
 * prints it; the README's trust-model table is the same facts for a fresh deployment.
 */
export type TrustModel = {
  roles: {
    role: RoleName;
    /** Manifest accounts that hold the role now, with their execution delays in seconds. */
    members: { account: string; executionDelaySeconds: number }[];
    grantDelaySeconds: number;
    grantedBy: RoleName | string;
    /** `Contract.function` the manager routes to this role, as read from the chain. */
    functions: string[];
  }[];
  /** Delay in seconds of admin calls (rewiring, authority change) per managed contract. */
  targetAdminDelaySeconds: Record<MarketContractName, number>;
  /**
   * Traders: accounts with a zone in GridReview (set and removed at once by the grid operator
   * through `GridReview.setZones`). The market asks for a zone, not a role, on these functions.
   */
  traders: { holders: string[]; functions: string[] };
  /** Who holds ADMIN when the members' governance is deployed: it, the deployer, or both. */
  admin?: {
    governance: string;
    governanceHolds: boolean;
    deployer: string;
    deployerHolds: boolean;
  };
};

/** What an account with a zone may call on the market, whatever its roles (EnergyMarketBase._requireTrader). */
export const TRADER_FUNCTIONS = [
  "EnergyMarket.request",
  "EnergyMarket.requestBefore",
  "EnergyMarket.buy",
  "EnergyMarket.confirm",
];

/** The members' governance, whose holdings the table counts beside the manifest's accounts. */
export type TrustModelOptions = { governance?: string };

const INTERFACES: Record<MarketContractName, Interface> = {
  GridAccessManager: new Interface(GridAccessManager__factory.abi),
  GridCredit: new Interface(GridCredit__factory.abi),
  GridReview: new Interface(GridReview__factory.abi),
  EnergyMarket: new Interface(EnergyMarket__factory.abi),
  PaymentChannels: new Interface(PaymentChannels__factory.abi),
};

/** The admin's own powers: the manager's functions no table row routes elsewhere. */
const ADMIN_POWERS = [
  "grant and revoke every role",
  "route functions to roles",
  "set delays",
  "change a contract's authority",
];

const READ_WINDOW = 100;

/** Reads the trust model of a deployment over JSON-RPC. */
export async function readTrustModel(
  rpcUrl: string,
  manifest: DeploymentManifest,
  options: TrustModelOptions = {},
): Promise<TrustModel> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    return await trustModelOf(provider, manifest, options);
  } finally {
    provider.destroy();
  }
}

/** Reads the trust model through any provider (tests pass the in-process network's). */
export async function trustModelOf(
  runner: ContractRunner,
  manifest: DeploymentManifest,
  options: TrustModelOptions = {},
): Promise<TrustModel> {
  const manager = new Contract(
    manifest.contracts.GridAccessManager.proxy,
    GridAccessManager__factory.abi,
    runner,
  );
  const call = <T>(name: string, ...args: unknown[]) =>
    manager.getFunction(name)(...args) as Promise<T>;
  const roleName = (id: bigint): RoleName | string =>
    (Object.entries(ROLE_IDS).find(([, value]) => value === id)?.[0] as RoleName) ?? `role ${id}`;
  const governed = options.governance === undefined ? [] : [options.governance];
  const accountsOf: Record<RoleName, readonly string[]> = {
    ADMIN: [manifest.roles.admin, ...governed],
    UPGRADER: [...manifest.roles.upgraders, ...governed],
    GRID_OPERATOR: [...manifest.roles.gridOperators, ...governed],
    METER: manifest.roles.meters,
    PRODUCER: manifest.roles.producers,
    CONSUMER: manifest.roles.consumers,
  };
  const functionsOf = new Map<bigint, string[]>();
  for (const rule of ROLE_TABLE) {
    for (const fn of rule.functions) {
      const selector = INTERFACES[rule.contract].getFunction(fn)?.selector;
      if (selector === undefined) continue;
      const target = manifest.contracts[rule.contract].proxy;
      const role = await call<bigint>("getTargetFunctionRole", target, selector);
      functionsOf.set(role, [...(functionsOf.get(role) ?? []), `${rule.contract}.${fn}`]);
    }
  }
  const roles = await Promise.all(
    (Object.keys(ROLE_IDS) as RoleName[]).map(async (role) => {
      const id = ROLE_IDS[role];
      const members: TrustModel["roles"][number]["members"] = [];
      const accounts = [...new Set(accountsOf[role])];
      // A 3000-account consortium: read in windows, not one request at a time nor all at once.
      for (let start = 0; start < accounts.length; start += READ_WINDOW) {
        const window = accounts.slice(start, start + READ_WINDOW);
        const held = await Promise.all(
          window.map((account) => call<[boolean, bigint]>("hasRole", id, account)),
        );
        held.forEach(([isMember, delay], i) => {
          if (isMember) members.push({ account: window[i]!, executionDelaySeconds: Number(delay) });
        });
      }
      return {
        role,
        members,
        grantDelaySeconds: Number(await call<bigint>("getRoleGrantDelay", id)),
        grantedBy: roleName(await call<bigint>("getRoleAdmin", id)),
        functions: [...(role === "ADMIN" ? ADMIN_POWERS : []), ...(functionsOf.get(id) ?? [])],
      };
    }),
  );
  const targetAdminDelaySeconds = Object.fromEntries(
    await Promise.all(
      MARKET_CONTRACTS.map(
        async (name) =>
          [
            name,
            Number(await call<bigint>("getTargetAdminDelay", manifest.contracts[name].proxy)),
          ] as const,
      ),
    ),
  ) as Record<MarketContractName, number>;
  const review = new Contract(manifest.contracts.GridReview.proxy, GridReview__factory.abi, runner);
  const candidates = [
    ...new Set([
      ...manifest.roles.producers,
      ...manifest.roles.consumers,
      ...manifest.roles.gridOperators,
    ]),
  ];
  const holders: string[] = [];
  for (let start = 0; start < candidates.length; start += READ_WINDOW) {
    const window = candidates.slice(start, start + READ_WINDOW);
    const zones = await Promise.all(
      window.map((account) => review.getFunction("zoneOf")(account) as Promise<bigint>),
    );
    zones.forEach((zone, i) => {
      if (zone !== 0n) holders.push(window[i]!);
    });
  }
  const holds = async (account: string) =>
    (await call<[boolean, bigint]>("hasRole", ROLE_IDS.ADMIN, account))[0];
  const admin =
    options.governance === undefined
      ? undefined
      : {
          governance: options.governance,
          governanceHolds: await holds(options.governance),
          deployer: manifest.roles.admin,
          deployerHolds: await holds(manifest.roles.admin),
        };
  return {
    roles,
    targetAdminDelaySeconds,
    traders: { holders, functions: TRADER_FUNCTIONS },
    ...(admin === undefined ? {} : { admin }),
  };
}

/** Who holds ADMIN, in words: the members' governance alone is the intended state. */
function adminLine(admin: NonNullable<TrustModel["admin"]>): string {
  const governance = `the members' governance ${admin.governance}`;
  const deployer = `the deployer ${admin.deployer}`;
  if (admin.governanceHolds && !admin.deployerHolds)
    return `  ADMIN held by ${governance} only; ${deployer} renounced it`;
  if (admin.governanceHolds)
    return `  ADMIN held by ${governance} and by ${deployer} (governance.deployerKeepsAdmin: a pilot)`;
  return `  ADMIN not held by ${governance}: run 'gridchain deploy' to hand it over`;
}

/** The trust model as text lines for `gridchain status`. */
export function renderTrustModel(model: TrustModel): string[] {
  const delays = (values: number[]) =>
    values.length === 0 ? "-" : [...new Set(values)].map((v) => `${v} s`).join(", ");
  const rows = model.roles.map((r) => [
    r.role,
    String(r.members.length),
    delays(r.members.map((m) => m.executionDelaySeconds)),
    `${r.grantDelaySeconds} s`,
    String(r.grantedBy),
    compactFunctions(r.functions) || "-",
  ]);
  const header = ["role", "holders", "execution delay", "grant delay", "granted by", "may call"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")}`;
  const targets = Object.entries(model.targetAdminDelaySeconds)
    .map(([name, delay]) => `${name} ${delay} s`)
    .join(", ");
  return [
    `trust model (read from chain; holders among the manifest's accounts${model.admin === undefined ? "" : " and the members' governance"}):`,
    line(header),
    ...rows.map(line),
    `  traders (a zone in GridReview, set by GRID_OPERATOR via GridReview.setZones, no role needed): ${model.traders.holders.length} holders, may call ${compactFunctions(model.traders.functions)}`,
    `  admin delay per contract: ${targets}`,
    ...(model.admin === undefined ? [] : [adminLine(model.admin)]),
  ];
}

/** `EnergyMarket.publish, EnergyMarket.confirm` -> `EnergyMarket.{publish,confirm}`. */
function compactFunctions(functions: string[]): string {
  const byContract = new Map<string, string[]>();
  for (const entry of functions) {
    const dot = entry.indexOf(".");
    if (dot < 0) {
      byContract.set(entry, []);
      continue;
    }
    const contract = entry.slice(0, dot);
    byContract.set(contract, [...(byContract.get(contract) ?? []), entry.slice(dot + 1)]);
  }
  return [...byContract.entries()]
    .map(([contract, fns]) =>
      fns.length === 0
        ? contract
        : `${contract}.${fns.length === 1 ? fns[0] : `{${fns.join(",")}}`}`,
    )
    .join("; ");
}
