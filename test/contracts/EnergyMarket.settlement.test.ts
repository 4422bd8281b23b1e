import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  MAX_PARTICIPANT_SLOT_WH,
  OrderStatus,
  PRICE_PER_KWH,
  publishOffer,
  requestOrder,
  defaultFor,
  marketFixtures,
} from "../helpers/market.js";
import { recordReading, settleDefault, expectRefused } from "../helpers/metering.js";

/** Metering, default settlement, bonds, upgrades, logs and pause. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const { autoMarket, establishedTrade } = marketFixtures(hre, connection);

describe("EnergyMarket", () => {
  describe("step D: metering and default settlement", () => {
    const meterId = ethers.id("meter:alice-home");

    it("refuses a reading before the delivery window is over", async () => {
      const w = await loadFixture(establishedTrade);
      await expectRefused(
        recordReading(w, w.orderId, meterId, 10n, 10_000n),
        w.market,
        w.orderId,
        "MarketDeliveryNotOver",
        [w.orderId, w.deliveryEnd],
      );
    });

    it("lets only the meter role record readings", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await expect(recordReading(w, w.orderId, meterId, 10n, 10_000n, w.grid))
        .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
        .withArgs(w.grid.address);
    });

    it("closes a fully delivered order and frees the bond", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await expect(recordReading(w, w.orderId, meterId, 52_000n, 10_000n))
        .to.emit(w.market, "MeterReadingRecorded")
        .withArgs(w.orderId, meterId, w.meter.address, 52_000n, 10_000n, 0n);
      const order = await w.market.getOrder(w.orderId);
      expect(order.status).to.equal(OrderStatus.Delivered);
      expect(order.deliveredWh).to.equal(10_000n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
      expect(await w.market.lastMeterReading(meterId)).to.equal(52_000n);
      await expectRefused(
        recordReading(w, w.orderId, meterId, 53_000n, 10_000n),
        w.market,
        w.orderId,
        "MarketUnexpectedOrderStatus",
        [w.orderId, OrderStatus.Delivered, OrderStatus.Established],
      );
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
      await recordReading(w, first, meterId, 5_000n, 1_000n);
      await expectRefused(
        recordReading(w, second, meterId, 4_999n, 1_000n),
        w.market,
        second,
        "MarketMeterReadingMismatch",
        [meterId, w.deliveryEnd, 5_000n, 4_999n],
      );
      await expectRefused(
        recordReading(w, third, meterId, 4_999n, 1_000n),
        w.market,
        third,
        "MarketMeterReadingBelowEarlier",
        [meterId, 4_999n, w.deliveryEnd, 5_000n],
      );
    });

    it("pays a shortfall pro rata from the locked bond, rounding down, once", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      await recordReading(w, w.orderId, meterId, 3_333n, 3_333n);
      expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.Defaulted);
      // defaultAmount 1_000_000 for 10 kWh; shortfall 6_667 Wh -> 666_700 to alice, 333_300 back.
      await expect(settleDefault(w, w.orderId, w.outsider))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(w.orderId, w.alice.address, w.solar.address, 6_667n, 666_700n, 333_300n)
        .and.to.emit(w.credit, "Transfer")
        .withArgs(await w.market.getAddress(), w.alice.address, 666_700n);
      expect(await w.credit.balanceOf(w.alice.address)).to.equal(666_700n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND - 666_700n, 0n]);
      expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.DefaultSettled);
      await expectRefused(
        settleDefault(w, w.orderId, w.outsider),
        w.market,
        w.orderId,
        "MarketDefaultAlreadySettled",
        [w.orderId],
      );
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
      await recordReading(w, orderId, meterId, 1n, 2n);
      await expect(settleDefault(w, orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(orderId, w.alice.address, w.solar.address, 1n, 0n, 1n);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("refuses to settle an order that did not default", async () => {
      const w = await loadFixture(establishedTrade);
      await expectRefused(
        settleDefault(w, w.orderId),
        w.market,
        w.orderId,
        "MarketUnexpectedOrderStatus",
        [w.orderId, OrderStatus.Established, OrderStatus.Defaulted],
      );
      await expectRefused(settleDefault(w, 99n), w.market, 99n, "MarketUnknownOrder", [99n]);
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
      const o3 = await requestOrder(w, w.bob, a, 1_000n);
      const o4 = await requestOrder(w, w.bob, a, 2_000n);
      await w.market.connect(w.solar).confirm(o1);
      await w.market.connect(w.wind).confirm(o2);
      await w.review.connect(w.grid).setLimits(500n, MAX_PARTICIPANT_SLOT_WH);
      await w.market.connect(w.solar).confirm(o3); // denied: larger than the grid's new limit
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
      await expect(recordReading(w, w.orderId, ethers.id("m"), 1n, 0n)).to.emit(
        w.market,
        "MeterReadingRecorded",
      );
      await expect(settleDefault(w, w.orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(w.orderId, w.alice.address, w.solar.address, 10_000n, 1_000_000n, 0n);
    });
  });
});
