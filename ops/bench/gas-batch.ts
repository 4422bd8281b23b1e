/**
 * Gas per item of the grid operator's batched records (EnergyMarket.recordMeterReadings and
 * settleDefaults) for batches of 1, 10 and the most one call takes; rows for ops/bench/gas.ts.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse } from "ethers";
import { id } from "ethers";
import type { EnergyMarket } from "../../types/ethers-contracts/index.js";
import { MAX_BATCH_ITEMS } from "../market/batch.js";

const BATCH_SIZES = [1, 10, MAX_BATCH_ITEMS];
const ORDER_WH = 1_000n;

/**
 * Buys one small order per item from a standing offer of `seller` in a fresh slot (same zone as
 * `buyer`: no grid charges), moves past the window, then records every order short (each with a
 * meter of its own, read for the first time: the costliest common reading) and settles them.
 * Returns [label, gas per item] rows.
 */
export async function batchRows(input: {
  market: EnergyMarket;
  seller: HardhatEthersSigner;
  buyer: HardhatEthersSigner;
  meter: HardhatEthersSigner;
  slotSeconds: bigint;
  latest: () => Promise<number>;
  increaseTo: (timestamp: bigint) => Promise<void>;
}): Promise<[string, bigint][]> {
  const { market, seller, buyer, meter, slotSeconds } = input;
  const items = BATCH_SIZES.reduce((sum, size) => sum + size, 0);
  const now = BigInt(await input.latest());
  const start = ((now + 3600n) / slotSeconds + 1n) * slotSeconds;
  await market
    .connect(seller)
    .publishStanding(
      0,
      250_000n,
      100_000n,
      ORDER_WH * BigInt(items),
      start,
      start + slotSeconds,
      start,
    );
  const offerId = await market.offerCount();
  const orders: bigint[] = [];
  for (let i = 0; i < items; i++) {
    await (await market.connect(buyer).buy(offerId, ORDER_WH)).wait();
    orders.push(await market.orderCount());
  }
  await input.increaseTo(start + slotSeconds);
  const rows: [string, bigint][] = [];
  const perItem = async (sent: Promise<ContractTransactionResponse>, count: number) => {
    const receipt = await (await sent).wait();
    if (receipt === null) throw new Error("no receipt");
    const refused = receipt.logs.filter(
      (log) => log.topics[0] === market.interface.getEvent("BatchItemRefused").topicHash,
    );
    if (refused.length > 0) throw new Error(`${refused.length} batch items refused`);
    return receipt.gasUsed / BigInt(count);
  };
  let next = 0;
  const batches = BATCH_SIZES.map((size) => orders.slice(next, (next += size)));
  for (const batch of batches) {
    const records = batch.map((orderId) => ({
      orderId,
      meterId: id(`bench meter ${orderId}`),
      readingWh: ORDER_WH,
      deliveredWh: ORDER_WH / 2n,
    }));
    rows.push([
      `meter readings, batch of ${batch.length}, shortfall, per item`,
      await perItem(market.connect(meter).recordMeterReadings(records), batch.length),
    ]);
  }
  for (const batch of batches) {
    rows.push([
      `default settlements, batch of ${batch.length}, per item`,
      await perItem(market.connect(buyer).settleDefaults(batch), batch.length),
    ]);
  }
  return rows;
}
