import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod/v4";
import { OperatorError } from "../errors.js";
import { MARKET_CONTRACTS } from "./roles.js";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte hex address");
const txHash = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 0x-prefixed 32-byte transaction hash");
const decimal = z.string().regex(/^[0-9]+$/, "a non-negative integer as a decimal string");

const deployedContract = z.strictObject({
  contractName: z.string().min(1),
  proxy: address,
  implementation: address,
  proxyTx: txHash,
  implementationTx: txHash.nullable(),
});

const upgradeRecord = z.strictObject({
  contract: z.enum(MARKET_CONTRACTS),
  contractName: z.string().min(1),
  previousImplementation: address,
  implementation: address,
  tx: txHash,
  scheduleTx: txHash.nullable(),
});

const manifestSchema = z.strictObject({
  format: z.literal("gridchain-deployment/1"),
  network: z.string().min(1),
  chainId: z.number().int().positive(),
  deployer: address,
  contracts: z.strictObject({
    GridAccessManager: deployedContract,
    GridCredit: deployedContract,
    GridReview: deployedContract,
    EnergyMarket: deployedContract,
    PaymentChannels: deployedContract,
  }),
  roles: z.strictObject({
    admin: address,
    upgraders: z.array(address),
    upgraderDelaySeconds: z.number().int().nonnegative(),
    /** Absent in manifests written before the admin was delayed. */
    adminDelaySeconds: z.number().int().nonnegative().optional(),
    gridOperators: z.array(address),
    meters: z.array(address),
    producers: z.array(address),
    consumers: z.array(address),
  }),
  review: z.strictObject({
    slotSeconds: z.number().int().positive(),
    maxOrderWh: decimal,
    maxParticipantSlotWh: decimal,
    mode: z.enum(["auto", "manual", "manualAbove"]),
    manualThresholdWh: decimal,
  }),
  channels: z.strictObject({
    settleTimeoutSeconds: z.number().int().positive(),
    /** The hub's mediation fee, credit base units per kWh; absent in manifests written before it. */
    mediationFeePerKwh: decimal.optional(),
  }),
  transactions: z.strictObject({
    setMarket: txHash,
    wiring: txHash,
  }),
  upgrades: z.array(upgradeRecord),
});

/**
 * What a deployment left on chain: chain id, proxies and implementations, who holds which role,
 * the transactions and the review parameters used. Amounts of energy are decimal strings (JSON has
 * no bigint).
 */
export type DeploymentManifest = z.infer<typeof manifestSchema>;
export type DeployedContract = z.infer<typeof deployedContract>;
export type UpgradeRecord = z.infer<typeof upgradeRecord>;

/** Reads and validates a manifest; one error names the file, the path inside it and what is allowed. */
export async function readManifest(path: string): Promise<DeploymentManifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new OperatorError(`cannot read deployment manifest ${path}`, {
      details: (cause as Error).message,
      hint: "deploy first, or pass the manifest the deploy wrote",
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new OperatorError(`deployment manifest ${path} is not JSON`, {
      details: (cause as Error).message,
      cause,
    });
  }
  return parseManifest(json, path);
}

/** Validates a parsed manifest; `source` names where it came from in the error. */
export function parseManifest(json: unknown, source: string): DeploymentManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length === 0 ? "(top level)" : issue.path.join(".");
    throw new OperatorError(`invalid deployment manifest ${source}`, {
      details: `at ${where}: ${issue.message}`,
      hint: "regenerate it with a deploy instead of editing it by hand",
    });
  }
  return result.data;
}

/**
 * Writes a manifest atomically: a temporary file in the same directory, then a rename, so a reader
 * sees the old file or the new one, never half of one. The manifest is validated first.
 */
export async function writeManifest(path: string, manifest: DeploymentManifest): Promise<void> {
  const valid = parseManifest(manifest, path);
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o644, flag: "wx" });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
