import { getAddress, type Provider } from "ethers";
import { OperatorError } from "../errors.js";
import type { ChannelsDomain, Hash } from "./proofs.js";
import type { ChannelStore, StoreRecord } from "./store.js";

/**
 * Ties a channel log to the chain it was written on: chain id, channels contract and the hash of
 * block 1. A chain reset from the same genesis gets the same chain id and, deployed by the same
 * deployer, the same contract addresses; only its blocks differ (their times do). A new log is
 * bound on first use; a log bound to another chain, or one written before logs were bound, is
 * refused: replaying it would open channels that are not there and pay from deposits that are gone.
 */
export async function bindToChain(
  store: ChannelStore,
  records: readonly StoreRecord[],
  domain: ChannelsDomain,
  provider: Provider | null | undefined,
): Promise<void> {
  const firstBlock =
    provider === null || provider === undefined
      ? null
      : (((await provider.getBlock(1))?.hash ?? null) as Hash | null);
  const here = {
    chainId: domain.chainId,
    contract: getAddress(domain.verifyingContract),
    firstBlock,
  };
  const bound = records.find(
    (record): record is Extract<StoreRecord, { kind: "chain" }> => record.kind === "chain",
  );
  if (bound === undefined && records.length === 0) {
    await store.append({ kind: "chain", ...here } as StoreRecord);
    return;
  }
  const describe = (chain: typeof here) =>
    `chain id ${chain.chainId}, channels ${chain.contract}, block 1 ${chain.firstBlock ?? "unknown"}`;
  const same =
    bound !== undefined &&
    bound.chainId === here.chainId &&
    getAddress(bound.contract) === here.contract &&
    (bound.firstBlock === null || here.firstBlock === null || bound.firstBlock === here.firstBlock);
  if (same) return;
  await store.close();
  throw new OperatorError(`channel store ${store.path} belongs to another chain`, {
    details:
      bound === undefined
        ? "it was written before stores recorded their chain"
        : `it was written on ${describe({ ...bound, contract: getAddress(bound.contract) })}; this chain is ${describe(here)}`,
    hint: "'gridchain reset' archives the stores of an old chain; a store is never reused on another chain",
  });
}
