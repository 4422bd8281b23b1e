import type { ContractTransactionReceipt } from "ethers";
import type { PaymentChannels } from "../../types/ethers-contracts/index.js";

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
