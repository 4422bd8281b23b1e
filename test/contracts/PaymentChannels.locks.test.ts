import { expect } from "chai";
import { encodeLocks, locksroot, type Lock } from "../../ops/channels/locks.js";
import {
  closeWith,
  CHANNEL_DEPOSIT as DEPOSIT,
  METERING_GRACE as GRACE,
  ORDER_PRICE as PRICE,
  lockWorldPerTest,
  establishedOrder,
  lockedProof,
  meter,
  openChannel,
  reveal,
  settleAfterWindow,
  updateWith,
  type LockWorld,
} from "../helpers/locks.js";
import { refusalNamed } from "../helpers/metering.js";

describe("PaymentChannels locks: delivery versus payment", function () {
  this.timeout(120_000);
  const world = lockWorldPerTest();
  let w: LockWorld;
  beforeEach(() => {
    w = world();
  });

  const balances = async () => ({
    alice: await w.credit.balanceOf(w.alice.address),
    solar: await w.credit.balanceOf(w.solar.address),
    grid: await w.credit.balanceOf(w.grid.address),
    channels: await w.credit.balanceOf(await w.channels.getAddress()),
  });

  /** Alice locks PRICE on a fresh order toward solar; solar closes with the proof and reveals it. */
  async function directLock() {
    const orderId = await establishedOrder(w);
    const channelId = await openChannel(w, w.alice, w.solar, DEPOSIT);
    const locks: Lock[] = [{ orderId, amount: PRICE }];
    const proof = await lockedProof(w, w.alice, channelId, 1n, 0n, locks);
    await closeWith(w, w.solar, channelId, proof);
    await reveal(w, w.solar, w.alice, channelId, proof, locks);
    return { orderId, channelId, locks, proof };
  }

  it("pays the seller in proportion to delivered energy and the rest back to the buyer", async () => {
    const { orderId, channelId, locks } = await directLock();
    await meter(w, orderId, 6_000n, 100n);
    const before = await balances();
    await settleAfterWindow(w, channelId);
    const held = await w.channels.pendingLocks(channelId, w.alice.address);
    expect([held.amount, held.locksroot, held.receiver]).to.deep.equal([
      PRICE,
      locksroot(locks),
      w.solar.address,
    ]);
    await expect(w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(channelId, w.alice.address, w.solar.address, 1_500_000n, 1_000_000n);
    const after = await balances();
    expect(after.solar - before.solar).to.equal(1_500_000n);
    expect(after.alice - before.alice).to.equal(DEPOSIT - 1_500_000n);
    expect(before.channels - after.channels).to.equal(DEPOSIT);
  });

  for (const [outcome, end] of [
    ["cancelled by the grid", (id: bigint) => w.market.connect(w.grid).cancelOrder(id)],
    ["walked away from unpaid", (id: bigint) => w.market.connect(w.solar).walkAwayUnpaid(id)],
  ] as const) {
    it(`returns the whole lock to the buyer when the order is ${outcome}`, async () => {
      const { orderId, channelId, locks } = await directLock();
      await end(orderId);
      await settleAfterWindow(w, channelId);
      await expect(w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)))
        .to.emit(w.channels, "LocksUnlocked")
        .withArgs(channelId, w.alice.address, w.solar.address, 0n, PRICE);
    });
  }

  it("refuses to split a lock on an undecided order until the market's metering deadline, then returns it", async () => {
    const { orderId, channelId, locks } = await directLock();
    await settleAfterWindow(w, channelId);
    await expect(
      w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsLockUndecided");
    // The last second a reading is accepted the order is still undecided.
    await w.connection.networkHelpers.time.setNextBlockTimestamp(w.deliveryEnd + GRACE);
    await expect(
      w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsLockUndecided");
    await w.connection.networkHelpers.time.increaseTo(w.deliveryEnd + GRACE + 1n);
    await expect(w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(channelId, w.alice.address, w.solar.address, 0n, PRICE);
    // The market, not the channel, holds the outcome: final, nothing delivered; the seller's bond
    // comes back when the stale order is expired.
    expect((await w.market.paymentOutcome(orderId))[0]).to.equal(true);
    await expect(meter(w, orderId, 10_000n, 100n))
      .to.emit(w.market, "BatchItemRefused")
      .withArgs(orderId, refusalNamed(w.market, "MarketMeteringClosed"));
    await expect(w.market.expireOrder(orderId)).to.emit(w.market, "OrderExpired");
  });

  it("pays a pending lock once: a replayed unlock, a wrong lock list and a wrong reveal revert", async () => {
    const { channelId, locks, proof, orderId } = await directLock();
    await expect(
      reveal(w, w.solar, w.alice, channelId, proof, [{ orderId, amount: PRICE + 1n }]),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsLocksMismatch");
    await meter(w, orderId, 10_000n, 100n);
    await settleAfterWindow(w, channelId);
    const inflated = encodeLocks([...locks, { orderId, amount: PRICE }]);
    await expect(
      w.channels.unlock(channelId, w.alice.address, inflated),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsLocksrootMismatch");
    await w.channels.unlock(channelId, w.alice.address, encodeLocks(locks));
    await expect(
      w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsNoPendingLocks");
  });

  it("ignores locks revealed for a proof that a newer one replaced (stale proof)", async () => {
    const orderId = await establishedOrder(w);
    const channelId = await openChannel(w, w.alice, w.solar, DEPOSIT);
    const locks: Lock[] = [{ orderId, amount: PRICE }];
    const locked = await lockedProof(w, w.alice, channelId, 1n, 0n, locks);
    // The order was then paid outright: the newer proof moves the lock into transferredAmount.
    const paid = await lockedProof(w, w.alice, channelId, 2n, PRICE, []);
    await closeWith(w, w.solar, channelId, locked);
    await reveal(w, w.solar, w.alice, channelId, locked, locks);
    await updateWith(w, w.solar, w.alice, channelId, paid);
    await expect(
      reveal(w, w.solar, w.alice, channelId, locked, locks),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsStaleBalanceProof");
    const before = await balances();
    await settleAfterWindow(w, channelId);
    const after = await balances();
    expect(after.solar - before.solar).to.equal(PRICE);
    expect(after.alice - before.alice).to.equal(DEPOSIT - PRICE);
    expect((await w.channels.pendingLocks(channelId, w.alice.address)).amount).to.equal(0n);
  });

  it("keeps back no more than the sender's balance for its locks", async () => {
    const orderId = await establishedOrder(w);
    const channelId = await openChannel(w, w.alice, w.solar, 1_000_000n);
    const locks: Lock[] = [{ orderId, amount: PRICE }];
    const proof = await lockedProof(w, w.alice, channelId, 1n, 0n, locks);
    await closeWith(w, w.solar, channelId, proof);
    await reveal(w, w.solar, w.alice, channelId, proof, locks);
    await meter(w, orderId, 10_000n, 100n);
    await settleAfterWindow(w, channelId);
    expect((await w.channels.pendingLocks(channelId, w.alice.address)).amount).to.equal(1_000_000n);
    await expect(w.channels.unlock(channelId, w.alice.address, encodeLocks(locks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(channelId, w.alice.address, w.solar.address, 1_000_000n, 0n);
  });
});
