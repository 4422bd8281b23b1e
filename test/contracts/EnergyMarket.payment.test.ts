import { expect } from "chai";
import hre from "hardhat";
import { BOND, OrderStatus, deployWorld, publishStandingOffer } from "../helpers/market.js";
import { recordReading, settleDefault, expectRefused } from "../helpers/metering.js";

/** Finding 5: the buyer is bound by its payment; the market tells a paid order from an unpaid one. */
const connection = await hre.network.create();
const { networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const METER = `0x${"cd".repeat(32)}`;
const Mark = { None: 0n, Paid: 1n, WalkedAway: 2n } as const;

/** A standing offer bought by alice in one transaction: established, and not paid yet. */
async function boughtUnpaid() {
  const w = await deployWorld(hre, connection);
  await publishStandingOffer(w, w.solar, 10_000n);
  await w.market.connect(w.alice).buy(1n, 10_000n);
  return { ...w, orderId: 1n };
}

describe("EnergyMarket payments (finding 5)", () => {
  it("lets the seller walk away from an unpaid order, after which the buyer has no default to collect", async () => {
    const w = await loadFixture(boughtUnpaid);
    expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.Established);
    expect(await w.market.isPaid(w.orderId)).to.equal(false);
    await expect(w.market.connect(w.solar).walkAwayUnpaid(w.orderId))
      .to.emit(w.market, "OrderWalkedAway")
      .withArgs(w.orderId, w.solar.address, OrderStatus.Established);
    expect((await w.market.getOrder(w.orderId)).status).to.equal(OrderStatus.Cancelled);
    expect(await w.market.paymentMark(w.orderId)).to.equal(Mark.WalkedAway);
    expect((await w.market.bondOf(w.solar.address)).free).to.equal(BOND);
    expect((await w.market.getOffer(1n)).remainingWh).to.equal(10_000n);
    // Nothing is delivered, yet the buyer can neither have it metered short nor collect a default.
    await time.increaseTo(w.deliveryEnd);
    await expectRefused(
      recordReading(w, w.orderId, METER, 1n, 0n),
      w.market,
      w.orderId,
      "MarketUnexpectedOrderStatus",
      [w.orderId, OrderStatus.Cancelled, OrderStatus.Established],
    );
    await expectRefused(
      settleDefault(w, w.orderId),
      w.market,
      w.orderId,
      "MarketUnexpectedOrderStatus",
      [w.orderId, OrderStatus.Cancelled, OrderStatus.Defaulted],
    );
    expect(await w.market.isPaid(w.orderId)).to.equal(false);
    expect(await w.market.paymentOutcome(w.orderId)).to.deep.equal([
      true,
      0n,
      10_000n,
      w.deliveryEnd,
    ]);
  });

  it("binds a seller that confirmed payment: it can no longer walk away", async () => {
    const w = await loadFixture(boughtUnpaid);
    await expect(w.market.connect(w.solar).confirmPaid(w.orderId))
      .to.emit(w.market, "OrderPaid")
      .withArgs(w.orderId, w.solar.address);
    expect(await w.market.isPaid(w.orderId)).to.equal(true);
    await expect(w.market.connect(w.solar).walkAwayUnpaid(w.orderId))
      .to.be.revertedWithCustomError(w.market, "MarketPaymentAlreadyMarked")
      .withArgs(w.orderId, Mark.Paid);
  });

  it("counts a silent seller's order as paid from its delivery start, and refuses a late walk-away", async () => {
    const w = await loadFixture(boughtUnpaid);
    await time.increaseTo(w.deliveryStart);
    expect(await w.market.isPaid(w.orderId)).to.equal(true);
    await expect(w.market.connect(w.solar).walkAwayUnpaid(w.orderId))
      .to.be.revertedWithCustomError(w.market, "MarketPaymentDeadlinePassed")
      .withArgs(w.orderId, w.deliveryStart);
    // The seller stays bound by its bond: a short delivery pays the buyer its default.
    await time.increaseTo(w.deliveryEnd);
    await recordReading(w, w.orderId, METER, 1n, 0n);
    await expect(settleDefault(w, w.orderId)).to.emit(w.market, "DefaultSettled");
  });

  it("lets only the seller state an order's payment, and only while the order is open", async () => {
    const w = await loadFixture(boughtUnpaid);
    for (const stranger of [w.alice, w.wind, w.grid]) {
      await expect(w.market.connect(stranger).walkAwayUnpaid(w.orderId))
        .to.be.revertedWithCustomError(w.market, "MarketNotSeller")
        .withArgs(w.orderId, stranger.address, w.solar.address);
      await expect(w.market.connect(stranger).confirmPaid(w.orderId)).to.be.revertedWithCustomError(
        w.market,
        "MarketNotSeller",
      );
    }
    await w.market.connect(w.grid).cancelOrder(w.orderId);
    await expect(w.market.connect(w.solar).confirmPaid(w.orderId))
      .to.be.revertedWithCustomError(w.market, "MarketPaymentNotOpen")
      .withArgs(w.orderId, OrderStatus.Cancelled);
  });

  it("reports an order's outcome to payment locks: undecided while open, metered energy once read", async () => {
    const w = await loadFixture(boughtUnpaid);
    expect(await w.market.paymentOutcome(w.orderId)).to.deep.equal([
      false,
      0n,
      10_000n,
      w.deliveryEnd,
    ]);
    await time.increaseTo(w.deliveryEnd);
    await recordReading(w, w.orderId, METER, 1n, 7_000n);
    expect(await w.market.paymentOutcome(w.orderId)).to.deep.equal([
      true,
      7_000n,
      10_000n,
      w.deliveryEnd,
    ]);
    const [decided, deliveredWh] = await w.market.paymentOutcome(999n);
    expect([decided, deliveredWh]).to.deep.equal([true, 0n]);
  });
});
