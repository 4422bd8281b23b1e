import type { ContractTransactionReceipt } from "ethers";
import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import { ZERO_HASH } from "./proofs.js";

/** `ChannelState` values of the contract (ChannelLedger.sol). */
export const CLOSED = 2n;
export const SETTLED = 3n;

/** What `closeChannel` takes when the partner never paid: nonce 0, nothing transferred. */
export const EMPTY_PROOF = {
  nonce: 0n,
  transferredAmount: 0n,
  additionalHash: ZERO_HASH,
  signature: "0x",
};

/** The id of the channel a `openChannel` transaction opened, read from its ChannelOpened event. */
export function openedChannelId(
  channels: PaymentChannels,
  receipt: ContractTransactionReceipt | null,
): bigint {
  const event = receipt?.logs
    .map((log) => {
      try {
        return channels.interface.parseLog(log);
      } catch {
        return null;
      }
    })
    .find((parsed) => parsed?.name === "ChannelOpened");
  if (!event) throw new Error("openChannel: no ChannelOpened event in the receipt");
  return event.args.channelId as bigint;
}

/** The latest block's time (unix seconds): the clock every expiry in the channels is checked by. */
export async function latestBlockTime(channels: PaymentChannels): Promise<bigint> {
  const block = await channels.runner?.provider?.getBlock("latest");
  return BigInt(block?.timestamp ?? 0);
}
