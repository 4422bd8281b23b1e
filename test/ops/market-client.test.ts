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
    const metered = await client.recordDelivery(w.meter, bought.orderId, "meter:alice", 2_000n);
    expect(metered.status).to.equal("delivered");
    expect(await client.gridIncome()).to.equal(60_000n);
  });
});
