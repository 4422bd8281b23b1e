import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  DEFAULT_PER_KWH,
  Denial,
  EnergyType,
  LINE_SLOT_WH,
  OrderStatus,
  PRICE_PER_KWH,
  SLOT_SECONDS,
  deployWorld,
  publishOffer,
  requestOrder,
  type MarketWorld,
  defaultFor,
  establishTrade,
} from "../helpers/market.js";

const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const SLOT = BigInt(SLOT_SECONDS);

function autoMarket() {
  return deployWorld(hre, connection);
}
function manualMarket() {
  return deployWorld(hre, connection, "manual");
}
function thresholdMarket() {
  return deployWorld(hre, connection, "manualAbove", 5_000n);
}

async function establishedTrade() {
  return await establishTrade(await autoMarket());
}

async function slotOf(world: MarketWorld) {
  return world.deliveryStart / SLOT;
}

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

    it("lets only consumers request", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      await expect(w.market.connect(w.wind).request(offerId, 1_000n))
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.wind.address);
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
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.alice.address);
      await w.market.connect(w.solar).confirm(orderId);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
        .withArgs(orderId, OrderStatus.Established, OrderStatus.Requested);
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

  describe("step C: review", () => {
    it("establishes a confirmed order in auto mode: bond locked, capacity reserved, version recorded", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 8_000n);
      const version = await w.review.parametersVersion();
      const slot = await slotOf(w);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.emit(w.market, "OrderEstablished")
        .withArgs(
          orderId,
          w.alice.address,
          w.solar.address,
          offerId,
          8_000n,
          PRICE_PER_KWH,
          w.deliveryStart,
          w.deliveryEnd,
          defaultFor(8_000n),
          version,
          2_000n,
        )
        .and.to.emit(w.review, "CapacityReserved")
        .withArgs(orderId, version, 1n, 2n, slot, 1n, 8_000n);
      const order = await w.market.getOrder(orderId);
      expect(order.status).to.equal(OrderStatus.Established);
      expect(order.reviewVersion).to.equal(version);
      expect(order.defaultAmount).to.equal(800_000n);
      expect(order.sellerZone).to.equal(1n);
      expect(order.buyerZone).to.equal(2n);
      const bond = await w.market.bondOf(w.solar.address);
      expect(bond.free).to.equal(BOND - 800_000n);
      expect(bond.locked).to.equal(800_000n);
      expect((await w.market.getOffer(offerId)).remainingWh).to.equal(2_000n);
      expect((await w.review.zoneUsage(1, slot)).exportWh).to.equal(8_000n);
      expect((await w.review.zoneUsage(2, slot)).importWh).to.equal(8_000n);
      expect(await w.review.participantUsage(w.alice.address, slot)).to.equal(8_000n);
      expect(await w.review.participantUsage(w.solar.address, slot)).to.equal(8_000n);
    });

    it("reserves no line capacity for an order inside one zone", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 15_000n);
      const orderId = await requestOrder(w, w.bob, offerId, 15_000n);
      await expect(w.market.connect(w.solar).confirm(orderId)).to.emit(
        w.market,
        "OrderEstablished",
      );
      const slot = await slotOf(w);
      expect((await w.review.zoneUsage(1, slot)).exportWh).to.equal(0n);
      expect((await w.review.zoneUsage(1, slot)).importWh).to.equal(0n);
      expect(await w.review.participantUsage(w.bob.address, slot)).to.equal(15_000n);
    });

    it("spreads an order evenly over the slots of its window, rounding each share up", async () => {
      const w = await loadFixture(autoMarket);
      const end = w.deliveryStart + 3n * SLOT;
      const offerId = await publishOffer(w, w.solar, 10_000n, { end });
      const orderId = await requestOrder(w, w.alice, offerId, 10_000n);
      await w.market.connect(w.solar).confirm(orderId);
      const slot = await slotOf(w);
      for (const s of [slot, slot + 1n, slot + 2n]) {
        expect((await w.review.zoneUsage(1, s)).exportWh).to.equal(3_334n);
      }
      expect((await w.review.zoneUsage(1, slot + 3n)).exportWh).to.equal(0n);
    });

    describe("denies with the reason of the first rule broken", () => {
      const denied = async (w: MarketWorld, orderId: bigint, reason: bigint): Promise<void> => {
        const version = await w.review.parametersVersion();
        const freeBefore = (await w.market.bondOf(w.solar.address)).free;
        const order = await w.market.getOrder(orderId);
        const remainingBefore = (await w.market.getOffer(order.offerId)).remainingWh;
        await expect(w.market.connect(await ethers.getSigner(order.seller)).confirm(orderId))
          .to.emit(w.market, "OrderDenied")
          .withArgs(orderId, reason, version)
          .and.to.emit(w.review, "ReviewDenied")
          .withArgs(orderId, reason, version);
        const after = await w.market.getOrder(orderId);
        expect(after.status).to.equal(OrderStatus.Denied);
        expect(after.denialReason).to.equal(reason);
        expect((await w.market.bondOf(w.solar.address)).free).to.equal(freeBefore);
        expect((await w.market.getOffer(order.offerId)).remainingWh).to.equal(remainingBefore);
      };

      it("ZoneUnknown: the buyer has no zone", async () => {
        const w = await loadFixture(autoMarket);
        const offerId = await publishOffer(w, w.solar, 1_000n);
        await denied(w, await requestOrder(w, w.carol, offerId, 1_000n), Denial.ZoneUnknown);
      });

      it("WindowNotAligned: the window does not start on a slot boundary", async () => {
        const w = await loadFixture(autoMarket);
        const offerId = await publishOffer(w, w.solar, 1_000n, {
          start: w.deliveryStart + 60n,
          end: w.deliveryEnd,
        });
        await denied(w, await requestOrder(w, w.alice, offerId, 1_000n), Denial.WindowNotAligned);
      });

      it("WindowTooLong: the window covers more than 96 slots", async () => {
        const w = await loadFixture(autoMarket);
        const offerId = await publishOffer(w, w.solar, 1_000n, {
          end: w.deliveryStart + 97n * SLOT,
        });
        await denied(w, await requestOrder(w, w.alice, offerId, 1_000n), Denial.WindowTooLong);
      });

      it("OrderTooLarge: above the per-order maximum", async () => {
        const w = await loadFixture(autoMarket);
        await w.review.connect(w.grid).setLimits(4_000n, 20_000n);
        const offerId = await publishOffer(w, w.solar, 5_000n);
        await denied(w, await requestOrder(w, w.bob, offerId, 4_001n), Denial.OrderTooLarge);
      });

      it("ParticipantSlotLimit: the buyer's slot total would pass the limit", async () => {
        const w = await loadFixture(autoMarket);
        const offerId = await publishOffer(w, w.solar, 30_000n);
        await w.market.connect(w.solar).confirm(await requestOrder(w, w.bob, offerId, 15_000n));
        await denied(w, await requestOrder(w, w.bob, offerId, 5_001n), Denial.ParticipantSlotLimit);
      });

      it("ExportCapacity: the seller zone's line is full", async () => {
        const w = await loadFixture(autoMarket);
        await w.review.connect(w.grid).setZoneCapacity(1, 20_000n, 40_000n);
        const offerId = await publishOffer(w, w.solar, 6_000n);
        await denied(w, await requestOrder(w, w.alice, offerId, 5_001n), Denial.ExportCapacity);
      });

      it("ImportCapacity: the buyer zone's line is full", async () => {
        const w = await loadFixture(autoMarket);
        await w.review.connect(w.grid).setZoneCapacity(1, 40_000n, 20_000n);
        const offerId = await publishOffer(w, w.wind, 6_000n);
        await denied(w, await requestOrder(w, w.bob, offerId, 5_001n), Denial.ImportCapacity);
      });
    });

    it("never lets two orders in one slot jointly exceed a line, and fills it exactly", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 20_000n);
      const first = await requestOrder(w, w.alice, offerId, 6_000n);
      const second = await requestOrder(w, w.alice, offerId, 4_001n);
      const third = await requestOrder(w, w.alice, offerId, 4_000n);
      await w.market.connect(w.solar).confirm(first);
      await expect(w.market.connect(w.solar).confirm(second))
        .to.emit(w.market, "OrderDenied")
        .withArgs(second, Denial.ExportCapacity, await w.review.parametersVersion());
      await w.market.connect(w.solar).confirm(third);
      expect((await w.market.getOrder(third)).status).to.equal(OrderStatus.Established);
      expect((await w.review.zoneUsage(1, await slotOf(w))).exportWh).to.equal(LINE_SLOT_WH);
    });

    it("bumps the parameters version on every change and emits who changed what", async () => {
      const w = await loadFixture(autoMarket);
      const before = await w.review.parametersVersion();
      await expect(w.review.connect(w.grid).setReviewMode(2, 7_000n))
        .to.emit(w.review, "ReviewModeSet")
        .withArgs(2n, 7_000n, before + 1n);
      await expect(w.review.connect(w.grid).setZones([w.carol.address], [3]))
        .to.emit(w.review, "ZoneAssigned")
        .withArgs(w.carol.address, 3n, before + 2n);
      expect(await w.review.parametersVersion()).to.equal(before + 2n);
      await expect(w.review.connect(w.alice).setLimits(1n, 1n))
        .to.be.revertedWithCustomError(w.review, "AccessManagedUnauthorized")
        .withArgs(w.alice.address);
      await expect(w.review.connect(w.grid).setZones([w.carol.address], []))
        .to.be.revertedWithCustomError(w.review, "ReviewLengthMismatch")
        .withArgs(1n, 0n);
    });

    it("refuses capacity for zone 0, which means no zone", async () => {
      const w = await loadFixture(autoMarket);
      await expect(w.review.connect(w.grid).setZoneCapacity(0, 1n, 1n))
        .to.be.revertedWithCustomError(w.review, "ReviewZoneInvalid")
        .withArgs(0n);
    });

    it("lets only the market reserve capacity", async () => {
      const w = await loadFixture(autoMarket);
      const terms = {
        orderId: 1n,
        seller: w.solar.address,
        sellerZone: 1,
        buyer: w.alice.address,
        quantityWh: 1n,
        deliveryStart: w.deliveryStart,
        deliveryEnd: w.deliveryEnd,
      };
      await expect(w.review.connect(w.grid).review(terms))
        .to.be.revertedWithCustomError(w.review, "ReviewCallerNotMarket")
        .withArgs(w.grid.address, await w.market.getAddress());
      await expect(w.review.connect(w.admin).setMarket(w.admin.address))
        .to.be.revertedWithCustomError(w.review, "ReviewMarketAlreadySet")
        .withArgs(await w.market.getAddress());
    });

    describe("manual mode", () => {
      it("reserves at confirm, then the grid operator approves", async () => {
        const w = await loadFixture(manualMarket);
        const offerId = await publishOffer(w, w.solar, 10_000n);
        const orderId = await requestOrder(w, w.alice, offerId, 3_000n);
        const version = await w.review.parametersVersion();
        await expect(w.market.connect(w.solar).confirm(orderId))
          .to.emit(w.market, "OrderAwaitingReview")
          .withArgs(orderId, w.solar.address, 3_000n, defaultFor(3_000n), version, 7_000n);
        expect((await w.review.zoneUsage(1, await slotOf(w))).exportWh).to.equal(3_000n);
        await expect(w.market.connect(w.solar).approveOrder(orderId))
          .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
          .withArgs(w.solar.address);
        await expect(w.market.connect(w.grid).approveOrder(orderId))
          .to.emit(w.market, "OrderEstablished")
          .withArgs(
            orderId,
            w.alice.address,
            w.solar.address,
            offerId,
            3_000n,
            PRICE_PER_KWH,
            w.deliveryStart,
            w.deliveryEnd,
            defaultFor(3_000n),
            version,
            7_000n,
          );
        await expect(w.market.connect(w.grid).approveOrder(orderId))
          .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
          .withArgs(orderId, OrderStatus.Established, OrderStatus.AwaitingReview);
      });

      it("gives capacity, bond and quantity back when the grid operator denies", async () => {
        const w = await loadFixture(manualMarket);
        const offerId = await publishOffer(w, w.solar, 10_000n);
        const orderId = await requestOrder(w, w.alice, offerId, 3_000n);
        await w.market.connect(w.solar).confirm(orderId);
        const version = await w.review.parametersVersion();
        await expect(w.market.connect(w.grid).denyOrder(orderId))
          .to.emit(w.market, "OrderDenied")
          .withArgs(orderId, Denial.DeniedByOperator, version)
          .and.to.emit(w.review, "CapacityReleased")
          .withArgs(orderId, 1n, 2n, await slotOf(w), 1n);
        expect((await w.review.zoneUsage(1, await slotOf(w))).exportWh).to.equal(0n);
        expect(await w.review.participantUsage(w.alice.address, await slotOf(w))).to.equal(0n);
        expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
        expect((await w.market.getOffer(offerId)).remainingWh).to.equal(10_000n);
      });

      it("lets only the grid operator deny, also while paused; approving waits for unpause", async () => {
        const w = await loadFixture(manualMarket);
        const offerId = await publishOffer(w, w.solar, 10_000n);
        const first = await requestOrder(w, w.alice, offerId, 1_000n);
        const second = await requestOrder(w, w.alice, offerId, 1_000n);
        await w.market.connect(w.solar).confirm(first);
        await w.market.connect(w.solar).confirm(second);
        await expect(w.market.connect(w.alice).denyOrder(first))
          .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
          .withArgs(w.alice.address);
        await w.market.connect(w.grid).pause();
        await expect(w.market.connect(w.grid).approveOrder(first)).to.be.revertedWithCustomError(
          w.market,
          "MarketPaused",
        );
        await expect(w.market.connect(w.grid).denyOrder(second)).to.emit(w.market, "OrderDenied");
      });

      it("goes to the grid operator only above the threshold", async () => {
        const w = await loadFixture(thresholdMarket);
        const offerId = await publishOffer(w, w.solar, 11_000n);
        const small = await requestOrder(w, w.alice, offerId, 5_000n);
        const large = await requestOrder(w, w.bob, offerId, 5_001n);
        await expect(w.market.connect(w.solar).confirm(small)).to.emit(
          w.market,
          "OrderEstablished",
        );
        await expect(w.market.connect(w.solar).confirm(large)).to.emit(
          w.market,
          "OrderAwaitingReview",
        );
        expect((await w.market.getOrder(large)).status).to.equal(OrderStatus.AwaitingReview);
      });
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

  describe("step D: metering and default settlement", () => {
    const meterId = ethers.id("meter:alice-home");

    it("refuses a reading before the delivery window is over", async () => {
      const w = await loadFixture(establishedTrade);
      await expect(w.market.connect(w.meter).recordMeterReading(w.orderId, meterId, 10n, 10_000n))
        .to.be.revertedWithCustomError(w.market, "MarketDeliveryNotOver")
        .withArgs(w.orderId, w.deliveryEnd);
    });

    it("lets only the meter role record readings", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await expect(w.market.connect(w.grid).recordMeterReading(w.orderId, meterId, 10n, 10_000n))
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.grid.address);
    });

    it("closes a fully delivered order and frees the bond", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await expect(
        w.market.connect(w.meter).recordMeterReading(w.orderId, meterId, 52_000n, 10_000n),
      )
        .to.emit(w.market, "MeterReadingRecorded")
        .withArgs(w.orderId, meterId, w.meter.address, 52_000n, 10_000n, 0n);
      const order = await w.market.getOrder(w.orderId);
      expect(order.status).to.equal(OrderStatus.Delivered);
      expect(order.deliveredWh).to.equal(10_000n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
      expect(await w.market.lastMeterReading(meterId)).to.equal(52_000n);
      await expect(
        w.market.connect(w.meter).recordMeterReading(w.orderId, meterId, 53_000n, 10_000n),
      )
        .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
        .withArgs(w.orderId, OrderStatus.Delivered, OrderStatus.Established);
    });

    it("keeps one reading per meter and window end, never lower for a later window", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const first = await requestOrder(w, w.alice, offerId, 1_000n);
      const second = await requestOrder(w, w.alice, offerId, 1_000n);
      await w.market.connect(w.solar).confirm(first);
      await w.market.connect(w.solar).confirm(second);
      const later = await publishOffer(w, w.solar, 1_000n, {
        start: w.deliveryEnd,
        end: w.deliveryEnd + 900n,
      });
      const third = await requestOrder(w, w.alice, later, 1_000n);
      await w.market.connect(w.solar).confirm(third);
      await time.increaseTo(w.deliveryEnd + 900n);
      await w.market.connect(w.meter).recordMeterReading(first, meterId, 5_000n, 1_000n);
      await expect(w.market.connect(w.meter).recordMeterReading(second, meterId, 4_999n, 1_000n))
        .to.be.revertedWithCustomError(w.market, "MarketMeterReadingMismatch")
        .withArgs(meterId, w.deliveryEnd, 5_000n, 4_999n);
      await expect(w.market.connect(w.meter).recordMeterReading(third, meterId, 4_999n, 1_000n))
        .to.be.revertedWithCustomError(w.market, "MarketMeterReadingBelowEarlier")
        .withArgs(meterId, 4_999n, w.deliveryEnd, 5_000n);
    });

    it("pays a shortfall pro rata from the locked bond, rounding down, once", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await w.market.connect(w.meter).recordMeterReading(w.orderId, meterId, 3_333n, 3_333n);
      expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.Defaulted);
      // defaultAmount 1_000_000 for 10 kWh; shortfall 6_667 Wh -> 666_700 to alice, 333_300 back.
      await expect(w.market.connect(w.outsider).settleDefault(w.orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(w.orderId, w.alice.address, w.solar.address, 6_667n, 666_700n, 333_300n)
        .and.to.emit(w.credit, "Transfer")
        .withArgs(await w.market.getAddress(), w.alice.address, 666_700n);
      expect(await w.credit.balanceOf(w.alice.address)).to.equal(666_700n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND - 666_700n, 0n]);
      expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.DefaultSettled);
      await expect(w.market.connect(w.outsider).settleDefault(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketDefaultAlreadySettled")
        .withArgs(w.orderId);
    });

    it("rounds a pro-rata payout down and returns the remainder to the seller", async () => {
      const w = await loadFixture(autoMarket);
      await w.market
        .connect(w.solar)
        .publish(0, PRICE_PER_KWH, 7n, 3n, w.deliveryStart, w.deliveryEnd, w.deliveryStart);
      const orderId = await requestOrder(w, w.alice, 1n, 3n);
      await w.market.connect(w.solar).confirm(orderId);
      // ceil(3 Wh * 7 / 1000) = 1 locked; a 1 Wh shortfall pays floor(1 * 1 / 3) = 0.
      expect((await w.market.getOrder(orderId)).defaultAmount).to.equal(1n);
      await time.increaseTo(w.deliveryEnd);
      await w.market.connect(w.meter).recordMeterReading(orderId, meterId, 1n, 2n);
      await expect(w.market.settleDefault(orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(orderId, w.alice.address, w.solar.address, 1n, 0n, 1n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("refuses to settle an order that did not default", async () => {
      const w = await loadFixture(establishedTrade);
      await expect(w.market.settleDefault(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketUnexpectedOrderStatus")
        .withArgs(w.orderId, OrderStatus.Established, OrderStatus.Defaulted);
      await expect(w.market.settleDefault(99n))
        .to.be.revertedWithCustomError(w.market, "MarketUnknownOrder")
        .withArgs(99n);
    });
  });

  describe("bonds", () => {
    it("deposits approved credits into the free bond", async () => {
      const w = await loadFixture(autoMarket);
      await w.credit.connect(w.grid).mint(w.solar.address, 500n, ethers.ZeroHash);
      await w.credit.connect(w.solar).approve(await w.market.getAddress(), 500n);
      await expect(w.market.connect(w.solar).depositBond(500n))
        .to.emit(w.market, "BondDeposited")
        .withArgs(w.solar.address, 500n, BOND + 500n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND + 500n, 0n]);
      expect(await w.credit.balanceOf(await w.market.getAddress())).to.equal(2n * BOND + 500n);
    });

    it("withdraws only the free bond", async () => {
      const w = await loadFixture(establishedTrade);
      const free = BOND - defaultFor(10_000n);
      await expect(w.market.connect(w.solar).withdrawBond(free + 1n))
        .to.be.revertedWithCustomError(w.market, "MarketBondInsufficient")
        .withArgs(w.solar.address, free, free + 1n);
      await expect(w.market.connect(w.solar).withdrawBond(free))
        .to.emit(w.market, "BondWithdrawn")
        .withArgs(w.solar.address, free, 0n);
      expect(await w.credit.balanceOf(w.solar.address)).to.equal(free);
    });
  });

  describe("upgrades", () => {
    it("accept upgradeToAndCall only from the upgrader role", async () => {
      const w = await loadFixture(autoMarket);
      for (const target of [w.market, w.review]) {
        await expect(target.connect(w.grid).upgradeToAndCall(w.grid.address, "0x"))
          .to.be.revertedWithCustomError(target, "AccessManagedUnauthorized")
          .withArgs(w.grid.address);
      }
    });
  });

  describe("logs", () => {
    it("carry enough to rebuild the order book and every trade", async () => {
      const w = await loadFixture(autoMarket);
      const a = await publishOffer(w, w.solar, 10_000n);
      const b = await publishOffer(w, w.wind, 5_000n);
      const o1 = await requestOrder(w, w.alice, a, 4_000n);
      const o2 = await requestOrder(w, w.bob, b, 5_000n);
      const o3 = await requestOrder(w, w.carol, a, 1_000n);
      const o4 = await requestOrder(w, w.bob, a, 2_000n);
      await w.market.connect(w.solar).confirm(o1);
      await w.market.connect(w.wind).confirm(o2);
      await w.market.connect(w.solar).confirm(o3); // denied: carol has no zone
      await w.market.connect(w.solar).reject(o4);
      await w.market.connect(w.grid).cancelOrder(o2);
      await w.market.connect(w.wind).cancelOffer(b);

      const offers = new Map<bigint, { remainingWh: bigint; cancelled: boolean }>();
      const orders = new Map<bigint, { status: bigint; quantityWh: bigint; offerId: bigint }>();
      const logs = await ethers.provider.getLogs({
        address: await w.market.getAddress(),
        fromBlock: 0,
      });
      for (const log of logs) {
        const parsed = w.market.interface.parseLog(log);
        if (parsed === null) continue;
        const args = parsed.args;
        switch (parsed.name) {
          case "OfferPublished":
            offers.set(args.offerId, { remainingWh: args.quantityWh, cancelled: false });
            break;
          case "OfferCancelled":
            offers.get(args.offerId)!.cancelled = true;
            break;
          case "OrderRequested":
            orders.set(args.orderId, {
              status: OrderStatus.Requested,
              quantityWh: args.quantityWh,
              offerId: args.offerId,
            });
            break;
          case "OrderEstablished":
            orders.get(args.orderId)!.status = OrderStatus.Established;
            offers.get(args.offerId)!.remainingWh = args.offerRemainingWh;
            break;
          case "OrderDenied":
            orders.get(args.orderId)!.status = OrderStatus.Denied;
            break;
          case "OrderRejected":
            orders.get(args.orderId)!.status = OrderStatus.Rejected;
            break;
          case "OrderCancelled": {
            const order = orders.get(args.orderId)!;
            if (args.previousStatus !== OrderStatus.Requested)
              offers.get(order.offerId)!.remainingWh += order.quantityWh;
            order.status = OrderStatus.Cancelled;
            break;
          }
        }
      }
      expect(offers.size).to.equal(Number(await w.market.offerCount()));
      for (const [id, offer] of offers) {
        const onChain = await w.market.getOffer(id);
        expect([offer.remainingWh, offer.cancelled]).to.deep.equal([
          onChain.remainingWh,
          onChain.cancelled,
        ]);
      }
      expect(orders.size).to.equal(Number(await w.market.orderCount()));
      for (const [id, order] of orders) {
        expect(order.status, `order ${id}`).to.equal((await w.market.getOrder(id)).status);
      }
      expect([...orders.values()].map((o) => o.status)).to.deep.equal([
        OrderStatus.Established,
        OrderStatus.Cancelled,
        OrderStatus.Denied,
        OrderStatus.Rejected,
      ]);
    });
  });

  describe("pause", () => {
    it("lets only the grid operator pause, and stops new business", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 1_000n);
      await expect(w.market.connect(w.solar).pause())
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.solar.address);
      await w.market.connect(w.grid).pause();
      await expect(
        w.market
          .connect(w.solar)
          .publish(0, 1n, 1n, 1n, w.deliveryStart, w.deliveryEnd, w.deliveryStart),
      ).to.be.revertedWithCustomError(w.market, "MarketPaused");
      await expect(w.market.connect(w.alice).request(offerId, 1n)).to.be.revertedWithCustomError(
        w.market,
        "MarketPaused",
      );
      await expect(w.market.connect(w.solar).confirm(orderId)).to.be.revertedWithCustomError(
        w.market,
        "MarketPaused",
      );
      await w.market.connect(w.grid).unpause();
      await expect(w.market.connect(w.solar).confirm(orderId)).to.emit(
        w.market,
        "OrderEstablished",
      );
    });

    it("never blocks exits: reject, cancel, expire, withdraw, meter and settle", async () => {
      const w = await loadFixture(establishedTrade);
      const open = await publishOffer(w, w.solar, 2n);
      const rejected = await requestOrder(w, w.bob, open, 1n);
      const cancelled = await requestOrder(w, w.bob, open, 1n);
      const offer2 = await publishOffer(w, w.wind, 1_000n);
      const stale = await requestOrder(w, w.bob, offer2, 1_000n);
      await w.market.connect(w.grid).pause();
      await expect(w.market.connect(w.solar).reject(rejected)).to.emit(w.market, "OrderRejected");
      await expect(w.market.connect(w.bob).cancelOrder(cancelled)).to.emit(
        w.market,
        "OrderCancelled",
      );
      await expect(w.market.connect(w.wind).cancelOffer(offer2)).to.emit(
        w.market,
        "OfferCancelled",
      );
      await expect(w.market.expireOrder(stale)).to.emit(w.market, "OrderExpired");
      await expect(w.market.connect(w.wind).withdrawBond(1n)).to.emit(w.market, "BondWithdrawn");
      await time.increaseTo(w.deliveryEnd);
      await expect(
        w.market.connect(w.meter).recordMeterReading(w.orderId, ethers.id("m"), 1n, 0n),
      ).to.emit(w.market, "MeterReadingRecorded");
      await expect(w.market.settleDefault(w.orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(w.orderId, w.alice.address, w.solar.address, 10_000n, 1_000_000n, 0n);
    });
  });
});
