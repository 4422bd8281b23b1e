import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  Denial,
  EnergyType,
  OrderStatus,
  SLOT_SECONDS,
  deployWorld,
  publishOffer,
  requestOrder,
  defaultFor,
  marketFixtures,
} from "../helpers/market.js";
import { recordReading, settleDefault, refusal, expectRefused } from "../helpers/metering.js";

/**
 * The market's rules against the attacks an adversarial review found: each test performs the attack
 * and checks it no longer works, then that the honest path still does.
 */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const SLOT = BigInt(SLOT_SECONDS);
const UINT64_MAX = 2n ** 64n - 1n;
/** GridReview's line counters: 32 bits per zone and direction per slot. */
const LANE_MAX_WH = 2n ** 32n - 1n;

const { autoMarket, manualMarket, establishedTrade } = marketFixtures(hre, connection);

describe("EnergyMarket rules", () => {
  describe("manual review ends at the delivery start", () => {
    it("refuses an approval once delivery has started, and lets the stale order expire", async () => {
      const w = await loadFixture(manualMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 4_000n);
      await w.market.connect(w.solar).confirm(orderId);
      await time.increaseTo(w.deliveryEnd);
      // The attack: approve after the window, so the seller is metered at zero and defaults.
      const attempt = await w.market
        .connect(w.grid)
        .approveOrder.staticCall(orderId)
        .then(
          () => "approved",
          () => "refused",
        );
      expect(attempt, "a late approval").to.equal("refused");
      await expect(w.market.connect(w.grid).approveOrder(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketReviewDeadlinePassed")
        .withArgs(orderId, w.deliveryStart);
      await expect(w.market.expireOrder(orderId))
        .to.emit(w.market, "OrderExpired")
        .withArgs(orderId, w.admin.address, OrderStatus.AwaitingReview);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    });

    it("refuses an approval from the second delivery starts, accepts one the second before", async () => {
      const w = await loadFixture(manualMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const onTime = await requestOrder(w, w.alice, offerId, 4_000n);
      const late = await requestOrder(w, w.bob, offerId, 4_000n);
      await w.market.connect(w.solar).confirm(onTime);
      await w.market.connect(w.solar).confirm(late);
      await time.setNextBlockTimestamp(w.deliveryStart - 1n);
      await expect(w.market.connect(w.grid).approveOrder(onTime)).to.emit(
        w.market,
        "OrderEstablished",
      );
      await time.setNextBlockTimestamp(w.deliveryStart);
      await expect(w.market.connect(w.grid).approveOrder(late))
        .to.be.revertedWithCustomError(w.market, "MarketReviewDeadlinePassed")
        .withArgs(late, w.deliveryStart);
    });
  });

  describe("the grid operator cannot cancel an order whose delivery has started", () => {
    it("refuses to free a seller from its default after the window", async () => {
      const w = await loadFixture(establishedTrade);
      await time.increaseTo(w.deliveryEnd);
      // The attack: the seller delivered nothing; cancelling would return its whole bond.
      const attempt = await w.market
        .connect(w.grid)
        .cancelOrder.staticCall(w.orderId)
        .then(
          () => "cancelled",
          () => "refused",
        );
      expect(attempt, "a cancel after the window").to.equal("refused");
      await expect(w.market.connect(w.grid).cancelOrder(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOrderInDelivery")
        .withArgs(w.orderId, w.deliveryStart);
      const meterId = ethers.id("meter:alice");
      await recordReading(w, w.orderId, meterId, 1n, 0n);
      await expect(settleDefault(w, w.orderId))
        .to.emit(w.market, "DefaultSettled")
        .withArgs(w.orderId, w.alice.address, w.solar.address, 10_000n, defaultFor(10_000n), 0n);
    });

    it("refuses it during the window too, and allows it before", async () => {
      const w = await loadFixture(establishedTrade);
      await time.setNextBlockTimestamp(w.deliveryStart);
      await expect(w.market.connect(w.grid).cancelOrder(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketOrderInDelivery")
        .withArgs(w.orderId, w.deliveryStart);
      const m = await loadFixture(manualMarket);
      const offerId = await publishOffer(m, m.solar, 10_000n);
      const orderId = await requestOrder(m, m.alice, offerId, 1_000n);
      await m.market.connect(m.solar).confirm(orderId);
      await expect(m.market.connect(m.grid).cancelOrder(orderId))
        .to.emit(m.market, "OrderCancelled")
        .withArgs(orderId, m.grid.address, OrderStatus.AwaitingReview);
    });
  });

  describe("meter readings are ordered by window, not by arrival", () => {
    const meterId = ethers.id("meter:alice-home");

    async function twoWindows() {
      const w = await autoMarket();
      const early = await publishOffer(w, w.solar, 10_000n);
      const late = await publishOffer(w, w.solar, 10_000n, {
        start: w.deliveryEnd,
        end: w.deliveryEnd + SLOT,
      });
      const first = await requestOrder(w, w.alice, early, 1_000n);
      const second = await requestOrder(w, w.alice, late, 1_000n);
      const third = await requestOrder(w, w.bob, late, 1_000n);
      for (const orderId of [first, second, third])
        await w.market.connect(w.solar).confirm(orderId);
      await time.increaseTo(w.deliveryEnd + SLOT);
      return { ...w, first, second, third };
    }

    it("takes an earlier window's true reading after a later window was recorded", async () => {
      const w = await loadFixture(twoWindows);
      await recordReading(w, w.second, meterId, 9_000n, 1_000n);
      // The attack (an accident here): today the earlier order could never be metered.
      await expect(recordReading(w, w.first, meterId, 8_000n, 1_000n))
        .to.emit(w.market, "MeterReadingRecorded")
        .withArgs(w.first, meterId, w.meter.address, 8_000n, 1_000n, 0n);
      expect((await w.market.getOrder(w.first)).status).to.equal(OrderStatus.Delivered);
      // Only the third order (not yet metered) still holds bond.
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
        BOND - defaultFor(1_000n),
        defaultFor(1_000n),
      ]);
      expect(await w.market.lastMeterReading(meterId)).to.equal(9_000n);
      expect(await w.market.lastMeterWindowEnd(meterId)).to.equal(w.deliveryEnd + SLOT);
    });

    it("refuses an earlier window's reading above the later one", async () => {
      const w = await loadFixture(twoWindows);
      await recordReading(w, w.second, meterId, 9_000n, 1_000n);
      await expectRefused(
        recordReading(w, w.first, meterId, 9_001n, 1_000n),
        w.market,
        w.first,
        "MarketMeterReadingAboveLater",
        [meterId, 9_001n, w.deliveryEnd + SLOT, 9_000n],
      );
    });

    it("lets two orders ending at the same moment both take the meter's one true reading", async () => {
      const w = await loadFixture(twoWindows);
      await recordReading(w, w.second, meterId, 9_000n, 1_000n);
      await expectRefused(
        recordReading(w, w.third, meterId, 9_001n, 1_000n),
        w.market,
        w.third,
        "MarketMeterReadingMismatch",
        [meterId, w.deliveryEnd + SLOT, 9_000n, 9_001n],
      );
      await expect(recordReading(w, w.third, meterId, 9_000n, 1_000n))
        .to.emit(w.market, "MeterReadingRecorded")
        .withArgs(w.third, meterId, w.meter.address, 9_000n, 1_000n, 0n);
      expect(await w.market.meterReadingAt(meterId, w.deliveryEnd + SLOT)).to.deep.equal([
        true,
        9_000n,
      ]);
    });

    it("checks a window recorded late against both recorded neighbours, not only the latest", async () => {
      const w = await autoMarket();
      const ends = [1n, 2n, 3n].map((k) => w.deliveryStart + k * SLOT);
      const orders: bigint[] = [];
      for (const end of ends) {
        const offerId = await publishOffer(w, w.solar, 1_000n, { start: end - SLOT, end });
        orders.push(await requestOrder(w, w.alice, offerId, 1_000n));
        await w.market.connect(w.solar).confirm(orders.at(-1)!);
      }
      await time.increaseTo(ends[2]!);
      const record = (index: number, readingWh: bigint) =>
        recordReading(w, orders[index]!, meterId, readingWh, 1_000n);
      await record(2, 30_000n);
      await record(0, 10_000n);
      // Below the first window's reading: the meter would have run backwards.
      await expect(record(1, 9_999n))
        .to.emit(w.market, "BatchItemRefused")
        .withArgs(
          orders[1]!,
          refusal(w.market, "MarketMeterReadingBelowEarlier", [meterId, 9_999n, ends[0]!, 10_000n]),
        );
      await expect(record(1, 30_001n))
        .to.emit(w.market, "BatchItemRefused")
        .withArgs(
          orders[1]!,
          refusal(w.market, "MarketMeterReadingAboveLater", [meterId, 30_001n, ends[2]!, 30_000n]),
        );
      await expect(record(1, 20_000n)).to.emit(w.market, "MeterReadingRecorded");
      expect(await w.market.lastMeterReading(meterId)).to.equal(30_000n);
    });
  });

  describe("a buyer's request stands only until its own deadline", () => {
    it("refuses the seller's confirm at the deadline, so a buyer never races it with a cancel", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const confirmBy = BigInt(await time.latest()) + 600n;
      await expect(w.market.connect(w.alice).requestBefore(offerId, 1_000n, confirmBy))
        .to.emit(w.market, "OrderConfirmDeadlineSet")
        .withArgs(1n, confirmBy);
      await time.setNextBlockTimestamp(confirmBy);
      await expect(w.market.connect(w.solar).confirm(1n))
        .to.be.revertedWithCustomError(w.market, "MarketConfirmDeadlinePassed")
        .withArgs(1n, confirmBy);
      await expect(w.market.connect(w.outsider).expireOrder(1n))
        .to.emit(w.market, "OrderExpired")
        .withArgs(1n, w.outsider.address, OrderStatus.Requested);
      expect((await w.market.getOrder(1n)).confirmBy).to.equal(confirmBy);
    });

    it("orders a confirm ahead of a pending cancel only inside the buyer's deadline", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const confirmBy = BigInt(await time.latest()) + 600n;
      await w.market.connect(w.alice).requestBefore(offerId, 1_000n, confirmBy);
      // Both land in one block, the seller's confirm first: the front-run the buyer agreed to.
      await networkHelpers.mine(); // settle the automine state before switching it off
      await connection.provider.request({ method: "evm_setAutomine", params: [false] });
      try {
        const confirm = await w.market.connect(w.solar).confirm(1n);
        const cancel = await w.market.connect(w.alice).cancelOrder(1n, { gasLimit: 200_000n });
        await networkHelpers.mine();
        expect((await confirm.wait())?.status).to.equal(1);
        const failure = await cancel.wait().then(
          () => null,
          (error: unknown) => error as Error,
        );
        expect(failure).to.not.equal(null);
      } finally {
        await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      }
      expect((await w.market.getOrder(1n)).status).to.equal(OrderStatus.Established);
    });

    it("refuses a deadline that has already passed", async () => {
      const w = await loadFixture(autoMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const now = BigInt(await time.latest());
      await time.setNextBlockTimestamp(now + 1n);
      await expect(w.market.connect(w.alice).requestBefore(offerId, 1_000n, now + 1n))
        .to.be.revertedWithCustomError(w.market, "MarketConfirmDeadlineInvalid")
        .withArgs(now + 1n, now + 1n);
      await expect(w.market.connect(w.outsider).requestBefore(offerId, 1_000n, now + 100n))
        .to.be.revertedWithCustomError(w.market, "GridNotTrader")
        .withArgs(w.outsider.address);
    });
  });

  describe("a review never panics", () => {
    /** Two-hour slots and lines at the uint64 maximum: a slot may carry more than 2^64 Wh. */
    async function hugeLines() {
      const w = await deployWorld(hre, connection, "auto", 0n, 7200);
      await w.review.connect(w.grid).setLimits(UINT64_MAX, UINT64_MAX);
      await w.review.connect(w.grid).setZoneCapacity(1, UINT64_MAX, UINT64_MAX);
      await w.review.connect(w.grid).setZoneCapacity(2, UINT64_MAX, UINT64_MAX);
      await w.review.connect(w.grid).setZones([w.wind.address, w.carol.address], [1, 2]);
      return w;
    }

    it("denies an order whose line total would leave the counter's range instead of reverting", async () => {
      const w = await loadFixture(hugeLines);
      const publish = async (seller: typeof w.solar) => {
        await w.market
          .connect(seller)
          .publish(
            EnergyType.Solar,
            0n,
            0n,
            UINT64_MAX,
            w.deliveryStart,
            w.deliveryEnd,
            w.deliveryStart,
          );
        return w.market.offerCount();
      };
      const version = await w.review.parametersVersion();
      // The line could carry ~2^65 Wh in a two-hour slot; the counter cannot.
      const huge = await requestOrder(w, w.alice, await publish(w.solar), UINT64_MAX);
      await expect(w.market.connect(w.solar).confirm(huge))
        .to.emit(w.market, "OrderDenied")
        .withArgs(huge, Denial.ExportCapacity, version);
      const full = await requestOrder(w, w.alice, 1n, LANE_MAX_WH);
      await expect(w.market.connect(w.solar).confirm(full)).to.emit(w.market, "OrderEstablished");
      const more = await requestOrder(w, w.carol, await publish(w.wind), 1n);
      await expect(w.market.connect(w.wind).confirm(more))
        .to.emit(w.market, "OrderDenied")
        .withArgs(more, Denial.ExportCapacity, version);
      expect(await w.review.zoneUsage(1, w.deliveryStart / 7200n)).to.deep.equal([LANE_MAX_WH, 0n]);
      expect(await w.review.zoneUsage(2, w.deliveryStart / 7200n)).to.deep.equal([0n, LANE_MAX_WH]);
    });
  });

  describe("holding a line costs a fee that goes to the grid, refunded only on delivery", () => {
    const FEE_PER_KWH = 20_000n; // 0.02 credits per kWh of line held
    async function feeMarket() {
      const w = await autoMarket();
      await w.review.connect(w.grid).setCapacityFee(FEE_PER_KWH);
      // wind joins zone 1, carol zone 2: an honest trade on the same line as the squat.
      await w.review.connect(w.grid).setZones([w.wind.address, w.carol.address], [1, 2]);
      return w;
    }

    it("makes a colluding pair that books a whole line and delivers nothing pay the grid", async () => {
      const w = await loadFixture(feeMarket);
      const holdings = async () =>
        (await w.market.bondOf(w.solar.address)).free +
        (await w.market.bondOf(w.solar.address)).locked +
        (await w.credit.balanceOf(w.solar.address)) +
        (await w.credit.balanceOf(w.alice.address));
      const before = await holdings();
      // The squat: no default, the whole 10 kWh of zone 1's export line in this slot.
      await w.market
        .connect(w.solar)
        .publish(
          EnergyType.Solar,
          1n,
          0n,
          10_000n,
          w.deliveryStart,
          w.deliveryEnd,
          w.deliveryStart,
        );
      const squatOffer = await w.market.offerCount();
      const squat = await requestOrder(w, w.alice, squatOffer, 10_000n);
      await w.market.connect(w.solar).confirm(squat);
      expect((await w.market.bondOf(w.solar.address)).locked).to.equal(200_000n);
      const honestOffer = await publishOffer(w, w.wind, 1_000n);
      const honest = await requestOrder(w, w.carol, honestOffer, 1_000n);
      await expect(w.market.connect(w.wind).confirm(honest))
        .to.emit(w.market, "OrderDenied")
        .withArgs(honest, Denial.ExportCapacity, await w.review.parametersVersion());
      await time.increaseTo(w.deliveryEnd);
      await expect(recordReading(w, squat, ethers.id("m"), 1n, 0n))
        .to.emit(w.market, "GridChargesSettled")
        .withArgs(squat, w.solar.address, 0n, 200_000n, 0n);
      await settleDefault(w, squat);
      // What the pair lost went to the grid, not from one of them to the other.
      expect(before - (await holdings())).to.equal(10n * FEE_PER_KWH);
      expect(await w.market.gridIncome()).to.equal(10n * FEE_PER_KWH);
      await expect(w.market.connect(w.grid).withdrawGridIncome(w.grid.address, 200_000n))
        .to.emit(w.market, "GridIncomeWithdrawn")
        .withArgs(w.grid.address, w.grid.address, 200_000n);
      expect(await w.credit.balanceOf(w.grid.address)).to.equal(200_000n);
    });

    it("refunds the fee for the energy delivered and keeps it for the shortfall", async () => {
      const w = await loadFixture(feeMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const orderId = await requestOrder(w, w.alice, offerId, 10_000n);
      await w.market.connect(w.solar).confirm(orderId);
      expect((await w.market.getOrder(orderId)).capacityFeePerKwh).to.equal(FEE_PER_KWH);
      await time.increaseTo(w.deliveryEnd);
      await expect(recordReading(w, orderId, ethers.id("m"), 7_500n, 7_500n))
        .to.emit(w.market, "GridChargesSettled")
        .withArgs(orderId, w.solar.address, 0n, 50_000n, 150_000n);
      // The default stays locked for settlement; of the 200_000 fee, 50_000 (2.5 kWh short) is kept.
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
        BOND - defaultFor(10_000n) - 50_000n,
        defaultFor(10_000n),
      ]);
      expect(await w.market.gridIncome()).to.equal(50_000n);
    });

    it("charges no fee inside one zone, and none when the grid operator undoes the order", async () => {
      const w = await loadFixture(feeMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      const local = await requestOrder(w, w.bob, offerId, 1_000n);
      await w.market.connect(w.solar).confirm(local);
      expect((await w.market.getOrder(local)).capacityFeePerKwh).to.equal(0n);
      const cross = await requestOrder(w, w.alice, offerId, 1_000n);
      await w.market.connect(w.solar).confirm(cross);
      await w.market.connect(w.grid).cancelOrder(cross);
      expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
        BOND - defaultFor(1_000n),
        defaultFor(1_000n),
      ]);
    });

    it("refuses a confirm whose fee the seller's bond cannot cover", async () => {
      const w = await loadFixture(feeMarket);
      const offerId = await publishOffer(w, w.solar, 10_000n);
      await w.market.connect(w.solar).withdrawBond(BOND - defaultFor(10_000n));
      const orderId = await requestOrder(w, w.alice, offerId, 10_000n);
      await expect(w.market.connect(w.solar).confirm(orderId))
        .to.be.revertedWithCustomError(w.market, "MarketBondInsufficient")
        .withArgs(w.solar.address, defaultFor(10_000n), defaultFor(10_000n) + 200_000n);
    });
  });
});
