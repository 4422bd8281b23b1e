import { expect } from "chai";
import hre from "hardhat";
import { MarketClient } from "../../ops/market/client.js";
import { deployWorld } from "../helpers/market.js";

const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;

function world() {
  return deployWorld(hre, connection);
}

describe("MarketClient: standing offers and grid charges", () => {
  it("publishes a standing offer, buys from it in one transaction and meters it with the tariff", async () => {
    const w = await networkHelpers.loadFixture(world);
    const client = new MarketClient({ market: w.market, review: w.review, credit: w.credit });
    await client.setTariff(w.grid, 1, 2, 30_000n);
    expect(await client.tariff(1, 2)).to.equal(30_000n);
    const offerId = await client.publish({
      seller: w.solar,
      energyType: "solar",
      pricePerKwh: 250_000n,
      defaultPerKwh: 100_000n,
      quantityWh: 10_000n,
      deliveryStart: w.deliveryStart,
      deliveryEnd: w.deliveryEnd,
      standing: true,
    });
    const nonce = await ethers.provider.getTransactionCount(w.solar.address);
    const bought = await client.buy(w.alice, offerId, 2_000n);
    expect(bought).to.deep.equal({
      orderId: 1n,
      status: "established",
      denialReason: "none",
      reviewVersion: await w.review.parametersVersion(),
    });
    // The seller sent nothing: its standing offer was its acceptance.
    expect(await ethers.provider.getTransactionCount(w.solar.address)).to.equal(nonce);
    await networkHelpers.time.increaseTo(w.deliveryEnd);
    const metered = await client.recordDelivery(
      w.meter,
      bought.orderId,
      "meter:alice",
      2_000n,
      2_000n,
    );
    expect(metered.status).to.equal("delivered");
    expect(await client.gridIncome()).to.equal(60_000n);
  });

  it("meters each order with its meter's true reading, whatever the order of recording", async () => {
    const w = await networkHelpers.loadFixture(world);
    const client = new MarketClient({ market: w.market, review: w.review, credit: w.credit });
    const windows = [w.deliveryStart, w.deliveryEnd].map((start) => ({
      deliveryStart: start,
      deliveryEnd: start + 900n,
    }));
    const orders: bigint[] = [];
    for (const window of windows) {
      const offerId = await client.publish({
        seller: w.solar,
        energyType: "solar",
        pricePerKwh: 250_000n,
        defaultPerKwh: 100_000n,
        quantityWh: 4_000n,
        ...window,
        standing: true,
      });
      for (const quantityWh of [1_000n, 2_000n])
        orders.push((await client.buy(w.alice, offerId, quantityWh)).orderId);
    }
    await networkHelpers.time.increaseTo(windows[1]!.deliveryEnd);
    // alice's meter: 3 kWh by the first window's end, 6 kWh by the second's.
    const record = (index: number, deliveredWh: bigint, readingWh: bigint) =>
      client.recordDelivery(w.meter, orders[index]!, "meter:alice", deliveredWh, readingWh);
    expect((await record(3, 2_000n, 6_000n)).status).to.equal("delivered");
    expect((await record(0, 1_000n, 3_000n)).status).to.equal("delivered");
    expect((await record(2, 1_000n, 6_000n)).status).to.equal("delivered");
    expect((await record(1, 2_000n, 3_000n)).status).to.equal("delivered");
  });
});
