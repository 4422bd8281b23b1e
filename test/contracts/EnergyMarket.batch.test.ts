import { expect } from "chai";
import hre from "hardhat";
import { MAX_BATCH_ITEMS } from "../../ops/market/batch.js";
import { OrderStatus, marketFixtures, publishOffer, requestOrder } from "../helpers/market.js";
import { recordReading, refusal, settleDefault } from "../helpers/metering.js";

/** The grid operator's batched records: meter readings and default settlements. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const { autoMarket } = marketFixtures(hre, connection);
const SLOT = 900n;

/**
 * Four established orders of bob (zone 1, solar's zone) in three consecutive windows, one order
 * only requested, and the clock at the end of the second window.
 */
async function batchWorld() {
  const w = await autoMarket();
  const established = async (start: bigint) => {
    const offerId = await publishOffer(w, w.solar, 2_000n, { start, end: start + SLOT });
    const orderId = await requestOrder(w, w.bob, offerId, 1_000n);
    await w.market.connect(w.solar).confirm(orderId);
    return orderId;
  };
  const first = await established(w.deliveryStart);
  const second = await established(w.deliveryStart + SLOT);
  const third = await established(w.deliveryStart + SLOT);
  const notDue = await established(w.deliveryStart + 2n * SLOT);
  const requested = await requestOrder(w, w.bob, 1n, 1_000n);
  await time.increaseTo(w.deliveryStart + 2n * SLOT);
  return { ...w, first, second, third, notDue, requested };
}

describe("EnergyMarket batched records", () => {
  const meterId = ethers.id("meter:bob");
  const other = ethers.id("meter:bob-garage");

  it("records the good readings of a batch and reports each bad one with the rule it broke", async () => {
    const w = await loadFixture(batchWorld);
    const secondEnd = w.deliveryStart + 2n * SLOT;
    const item = (orderId: bigint, meter: string, readingWh: bigint, deliveredWh = 1_000n) => ({
      orderId,
      meterId: meter,
      readingWh,
      deliveredWh,
    });
    const sent = w.market.connect(w.meter).recordMeterReadings([
      item(w.second, meterId, 5_000n),
      // Wrong status: only requested, never established.
      item(w.requested, other, 1n),
      // Out of order: the first window's reading above the later window's, recorded just before.
      item(w.first, meterId, 6_000n),
      // Unknown order.
      item(99n, other, 1n),
      // Not yet due: its window ends a slot from now.
      item(w.notDue, other, 1n),
      item(w.third, other, 7_000n, 400n),
    ]);
    await expect(sent)
      .to.emit(w.market, "BatchItemRefused")
      .withArgs(
        w.requested,
        refusal(w.market, "MarketUnexpectedOrderStatus", [
          w.requested,
          OrderStatus.Requested,
          OrderStatus.Established,
        ]),
      )
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(
        w.first,
        refusal(w.market, "MarketMeterReadingAboveLater", [meterId, 6_000n, secondEnd, 5_000n]),
      )
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(99n, refusal(w.market, "MarketUnknownOrder", [99n]))
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(w.notDue, refusal(w.market, "MarketDeliveryNotOver", [w.notDue, secondEnd + SLOT]));
    const receipt = await (await sent).wait();
    const names = receipt!.logs.flatMap((log) => {
      const parsed = w.market.interface.parseLog(log);
      return parsed === null ? [] : [`${parsed.name}:${parsed.args[0]}`];
    });
    expect(names.filter((name) => name.startsWith("BatchItemRefused"))).to.have.length(4);
    expect(names.filter((name) => name.startsWith("MeterReadingRecorded"))).to.deep.equal([
      `MeterReadingRecorded:${w.second}`,
      `MeterReadingRecorded:${w.third}`,
    ]);
    expect((await w.market.getOrder(w.second)).status).to.equal(OrderStatus.Delivered);
    expect((await w.market.getOrder(w.third)).status).to.equal(OrderStatus.Defaulted);
    for (const [orderId, status] of [
      [w.first, OrderStatus.Established],
      [w.notDue, OrderStatus.Established],
      [w.requested, OrderStatus.Requested],
    ] as const)
      expect((await w.market.getOrder(orderId)).status).to.equal(status);
    expect(await w.market.meterReadingAt(meterId, w.deliveryStart + SLOT)).to.deep.equal([
      false,
      0n,
    ]);
    // The refused reading can be sent again, right this time.
    await expect(recordReading(w, w.first, meterId, 4_000n, 1_000n)).to.emit(
      w.market,
      "MeterReadingRecorded",
    );
  });

  it("settles the defaulted orders of a batch and reports the rest, an order named twice once", async () => {
    const w = await loadFixture(batchWorld);
    await w.market.connect(w.meter).recordMeterReadings([
      { orderId: w.first, meterId, readingWh: 500n, deliveredWh: 500n },
      { orderId: w.second, meterId: other, readingWh: 250n, deliveredWh: 250n },
    ]);
    const before = await w.credit.balanceOf(w.bob.address);
    const sent = w.market
      .connect(w.outsider)
      .settleDefaults([w.first, w.third, 99n, w.first, w.second]);
    await expect(sent)
      .to.emit(w.market, "DefaultSettled")
      .withArgs(w.first, w.bob.address, w.solar.address, 500n, 50_000n, 50_000n)
      .and.to.emit(w.market, "DefaultSettled")
      .withArgs(w.second, w.bob.address, w.solar.address, 750n, 75_000n, 25_000n)
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(
        w.third,
        refusal(w.market, "MarketUnexpectedOrderStatus", [
          w.third,
          OrderStatus.Established,
          OrderStatus.Defaulted,
        ]),
      )
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(99n, refusal(w.market, "MarketUnknownOrder", [99n]))
      .and.to.emit(w.market, "BatchItemRefused")
      .withArgs(w.first, refusal(w.market, "MarketDefaultAlreadySettled", [w.first]));
    expect((await w.credit.balanceOf(w.bob.address)) - before).to.equal(125_000n);
    expect((await w.market.getOrder(w.third)).status).to.equal(OrderStatus.Established);
  });

  it("takes at most MAX_BATCH_ITEMS items per call and refuses a longer batch whole", async () => {
    const w = await loadFixture(batchWorld);
    const unknown = (count: number) => Array.from({ length: count }, (_, i) => 1_000n + BigInt(i));
    const readings = (count: number) =>
      unknown(count).map((orderId) => ({ orderId, meterId, readingWh: 1n, deliveredWh: 1n }));
    const full = await (
      await w.market.connect(w.meter).recordMeterReadings(readings(MAX_BATCH_ITEMS))
    ).wait();
    expect(full!.logs).to.have.length(MAX_BATCH_ITEMS);
    await expect(w.market.connect(w.meter).recordMeterReadings(readings(MAX_BATCH_ITEMS + 1)))
      .to.be.revertedWithCustomError(w.market, "MarketBatchTooLarge")
      .withArgs(MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS);
    const settled = await (await w.market.settleDefaults(unknown(MAX_BATCH_ITEMS))).wait();
    expect(settled!.logs).to.have.length(MAX_BATCH_ITEMS);
    await expect(w.market.settleDefaults(unknown(MAX_BATCH_ITEMS + 1)))
      .to.be.revertedWithCustomError(w.market, "MarketBatchTooLarge")
      .withArgs(MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS);
  });

  it("lets only the meter role record a batch; anyone may settle defaults", async () => {
    const w = await loadFixture(batchWorld);
    for (const caller of [w.grid, w.bob, w.outsider])
      await expect(recordReading(w, w.first, meterId, 1_000n, 1_000n, caller))
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(caller.address);
    await recordReading(w, w.first, meterId, 1_000n, 0n);
    await expect(settleDefault(w, w.first, w.outsider)).to.emit(w.market, "DefaultSettled");
  });
});
