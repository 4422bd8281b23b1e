import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  Denial,
  LINE_SLOT_WH,
  OrderStatus,
  PRICE_PER_KWH,
  publishOffer,
  requestOrder,
  defaultFor,
  slotOf,
  SLOT_SECONDS,
  type MarketWorld,
  marketFixtures,
} from "../helpers/market.js";

/** The grid review of a confirmed order: capacity, limits, denial reasons and manual mode. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture } = networkHelpers;
const SLOT = BigInt(SLOT_SECONDS);
const { autoMarket, manualMarket, thresholdMarket } = marketFixtures(hre, connection);

describe("EnergyMarket", () => {
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

      it("ZoneUnknown: a party without zone is not a trader, so the confirm reverts naming it", async () => {
        const w = await loadFixture(autoMarket);
        const offerId = await publishOffer(w, w.solar, 1_000n);
        const orderId = await requestOrder(w, w.alice, offerId, 1_000n);
        await w.review.connect(w.grid).setZones([w.alice.address], [0]);
        await expect(w.market.connect(w.solar).confirm(orderId))
          .to.be.revertedWithCustomError(w.market, "GridNotTrader")
          .withArgs(w.alice.address);
        expect((await w.market.getOrder(orderId)).status).to.equal(OrderStatus.Requested);
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
});
