import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  DEFAULT_PER_KWH,
  EnergyType,
  OrderStatus,
  PRICE_PER_KWH,
  publishOffer,
  requestOrder,
  defaultFor,
  slotOf,
  marketFixtures,
} from "../helpers/market.js";

/** Offers and orders: publishing, requesting, confirming, cancelling and expiring. */
const connection = await hre.network.create();
const { networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const { autoMarket, manualMarket, establishedTrade } = marketFixtures(hre, connection);

describe("EnergyMarket", () => {
  describe("step A: release", () => {
    it("publishes an offer with the seller's zone and every term in the event", async () => {
      const w = await loadFixture(autoMarket);
      await expect(
        w.market
          .connect(w.solar)
          .publish(
            EnergyType.Wind,
            PRICE_PER_KWH,
            DEFAULT_PER_KWH,
            12_000n,
            w.deliveryStart,
            w.deliveryEnd,
            w.deliveryStart,
          ),
      )
        .to.emit(w.market, "OfferPublished")
        .withArgs(
          1n,
          w.solar.address,
          1n,
          EnergyType.Wind,
          PRICE_PER_KWH,
          DEFAULT_PER_KWH,
          12_000n,
          w.deliveryStart,
          w.deliveryEnd,
          w.deliveryStart,
        );
      const offer = await w.market.getOffer(1n);
      expect(offer.seller).to.equal(w.solar.address);
      expect(offer.remainingWh).to.equal(12_000n);
      expect(offer.quantityWh).to.equal(12_000n);
      expect(offer.zone).to.equal(1n);
      expect(offer.cancelled).to.equal(false);
      expect(await w.market.offerCount()).to.equal(1n);
    });

    it("lets only producers publish", async () => {
      const w = await loadFixture(autoMarket);
      await expect(
        w.market
          .connect(w.alice)
          .publish(0, 1n, 1n, 1_000n, w.deliveryStart, w.deliveryEnd, w.deliveryStart),
      )
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.alice.address);
    });

    it("rejects a zero quantity, an empty window and an expiry after the delivery start", async () => {
      const w = await loadFixture(autoMarket);
      const m = w.market.connect(w.solar);
      await expect(
        m.publish(0, 1n, 1n, 0n, w.deliveryStart, w.deliveryEnd, w.deliveryStart),
      ).to.be.revertedWithCustomError(w.market, "MarketQuantityZero");
      await expect(m.publish(0, 1n, 1n, 5n, w.deliveryEnd, w.deliveryStart, w.deliveryStart))
        .to.be.revertedWithCustomError(w.market, "MarketWindowInvalid")
        .withArgs(w.deliveryEnd, w.deliveryStart);
      const next = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(next);
      await expect(m.publish(0, 1n, 1n, 5n, w.deliveryStart, w.deliveryEnd, w.deliveryStart + 1n))
        .to.be.revertedWithCustomError(w.market, "MarketExpiryInvalid")
        .withArgs(w.deliveryStart + 1n, next, w.deliveryStart);
    });

    it("lets the seller or the grid operator cancel an offer, nobody else", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 5_000n);
      await expect(w.market.connect(w.outsider).cancelOffer(offerId))
        .to.be.revertedWithCustomError(w.market, "MarketNotSeller")
        .withArgs(offerId, w.outsider.address, w.solar.address);
      await expect(w.market.connect(w.grid).cancelOffer(offerId))
        .to.emit(w.market, "OfferCancelled")
        .withArgs(offerId, w.grid.address, 5_000n);
      await expect(w.market.connect(w.solar).cancelOffer(offerId))
        .to.be.revertedWithCustomError(w.market, "MarketOfferCancelled")
        .withArgs(offerId);
      await expect(w.market.connect(w.alice).request(offerId, 1_000n))
        .to.be.revertedWithCustomError(w.market, "MarketOfferCancelled")
        .withArgs(offerId);
    });
  });

  describe("step B: order", () => {
    it("records a request and emits it", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      await expect(w.market.connect(w.alice).request(offerId, 4_000n))
        .to.emit(w.market, "OrderRequested")
        .withArgs(1n, offerId, w.alice.address, 4_000n);
      const order = await w.market.getOrder(1n);
      expect(order.buyer).to.equal(w.alice.address);
      expect(order.seller).to.equal(w.solar.address);
      expect(order.offerId).to.equal(offerId);
      expect(order.quantityWh).to.equal(4_000n);
      expect(order.pricePerKwh).to.equal(PRICE_PER_KWH);
      expect(order.deliveryStart).to.equal(w.deliveryStart);
      expect(order.deliveryEnd).to.equal(w.deliveryEnd);
      expect(order.status).to.equal(OrderStatus.Requested);
      expect(await w.market.orderCount()).to.equal(1n);
    });

    it("lets only accounts with a zone request, and refuses one whose zone was removed", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      // carol holds the CONSUMER role but no zone; the outsider holds neither.
      for (const account of [w.carol, w.outsider]) {
        await expect(w.market.connect(account).request(offerId, 1_000n))
          .to.be.revertedWithCustomError(w.market, "GridNotTrader")
          .withArgs(account.address);
        await expect(w.market.connect(account).requestBefore(offerId, 1_000n, w.deliveryStart))
          .to.be.revertedWithCustomError(w.market, "GridNotTrader")
          .withArgs(account.address);
      }
      await w.review.connect(w.grid).setZones([w.alice.address], [0]);
      await expect(w.market.connect(w.alice).request(offerId, 1_000n))
        .to.be.revertedWithCustomError(w.market, "GridNotTrader")
        .withArgs(w.alice.address);
      expect(await w.market.orderCount()).to.equal(0n);
      // A producer with a zone may buy too: a trader is an account with a zone.
      await w.market.connect(w.wind).request(offerId, 1_000n);
      expect((await w.market.getOrder(1n)).buyer).to.equal(w.wind.address);
    });

    it("refuses more than the offer has left", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      await expect(w.market.connect(w.alice).request(offerId, 10_001n))
        .to.be.revertedWithCustomError(w.market, "MarketQuantityExceedsRemaining")
        .withArgs(offerId, 10_001n, 10_000n);
      await expect(w.market.connect(w.alice).request(offerId, 0n)).to.be.revertedWithCustomError(
        w.market,
        "MarketQuantityZero",
      );
    });

    it("refuses a request on an expired offer, naming the expiry", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      await time.increaseTo(w.deliveryStart);
      await expect(w.market.connect(w.alice).request(offerId, 1_000n))
        .to.be.revertedWithCustomError(w.market, "MarketOfferExpired")
        .withArgs(offerId, w.deliveryStart);
    });

    it("refuses a request on an unknown offer", async () => {
      const w = await loadFixture(autoMarket);
      await expect(w.market.connect(w.alice).request(7n, 1_000n))
        .to.be.revertedWithCustomError(w.market, "MarketUnknownOffer")
        .withArgs(7n);
    });

    it("lets only the seller confirm, and only once", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 2_000n);
      await expect(w.market.connect(w.wind).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketNotSeller")
        .withArgs(orderId, w.wind.address, w.solar.address);
      await expect(w.market.connect(w.alice).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketNotSeller")
        .withArgs(orderId, w.alice.address, w.solar.address);
      await w.market.connect(w.solar).confirm(orderId);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
        .withArgs(orderId, OrderStatus.Established, OrderStatus.Requested);
    });

    it("refuses a confirm when either party lost its zone, naming it; nothing is reserved", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const first = await requestOrder(w, w.alice, offerId, 2_000n);
      const second = await requestOrder(w, w.bob, offerId, 2_000n);
      await w.review.connect(w.grid).setZones([w.solar.address], [0]);
      await expect(w.market.connect(w.solar).confirm(first))
        .to.be.revertedWithCustomError(w.market, "GridNotTrader")
        .withArgs(w.solar.address);
      await w.review.connect(w.grid).setZones([w.solar.address, w.alice.address], [1, 0]);
      await expect(w.market.connect(w.solar).confirm(first))
        .to.be.revertedWithCustomError(w.market, "GridNotTrader")
        .withArgs(w.alice.address);
      expect((await w.market.getOrder(first)).status).to.equal(OrderStatus.Requested);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
      expect(await w.review.participantUsage(w.solar.address, await slotOf(w))).to.equal(0n);
      await w.market.connect(w.solar).confirm(second);
      expect((await w.market.getOrder(second)).status).to.equal(OrderStatus.Established);
    });

    it("lets the seller reject a request, which then cannot be confirmed", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 2_000n);
      await expect(w.market.connect(w.alice).reject(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketNotSeller")
        .withArgs(orderId, w.alice.address, w.solar.address);
      await expect(w.market.connect(w.solar).reject(orderId))
        .to.emit(w.market, "OrderRejected")
        .withArgs(orderId, w.solar.address);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
        .withArgs(orderId, OrderStatus.Rejected, OrderStatus.Requested);
    });

    it("refuses a confirm that would oversell the offer", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const first = await requestOrder(w, w.alice, offerId, 6_000n);
      const second = await requestOrder(w, w.bob, offerId, 6_000n);
      await w.market.connect(w.solar).confirm(first);
      await expect(w.market.connect(w.solar).confirm(second))
        .to.be.revertedWithCustomError(w.market, "MarketQuantityExceedsRemaining")
        .withArgs(offerId, 6_000n, 4_000n);
    });

    it("refuses a confirm the seller's free bond cannot back", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 10_000n);
      await w.market.connect(w.solar).withdrawBond(BOND - 999_999n);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketBondInsufficient")
        .withArgs(w.solar.address, 999_999n, defaultFor(10_000n));
    });
  });

  describe("cancellation and expiry", () => {
    it("lets the buyer cancel before confirm only", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const open = await requestOrder(w, w.alice, offerId, 1_000n);
      const confirmed = await requestOrder(w, w.alice, offerId, 1_000n);
      await w.market.connect(w.solar).confirm(confirmed);
      await expect(w.market.connect(w.alice).cancelOrder(open))
        .to.emit(w.market, "OrderCancelled")
        .withArgs(open, w.alice.address, OrderStatus.Requested);
      await expect(w.market.connect(w.alice).cancelOrder(confirmed))
        .to.be.revertedWithCustomError(w.market, "MarketCancelNotAllowed")
        .withArgs(confirmed, w.alice.address, OrderStatus.Established);
    });

    it("lets nobody else cancel an order", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 1_000n);
      await expect(w.market.connect(w.outsider).cancelOrder(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketCancelNotAllowed")
        .withArgs(orderId, w.outsider.address, OrderStatus.Requested);
      await expect(w.market.connect(w.solar).cancelOrder(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketCancelNotAllowed")
        .withArgs(orderId, w.solar.address, OrderStatus.Requested);
    });

    it("lets the grid operator cancel an established order and undoes its confirm", async () => {
      const w = await loadFixture(establishedTrade);
      await expect(w.market.connect(w.grid).cancelOrder(w.orderId))
        .to.emit(w.market, "OrderCancelled")
        .withArgs(w.orderId, w.grid.address, OrderStatus.Established)
        .and.to.emit(w.review, "CapacityReleased");
      expect((await w.review.zoneUsage(2, await slotOf(w))).importWh).to.equal(0n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
      expect((await w.market.getOffer(w.offerId)).remainingWh).to.equal(10_000n);
    });

    it("expires a request once its offer has expired, not before", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 1_000n);
      await expect(w.market.connect(w.outsider).expireOrder(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOrderNotExpired")
        .withArgs(orderId, w.deliveryStart);
      await time.increaseTo(w.deliveryStart);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOfferExpired")
        .withArgs(offerId, w.deliveryStart);
      await expect(w.market.connect(w.outsider).expireOrder(orderId))
        .to.emit(w.market, "OrderExpired")
        .withArgs(orderId, w.outsider.address, OrderStatus.Requested);
    });

    it("expires an order still awaiting review at its delivery start and releases its reservation", async () => {
      const w = await loadFixture(manualMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 2_000n);
      await w.market.connect(w.solar).confirm(orderId);
      await time.increaseTo(w.deliveryStart);
      await expect(w.market.connect(w.outsider).expireOrder(orderId))
        .to.emit(w.market, "OrderExpired")
        .withArgs(orderId, w.outsider.address, OrderStatus.AwaitingReview)
        .and.to.emit(w.review, "CapacityReleased");
      expect((await w.review.zoneUsage(1, await slotOf(w))).exportWh).to.equal(0n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("expires an established order only once its metering deadline passed unmetered", async () => {
      const w = await loadFixture(establishedTrade);
      const closesAt = w.deliveryEnd + (await w.market.METERING_GRACE());
      await time.setNextBlockTimestamp(closesAt);
      await expect(w.market.expireOrder(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOrderNotExpired")
        .withArgs(w.orderId, closesAt);
      await time.increaseTo(closesAt + 1n);
      await expect(w.market.connect(w.outsider).expireOrder(w.orderId))
        .to.emit(w.market, "OrderExpired")
        .withArgs(w.orderId, w.outsider.address, OrderStatus.Established);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
      await expect(w.market.expireOrder(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOrderNotExpirable")
        .withArgs(w.orderId, OrderStatus.Expired);
    });
  });
});
