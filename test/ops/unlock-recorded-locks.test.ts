import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ChannelClient } from "../../ops/channels/client.js";
import { acceptLock, acceptRelease, lockOrder, releaseLock } from "../../ops/channels/dvp.js";
import { marketOrders, marketOutcomes } from "../../ops/channels/market.js";
import type { Address } from "../../ops/channels/proofs.js";
import {
  CHANNEL_DEPOSIT as DEPOSIT,
  ORDER_PRICE as PRICE,
  closeWith,
  deployLockWorld,
  establishedOrder,
  keyOf,
  reveal,
  type LockWorld,
} from "../helpers/locks.js";

/**
 * The receiver chooses which of the sender's proofs to record at its close. Recording an older proof
 * whose lock was since released keeps that lock back at settlement, but the sender's client unlocks
 * only with its latest lock list (empty after the release), so the kept-back credits never return.
 */
describe("client unlock after the partner recorded an older locked proof (review)", function () {
  this.timeout(120_000);
  let w: LockWorld;
  let dir: string;
  before(async () => {
    w = await deployLockWorld();
    dir = await mkdtemp(join(tmpdir(), "gridchain-unlock-recorded-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = (signer: HardhatEthersSigner, name: string) =>
    ChannelClient.start({
      key: keyOf(signer),
      domain: w.domain,
      storePath: join(dir, `${name}.jsonl`),
      chain: { channels: w.channels.connect(signer), token: w.credit.connect(signer) },
    });

  it("the sender's client recovers the locks kept back for the proof recorded on chain, not only its latest", async () => {
    const market = w.manifest.contracts.EnergyMarket.proxy as Address;
    const orders = marketOrders(market, w.connection.ethers.provider);
    const outcomes = marketOutcomes(market, w.connection.ethers.provider);
    const buyer = await start(w.alice, "alice");
    const seller = await start(w.solar, "solar");
    const channelId = await buyer.openChannel(w.solar.address as Address);
    await buyer.deposit(channelId, DEPOSIT);
    await seller.sync(channelId);

    const orderId = await establishedOrder(w);
    const locked = await lockOrder(buyer, orders, orderId);
    await acceptLock(seller, orders, locked, { orderId, minAmount: PRICE });
    // The order is cancelled before delivery: the buyer releases the lock at a share of 0.
    await w.market.connect(w.grid).cancelOrder(orderId);
    const released = await releaseLock(buyer, outcomes, channelId, orderId);
    expect(await acceptRelease(seller, outcomes, released)).to.equal(0n);

    // The seller closes with the buyer's older proof, still carrying the lock, and reveals it.
    await closeWith(w, w.solar, channelId, locked.proof);
    await reveal(w, w.solar, w.alice, channelId, locked.proof, locked.locks);
    const [, , , , , settleAt] = await w.channels.getChannel(channelId);
    await w.connection.networkHelpers.time.increaseTo(settleAt + 1n);
    const before = await w.credit.balanceOf(w.alice.address);
    await buyer.sync(channelId);
    await buyer.settle(channelId);
    expect((await w.channels.pendingLocks(channelId, w.alice.address)).amount).to.equal(PRICE);
    await buyer.unlock(channelId, w.alice.address as Address);
    expect(
      (await w.channels.pendingLocks(channelId, w.alice.address)).amount,
      "the buyer's client cannot unlock what settlement kept back for its older proof",
    ).to.equal(0n);
    expect((await w.credit.balanceOf(w.alice.address)) - before).to.equal(DEPOSIT);
    await buyer.stop();
    await seller.stop();
  });
});
