import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The compiled contracts whose ABIs name the custom errors a revert may carry. */
const ARTIFACTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "artifacts",
  "contracts",
);

/**
 * What to do about the reverts an operator meets in practice. Channel errors after a reset mean
 * the local channel store remembers channels of a chain that no longer exists.
 */
const HINTS: Record<string, string> = {
  PaymentChannelsNotParticipant:
    "the local channel store describes channels this chain does not have (was the chain reset?): clear network/<name>/channels",
  PaymentChannelsAlreadyOpen:
    "the chain holds a channel the local channel store does not know (was the store deleted?): restore it, or start a new chain",
  PaymentChannelsUnexpectedState:
    "the local channel store and the chain disagree about the channel's state (was the chain reset?)",
  PaymentChannelsStaleBalanceProof:
    "a newer balance proof is already on chain: the local channel store is behind the chain",
  AccessManagedUnauthorized:
    "the sending account lacks the role for this call; the roles are in the deployment manifest",
  GridNotTrader:
    "the account has no zone in GridReview, so it may not trade: the grid operator assigns zones (the consortium file's participants)",
  MarketPaused: "the market is paused by the consortium",
  MarketOfferExpired: "the offer expired: publish a new one",
  MarketBondInsufficient: "the producer's bond is too small for the order: deposit more",
  ERC20InsufficientBalance: "the account lacks GridCredit: the grid operator mints it",
};

/** A decoded revert: `Name(arg=value, …)` and what to do about it when known. */
export type DescribedRevert = { text: string; hint: string | undefined };

/**
 * Decodes revert data against every error in the project's compiled ABIs (and Solidity's own
 * Error(string) and Panic(uint256)). Undefined when the selector is unknown or nothing is built.
 */
export async function describeRevert(data: string): Promise<DescribedRevert | undefined> {
  const { Interface } = await import("ethers");
  const fragments = new Map<string, string>([
    ["Error(string)", "error Error(string reason)"],
    ["Panic(uint256)", "error Panic(uint256 code)"],
  ]);
  for (const abi of artifactAbis()) {
    for (const entry of abi) {
      if (entry.type !== "error" || typeof entry.name !== "string") continue;
      const inputs = (entry.inputs ?? []) as { type: string; name?: string }[];
      const signature = `${entry.name}(${inputs.map((input) => input.type).join(",")})`;
      if (!fragments.has(signature)) {
        fragments.set(
          signature,
          `error ${entry.name}(${inputs.map((input) => `${input.type} ${input.name || ""}`.trim()).join(", ")})`,
        );
      }
    }
  }
  let decoded;
  try {
    decoded = new Interface([...fragments.values()]).parseError(data);
  } catch {
    return undefined;
  }
  if (decoded === null) return undefined;
  const args = decoded.fragment.inputs.map((input, index) => {
    const value = decoded.args[index] as unknown;
    const shown = typeof value === "bigint" ? value.toString() : String(value);
    return input.name ? `${input.name}=${shown}` : shown;
  });
  return { text: `${decoded.name}(${args.join(", ")})`, hint: HINTS[decoded.name] };
}

type AbiEntry = { type: string; name?: string; inputs?: unknown[] };

function artifactAbis(): AbiEntry[][] {
  if (!existsSync(ARTIFACTS)) return [];
  const abis: AbiEntry[][] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".json") && !entry.name.endsWith(".dbg.json")) {
        try {
          const artifact = JSON.parse(readFileSync(path, "utf8")) as { abi?: AbiEntry[] };
          if (Array.isArray(artifact.abi)) abis.push(artifact.abi);
        } catch {
          // Not an artifact (a build-info or a half-written file): its errors are not needed.
        }
      }
    }
  };
  walk(ARTIFACTS);
  return abis;
}
