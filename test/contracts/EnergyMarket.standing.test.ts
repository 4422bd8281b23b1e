import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  Denial,
  MAX_PARTICIPANT_SLOT_WH,
  OrderStatus,
  PRICE_PER_KWH,
  deployWorld,
  publishOffer,
  defaultFor,
  publishStandingOffer,
} from "../helpers/market.js";

/** Standing offers: one transaction per trade, and line counters shared by four zones. */
const connection = await hre.network.create();
const { networkHelpers } = connection;
const { loadFixture } = networkHelpers;
async function standingMarket() {
  const w = await deployWorld(hre, connection);
  await expect(publishStandingOffer(w, w.solar, 10_000n))
    .to.emit(w.market, "StandingOfferPublished")
    .withArgs(1n);
  return { ...w, offerId: 1n };
}

describe("EnergyMarket standing offers", () => {
  it("establishes a consumer's buy in one transaction, reviewed and bonded like a confirm", async () => {
    const w = await loadFixture(standingMarket);
    const version = await w.review.parametersVersion();
    await expect(w.market.connect(w.alice).buy(w.offerId, 4_000n))
      .to.emit(w.market, "OrderRequested")
      .withArgs(1n, w.offerId, w.alice.address, 4_000n)
      .and.to.emit(w.market, "OrderEstablished")
      .withArgs(
        1n,
        w.alice.address,
        w.solar.address,
        w.offerId,
        4_000n,
        PRICE_PER_KWH,
        w.deliveryStart,
        w.deliveryEnd,
        defaultFor(4_000n),
        version,
        6_000n,
      );
    expect((await w.market.getOrder(1n)).status).to.equal(OrderStatus.Established);
    expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
      BOND - defaultFor(4_000n),
      defaultFor(4_000n),
    ]);
  });

  it("records a denial in the same transaction when the review says no", async () => {
    const w = await loadFixture(standingMarket);
    await w.review.connect(w.grid).setLimits(500n, MAX_PARTICIPANT_SLOT_WH);
    await expect(w.market.connect(w.alice).buy(w.offerId, 1_000n))
      .to.emit(w.market, "OrderDenied")
      .withArgs(1n, Denial.OrderTooLarge, await w.review.parametersVersion());
    expect((await w.market.getOffer(w.offerId)).remainingWh).to.equal(10_000n);
  });

  it("refuses a buy by an account without zone, and on the offer of a seller whose zone was removed", async () => {
    const w = await loadFixture(standingMarket);
    for (const account of [w.carol, w.outsider]) {
      await expect(w.market.connect(account).buy(w.offerId, 1_000n))
        .to.be.revertedWithCustomError(w.market, "GridNotTrader")
        .withArgs(account.address);
    }
    await w.review.connect(w.grid).setZones([w.solar.address], [0]);
    await expect(w.market.connect(w.alice).buy(w.offerId, 1_000n))
      .to.be.revertedWithCustomError(w.market, "GridNotTrader")
      .withArgs(w.solar.address);
    expect(await w.market.orderCount()).to.equal(0n);
    expect((await w.market.getOffer(w.offerId)).remainingWh).to.equal(10_000n);
  });

  it("refuses a buy on an ordinary offer, by an account without zone, and by the seller itself", async () => {
    const w = await loadFixture(standingMarket);
    const ordinary = await publishOffer(w, w.solar, 1_000n);
    await expect(w.market.connect(w.alice).buy(ordinary, 1_000n))
      .to.be.revertedWithCustomError(w.market, "MarketOfferNotStanding")
      .withArgs(ordinary);
    await expect(w.market.connect(w.carol).buy(w.offerId, 1_000n))
      .to.be.revertedWithCustomError(w.market, "GridNotTrader")
      .withArgs(w.carol.address);
    await expect(w.market.connect(w.alice).buy(99n, 1_000n))
      .to.be.revertedWithCustomError(w.market, "MarketUnknownOffer")
      .withArgs(99n);
    await expect(w.market.connect(w.solar).buy(w.offerId, 1_000n))
      .to.be.revertedWithCustomError(w.market, "MarketSelfTrade")
      .withArgs(w.offerId, w.solar.address);
    expect((await w.market.getOffer(w.offerId)).standing).to.equal(true);
    expect((await w.market.getOffer(ordinary)).standing).to.equal(false);
  });

  it("keeps zones of different counter words apart, and releases exactly what it reserved", async () => {
    const w = await loadFixture(standingMarket);
    // Zone 5 lives in the second word of line counters (zones 1-4 share the first).
    await w.review.connect(w.grid).setZones([w.bob.address], [5]);
    await w.review.connect(w.grid).setZoneCapacity(5, 40_000n, 40_000n);
    await w.market.connect(w.bob).buy(w.offerId, 3_000n);
    await w.market.connect(w.alice).buy(w.offerId, 2_000n);
    const slot = w.deliveryStart / 900n;
    expect(await w.review.zoneUsage(1, slot)).to.deep.equal([5_000n, 0n]);
    expect(await w.review.zoneUsage(2, slot)).to.deep.equal([0n, 2_000n]);
    expect(await w.review.zoneUsage(5, slot)).to.deep.equal([0n, 3_000n]);
    await w.market.connect(w.grid).cancelOrder(1n);
    expect(await w.review.zoneUsage(1, slot)).to.deep.equal([2_000n, 0n]);
    expect(await w.review.zoneUsage(5, slot)).to.deep.equal([0n, 0n]);
    expect(await w.review.zoneUsage(2, slot)).to.deep.equal([0n, 2_000n]);
  });
});
