import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  DEFAULT_PER_KWH,
  EnergyType,
  OrderStatus,
  PRICE_PER_KWH,
  defaultFor,
  deployWorld,
  publishStandingOffer,
} from "../helpers/market.js";
import { recordReading, settleDefault } from "../helpers/metering.js";

/** What booking energy or line capacity costs the party who books it. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const FEE_PER_KWH = 20_000n; // 0.02 credits per kWh of line held
const BUYER_BOND = 1_000_000n; // 1 credit

async function squatMarket() {
  const w = await deployWorld(hre, connection);
  await w.review.connect(w.grid).setCapacityFee(FEE_PER_KWH);
  // A standing offer of zone 1 (solar) that alice (zone 2) buys across the line.
  await publishStandingOffer(w, w.solar, 10_000n);
  const offerId = await w.market.offerCount();
  return { ...w, offerId };
}

async function withBuyerBond() {
  const w = await squatMarket();
  await w.credit.connect(w.grid).mint(w.alice.address, BUYER_BOND, ethers.ZeroHash);
  await w.credit.connect(w.alice).approve(await w.market.getAddress(), BUYER_BOND);
  await w.market.connect(w.alice).depositBond(BUYER_BOND);
  return w;
}

describe("EnergyMarket: booking costs the party who books", () => {
  describe("a buyer reserving a standing offer's line pays the capacity fee", () => {
    it("locks the fee from the buyer's bond, not the seller's", async () => {
      const w = await loadFixture(withBuyerBond);
      await expect(w.market.connect(w.alice).buy(w.offerId, 10_000n)).to.emit(
        w.market,
        "OrderEstablished",
      );
      const fee = 10n * FEE_PER_KWH;
      expect(await w.market.bondOf(w.alice.address)).to.deep.equal([BUYER_BOND - fee, fee]);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
        BOND - defaultFor(10_000n),
        defaultFor(10_000n),
      ]);
      expect((await w.market.getOrder(1n)).buyerPaysCapacityFee).to.equal(true);
    });

    it("refuses a buyer without the bond to hold the line, and books nothing", async () => {
      const w = await loadFixture(squatMarket);
      await expect(w.market.connect(w.alice).buy(w.offerId, 10_000n))
        .to.be.revertedWithCustomError(w.market, "MarketBondInsufficient")
        .withArgs(w.alice.address, 0n, 10n * FEE_PER_KWH);
      expect(await w.market.orderCount()).to.equal(0n);
      expect(await w.review.zoneUsage(1, w.deliveryStart / 900n)).to.deep.equal([0n, 0n]);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("keeps the fee of an undelivered squat for the grid, from the buyer's bond", async () => {
      const w = await loadFixture(withBuyerBond);
      await w.market.connect(w.alice).buy(w.offerId, 10_000n);
      await time.increaseTo(w.deliveryEnd);
      // 4 kWh delivered: the buyer gets the fee for those back, the grid keeps the 6 kWh not used.
      await expect(recordReading(w, 1n, ethers.id("m"), 4_000n, 4_000n))
        .to.emit(w.market, "BuyerCapacityFeeSettled")
        .withArgs(1n, w.alice.address, 6n * FEE_PER_KWH, 4n * FEE_PER_KWH)
        .and.to.emit(w.market, "GridChargesSettled")
        .withArgs(1n, w.solar.address, 0n, 6n * FEE_PER_KWH, 0n);
      expect(await w.market.bondOf(w.alice.address)).to.deep.equal([
        BUYER_BOND - 6n * FEE_PER_KWH,
        0n,
      ]);
      expect(await w.market.gridIncome()).to.equal(6n * FEE_PER_KWH);
      // The seller's default for the shortfall still pays the buyer.
      await settleDefault(w, 1n);
      expect((await w.market.getOrder(1n)).status).to.equal(OrderStatus.DefaultSettled);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
        BOND - (defaultFor(10_000n) * 6_000n) / 10_000n,
        0n,
      ]);
    });

    it("gives the whole fee back to the buyer when the grid operator cancels before delivery", async () => {
      const w = await loadFixture(withBuyerBond);
      await w.market.connect(w.alice).buy(w.offerId, 10_000n);
      await w.market.connect(w.grid).cancelOrder(1n);
      expect(await w.market.bondOf(w.alice.address)).to.deep.equal([BUYER_BOND, 0n]);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("still charges the seller who confirms a request itself", async () => {
      const w = await loadFixture(withBuyerBond);
      await w.market
        .connect(w.solar)
        .publish(
          EnergyType.Solar,
          PRICE_PER_KWH,
          DEFAULT_PER_KWH,
          10_000n,
          w.deliveryStart,
          w.deliveryEnd,
          w.deliveryStart,
        );
      await w.market.connect(w.alice).request(await w.market.offerCount(), 5_000n);
      await w.market.connect(w.solar).confirm(1n);
      expect(await w.market.bondOf(w.alice.address)).to.deep.equal([BUYER_BOND, 0n]);
      expect((await w.market.bondOf(w.solar.address)).locked).to.equal(
        defaultFor(5_000n) + 5n * FEE_PER_KWH,
      );
    });
  });

  describe("the grid sets the least default per kWh an offer may state", () => {
    it("is a versioned parameter only the grid operator sets", async () => {
      const w = await loadFixture(squatMarket);
      const version = await w.review.parametersVersion();
      await expect(w.review.connect(w.grid).setMinDefault(40_000))
        .to.emit(w.review, "MinDefaultSet")
        .withArgs(40_000, version + 1n);
      expect(await w.review.minDefault()).to.equal(40_000n);
      await expect(w.review.connect(w.solar).setMinDefault(0))
        .to.be.revertedWithCustomError(w.review, "AccessManagedUnauthorized")
        .withArgs(w.solar.address);
    });

    it("refuses an offer whose default is below it, standing or not", async () => {
      const w = await loadFixture(squatMarket);
      await w.review.connect(w.grid).setMinDefault(Number(DEFAULT_PER_KWH));
      const terms = [
        EnergyType.Solar,
        PRICE_PER_KWH,
        DEFAULT_PER_KWH - 1n,
        10_000n,
        w.deliveryStart,
        w.deliveryEnd,
        w.deliveryStart,
      ] as const;
      await expect(w.market.connect(w.solar).publish(...terms))
        .to.be.revertedWithCustomError(w.market, "MarketDefaultBelowMinimum")
        .withArgs(DEFAULT_PER_KWH - 1n, DEFAULT_PER_KWH);
      await expect(w.market.connect(w.solar).publishStanding(...terms))
        .to.be.revertedWithCustomError(w.market, "MarketDefaultBelowMinimum")
        .withArgs(DEFAULT_PER_KWH - 1n, DEFAULT_PER_KWH);
      await expect(
        w.market
          .connect(w.solar)
          .publish(
            EnergyType.Solar,
            PRICE_PER_KWH,
            DEFAULT_PER_KWH,
            10_000n,
            w.deliveryStart,
            w.deliveryEnd,
            w.deliveryStart,
          ),
      ).to.emit(w.market, "OfferPublished");
    });
  });
});
