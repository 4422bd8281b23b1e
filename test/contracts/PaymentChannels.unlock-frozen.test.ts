import { expect } from "chai";
import { encodeLocks, type Lock } from "../../ops/channels/locks.js";
import { publishOffer, requestOrder } from "../helpers/market.js";
import {
  CHANNEL_DEPOSIT as DEPOSIT,
  ORDER_PRICE as PRICE,
  closeWith,
  deployLockWorld,
  establishedOrder,
  lockedProof,
  meter,
  openChannel,
  reveal,
  settleAfterWindow,
  type LockWorld,
} from "../helpers/locks.js";

const SMALL = 250_000n; // 1 kWh
const YEAR = 365n * 24n * 3600n;

/**
 * One lock on an order delivered far in the future must not freeze the receiver's share of every
 * other, already delivered, lock in the channel: `unlock` pays each lock once its order is decided.
 */
describe("one far-future lock freezes a channel's whole lock pool (review)", function () {
  this.timeout(120_000);
  let w: LockWorld;
  before(async () => {
    w = await deployLockWorld();
  });

  it("the hub collects its share of a delivered order without waiting for another order a year ahead", async () => {
    const delivered = await establishedOrder(w);
    const window = { start: w.deliveryStart + YEAR, end: w.deliveryEnd + YEAR };
    const offerId = await publishOffer(w, w.wind, 1_000n, window);
    const farOff = await requestOrder(w, w.alice, offerId, 1_000n);
    await w.market.connect(w.wind).confirm(farOff);
    const inbound = await openChannel(w, w.alice, w.grid, DEPOSIT);
    const locks: Lock[] = [
      { orderId: delivered, amount: PRICE },
      { orderId: farOff, amount: SMALL },
    ];
    const proof = await lockedProof(w, w.alice, inbound, 1n, 0n, locks);
    // The buyer closes with the hub's empty proof; the hub records and reveals the buyer's locks.
    await closeWith(w, w.grid, inbound, proof);
    await reveal(w, w.grid, w.alice, inbound, proof, locks);
    await meter(w, delivered, 10_000n, 100n);
    await settleAfterWindow(w, inbound);
    const hubBefore = await w.credit.balanceOf(w.grid.address);
    let frozenBy = "";
    try {
      await w.channels.unlock(inbound, w.alice.address, encodeLocks(locks));
    } catch (error) {
      frozenBy = String(error);
    }
    expect(frozenBy, "the hub's share of a delivered order is frozen for a year").to.equal("");
    expect((await w.credit.balanceOf(w.grid.address)) - hubBefore).to.be.at.least(PRICE);
    // Lock by lock: the far-off lock stays kept back, the delivered one is paid once.
    expect((await w.channels.pendingLocks(inbound, w.alice.address)).amount).to.equal(SMALL);
    expect(await w.channels.lockUnlocked(inbound, w.alice.address, 0n)).to.equal(true);
    expect(await w.channels.lockUnlocked(inbound, w.alice.address, 1n)).to.equal(false);
    await expect(
      w.channels.unlock(inbound, w.alice.address, encodeLocks(locks)),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsLockUndecided");
    // Once the far-off order ends without delivery its lock goes back to the buyer, and the pool is done.
    await w.market.connect(w.grid).cancelOrder(farOff);
    await expect(w.channels.unlock(inbound, w.alice.address, encodeLocks(locks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(inbound, w.alice.address, w.grid.address, 0n, SMALL);
    await expect(
      w.channels.unlock(inbound, w.alice.address, encodeLocks(locks)),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsNoPendingLocks");
  });
});
