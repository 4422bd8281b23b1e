import type { Interface } from "ethers";

/**
 * Most items one `recordMeterReadings` or `settleDefaults` call takes (EnergyMarketSettlement's
 * MAX_BATCH, argued there: a full batch of the costliest readings stays under 2^24 gas). The
 * contract refuses a longer list with MarketBatchTooLarge; its test pins both numbers together.
 */
export const MAX_BATCH_ITEMS = 100;

/** Gas a batch call may use: a bound per item (the costliest reading is about 120k) plus the call. */
export function batchGasLimit(items: number): bigint {
  return 60_000n + 150_000n * BigInt(items);
}

/** `items` cut into consecutive batches of at most `MAX_BATCH_ITEMS`. */
export function batches<T>(items: readonly T[], size = MAX_BATCH_ITEMS): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size)
    result.push(items.slice(start, start + size));
  return result;
}

type Log = { topics: readonly string[]; data: string };

/**
 * The items a batch call refused, read from its `BatchItemRefused` events: order id -> the
 * market's custom error that states the broken rule, as text (`MarketDeliveryNotOver(7, 1700000000)`).
 * Logs of other contracts and other events are skipped.
 */
export function refusedItems(market: Interface, logs: readonly Log[]): Map<bigint, string> {
  const refused = new Map<bigint, string>();
  const event = market.getEvent("BatchItemRefused");
  if (event === null) return refused;
  for (const log of logs) {
    if (log.topics[0] !== event.topicHash) continue;
    const parsed = market.parseLog({ topics: [...log.topics], data: log.data });
    if (parsed === null) continue;
    const orderId = parsed.args.getValue("orderId") as bigint;
    const reason = parsed.args.getValue("reason") as string;
    const error = market.parseError(reason);
    refused.set(
      orderId,
      error === null ? reason : `${error.name}(${error.args.map(String).join(", ")})`,
    );
  }
  return refused;
}
