import { expect } from "chai";
import hre from "hardhat";
import {
  BOND,
  OrderStatus,
  deployWorld,
  publishOffer,
  requestOrder,
  defaultFor,
} from "../helpers/market.js";
import { recordReading } from "../helpers/metering.js";

/** The grid's network usage charge per kWh by zone pair, paid to the grid operator at metering. */
const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const TARIFF_1_TO_2 = 30_000n; // 0.03 credits per kWh carried from zone 1 to zone 2
const TARIFF_1_TO_1 = 5_000n;
async function tariffMarket() {
  const w = await deployWorld(hre, connection);
  await w.review.connect(w.grid).setTariff(1, 2, TARIFF_1_TO_2);
  await w.review.connect(w.grid).setTariff(1, 1, TARIFF_1_TO_1);
  return w;
}

describe("Grid tariff", () => {
  it("is a versioned parameter per zone pair that only the grid operator sets", async () => {
    const w = await loadFixture(tariffMarket);
    const version = await w.review.parametersVersion();
    await expect(w.review.connect(w.grid).setTariff(2, 1, 7n))
      .to.emit(w.review, "TariffSet")
      .withArgs(2, 1, 7n, version + 1n);
    expect(await w.review.tariff(2, 1)).to.equal(7n);
    expect(await w.review.tariff(1, 2)).to.equal(TARIFF_1_TO_2);
    await expect(w.review.connect(w.solar).setTariff(2, 1, 0n))
      .to.be.revertedWithCustomError(w.review, "AccessManagedUnauthorized")
      .withArgs(w.solar.address);
    await expect(w.review.connect(w.grid).setTariff(0, 1, 1n))
      .to.be.revertedWithCustomError(w.review, "ReviewZoneInvalid")
      .withArgs(0);
  });

  it("is locked from the seller's bond at confirm and paid to the grid on the energy delivered", async () => {
    const w = await loadFixture(tariffMarket);
    const offerId = await publishOffer(w, w.solar, 10_000n);
    const orderId = await requestOrder(w, w.alice, offerId, 10_000n);
    await w.market.connect(w.solar).confirm(orderId);
    const tariff = 10n * TARIFF_1_TO_2;
    expect(await w.market.bondOf(w.solar.address)).to.deep.equal([
      BOND - defaultFor(10_000n) - tariff,
      defaultFor(10_000n) + tariff,
    ]);
    expect((await w.market.getOrder(orderId)).tariffPerKwh).to.equal(TARIFF_1_TO_2);
    // A later tariff change does not touch an approved order: it keeps the quote of its review.
    await w.review.connect(w.grid).setTariff(1, 2, 1n);
    await time.increaseTo(w.deliveryEnd);
    await expect(recordReading(w, orderId, ethers.id("m"), 10_000n, 10_000n))
      .to.emit(w.market, "GridChargesSettled")
      .withArgs(orderId, w.solar.address, tariff, 0n, 0n);
    expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND - tariff, 0n]);
    expect(await w.market.gridIncome()).to.equal(tariff);
    expect(await w.credit.balanceOf(await w.market.getAddress())).to.equal(BOND * 2n);
  });

  it("charges only the energy carried when the seller falls short, rounding up", async () => {
    const w = await loadFixture(tariffMarket);
    const offerId = await publishOffer(w, w.solar, 10_000n);
    const orderId = await requestOrder(w, w.bob, offerId, 10_000n); // zone 1 -> zone 1
    await w.market.connect(w.solar).confirm(orderId);
    await time.increaseTo(w.deliveryEnd);
    // 3_333 Wh carried at 5_000 per kWh: 16_665 credits.
    await expect(recordReading(w, orderId, ethers.id("m"), 3_333n, 3_333n))
      .to.emit(w.market, "GridChargesSettled")
      .withArgs(orderId, w.solar.address, 16_665n, 0n, 50_000n - 16_665n);
    expect((await w.market.getOrder(orderId)).status).to.equal(OrderStatus.Defaulted);
    expect(await w.market.gridIncome()).to.equal(16_665n);
  });

  it("gives the tariff back when the grid operator cancels before delivery", async () => {
    const w = await loadFixture(tariffMarket);
    const offerId = await publishOffer(w, w.solar, 10_000n);
    const orderId = await requestOrder(w, w.alice, offerId, 4_000n);
    await w.market.connect(w.solar).confirm(orderId);
    await w.market.connect(w.grid).cancelOrder(orderId);
    expect(await w.market.bondOf(w.solar.address)).to.deep.equal([BOND, 0n]);
    expect(await w.market.gridIncome()).to.equal(0n);
  });

  it("lets only the grid operator withdraw the grid's income, and no more than there is", async () => {
    const w = await loadFixture(tariffMarket);
    await expect(w.market.connect(w.solar).withdrawGridIncome(w.solar.address, 0n))
      .to.be.revertedWithCustomError(w.market, "AccessManagedUnauthorized")
      .withArgs(w.solar.address);
    await expect(w.market.connect(w.grid).withdrawGridIncome(w.grid.address, 1n))
      .to.be.revertedWithCustomError(w.market, "MarketGridIncomeInsufficient")
      .withArgs(0n, 1n);
  });
});
