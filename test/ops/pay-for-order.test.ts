import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  ChannelClient,
  marketOrders,
  orderPaymentHash,
  orderPrice,
} from "../../ops/channels/index.js";
import type { Address } from "../../ops/channels/proofs.js";
import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import { keyOf } from "../helpers/locks.js";
import { deployWorld, publishOffer, requestOrder } from "../helpers/market.js";

describe("paying a real market order over a payment channel", function () {
  this.timeout(60_000);

  it("binds the payment to the established order and the seller sees exactly that order paid", async () => {
    const connection = await hre.network.create();
    const world = await deployWorld(hre, connection);
    const dir = await mkdtemp(join(tmpdir(), "gridchain-pay-"));
    const { ethers } = connection;
    const channelsAddress = world.manifest.contracts.PaymentChannels.proxy;
    const channels = (await ethers.getContractAt(
      "PaymentChannels",
      channelsAddress,
    )) as unknown as PaymentChannels;
    const domain = {
      chainId: (await ethers.provider.getNetwork()).chainId,
      verifyingContract: channelsAddress as Address,
    };
    const client = async (signer: HardhatEthersSigner, name: string) =>
      ChannelClient.start({
        key: keyOf(signer),
        domain,
        storePath: join(dir, `${name}.jsonl`),
        chain: { channels: channels.connect(signer), token: world.credit.connect(signer) },
      });
    try {
      // A cross-zone trade: solar (zone 1) sells 2 kWh to alice (zone 2).
      const offerId = await publishOffer(world, world.solar, 5_000n);
      const orderId = await requestOrder(world, world.alice, offerId, 2_000n);
      await world.market.connect(world.solar).confirm(orderId);
      const orders = marketOrders(
        world.manifest.contracts.EnergyMarket.proxy as Address,
        ethers.provider,
      );
      const order = await orders.getOrder(orderId);
      expect([order.buyer, order.seller, order.quantityWh]).to.deep.equal([
        world.alice.address,
        world.solar.address,
        2_000n,
      ]);
      const price = orderPrice(order);
      expect(price).to.equal((2_000n * order.pricePerKwh) / 1000n);

      await world.credit.connect(world.grid).mint(world.alice.address, price, ethers.ZeroHash);
      const buyer = await client(world.alice, "alice");
      const seller = await client(world.solar, "solar");
      const channelId = await buyer.openChannel(world.solar.address as Address);
      await buyer.deposit(channelId, price);
      await seller.sync(channelId);

      const proof = await buyer.payForOrder(orders, orderId);
      expect(proof.transferredAmount).to.equal(price);
      expect(proof.additionalHash).to.equal(
        orderPaymentHash({
          market: world.manifest.contracts.EnergyMarket.proxy as Address,
          orderId,
          deliveryStart: order.deliveryStart,
          deliveryEnd: order.deliveryEnd,
        }),
      );
      expect(await seller.isOrderPaid(orders, orderId)).to.equal(false);
      await seller.receive(proof);
      expect(await seller.isOrderPaid(orders, orderId)).to.equal(true);
      await buyer.stop();
      await seller.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
