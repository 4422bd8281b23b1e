import { expect } from "chai";
import fc from "fast-check";
import hre from "hardhat";
import { BOND, deployWorld } from "../helpers/market.js";
import { recordReading, settleDefault } from "../helpers/metering.js";

/**
 * Grid charges conserve money: whatever the tariff, fee, quantity, delivery and path, the market
 * holds exactly the bonds plus the grid's income, nothing stays locked after an order closes, and
 * the grid receives exactly the tariff on the energy carried plus the fee on the energy not delivered.
 */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
/** Mostly rates a 1000-credit bond can back, sometimes up to the uint32 maximum (bond refused). */
const rate = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 100_000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 4_294_967_295n }) },
);
const ceilKwh = (wh: bigint, perKwh: bigint) => (wh * perKwh + 999n) / 1000n;

function world() {
  return deployWorld(hre, connection);
}

describe("Grid charges (property)", () => {
  it("keep bonds + grid income equal to the market's credits and charge exactly what the rules say", async () => {
    await fc.assert(
      fc.asyncProperty(
        rate,
        rate,
        fc.bigInt({ min: 1n, max: 10_000n }),
        fc.bigInt({ min: 0n, max: 100_000n }),
        fc.nat({ max: 1200 }),
        fc.boolean(),
        fc.constantFrom("meter", "cancel"),
        async (tariff, fee, quantityWh, defaultPerKwh, deliveredPermille, crossZone, path) => {
          const w = await networkHelpers.loadFixture(world);
          const marketAddress = await w.market.getAddress();
          const buyer = crossZone ? w.alice : w.bob; // solar is in zone 1, alice 2, bob 1
          await w.review.connect(w.grid).setTariff(1, crossZone ? 2 : 1, tariff);
          await w.review.connect(w.grid).setCapacityFee(fee);
          await w.market
            .connect(w.solar)
            .publish(
              0,
              1n,
              defaultPerKwh,
              quantityWh,
              w.deliveryStart,
              w.deliveryEnd,
              w.deliveryStart,
            );
          const offerId = await w.market.offerCount();
          await w.market.connect(buyer).request(offerId, quantityWh);
          const orderId = await w.market.orderCount();
          const defaultAmount = ceilKwh(quantityWh, defaultPerKwh);
          const charges = ceilKwh(quantityWh, tariff) + (crossZone ? ceilKwh(quantityWh, fee) : 0n);
          if (defaultAmount + charges > BOND) {
            await expect(w.market.connect(w.solar).confirm(orderId)).to.be.revertedWithCustomError(
              w.market,
              "MarketBondInsufficient",
            );
            return;
          }
          await w.market.connect(w.solar).confirm(orderId);
          expect((await w.market.bondOf(w.solar.address)).locked).to.equal(defaultAmount + charges);
          const buyerBefore = await w.credit.balanceOf(buyer.address);
          let expectedIncome = 0n;
          if (path === "cancel") {
            await w.market.connect(w.grid).cancelOrder(orderId);
          } else {
            const deliveredWh = (quantityWh * BigInt(deliveredPermille)) / 1000n;
            const carried = deliveredWh < quantityWh ? deliveredWh : quantityWh;
            const shortfall = quantityWh - carried;
            expectedIncome = ceilKwh(carried, tariff) + (crossZone ? ceilKwh(shortfall, fee) : 0n);
            await networkHelpers.time.increaseTo(w.deliveryEnd);
            await recordReading(w, orderId, ethers.id("meter"), 1n, deliveredWh);
            if (shortfall > 0n) await settleDefault(w, orderId);
            const payout = (await w.credit.balanceOf(buyer.address)) - buyerBefore;
            expect(payout).to.equal((defaultAmount * shortfall) / quantityWh);
          }
          expect(await w.market.gridIncome()).to.equal(expectedIncome);
          const solar = await w.market.bondOf(w.solar.address);
          const wind = await w.market.bondOf(w.wind.address);
          expect(solar.locked).to.equal(0n);
          expect(await w.credit.balanceOf(marketAddress)).to.equal(
            solar.free + wind.free + wind.locked + (await w.market.gridIncome()),
          );
        },
      ),
      { numRuns: 30 },
    );
  });
});
