import { expect } from "chai";
import { type Lock } from "../../ops/channels/locks.js";
import { ZERO_HASH } from "../../ops/channels/proofs.js";
import {
  CHANNEL_DEPOSIT as DEPOSIT,
  ORDER_PRICE as PRICE,
  closeWith,
  deployLockWorld,
  establishedOrder,
  lockedProof,
  openChannel,
  reveal,
  settleAfterWindow,
  updateWith,
  type LockWorld,
} from "../helpers/locks.js";

/**
 * An update is accepted up to the last second of the settle window; a reveal sent as a second
 * transaction may no longer be admitted, so the update must carry its locks itself or settlement
 * returns the whole locked amount to the sender.
 */
describe("update at the end of the settle window loses the proof's locks (review)", function () {
  this.timeout(120_000);
  let w: LockWorld;
  before(async () => {
    w = await deployLockWorld();
  });

  it("a proof recorded within the settle window keeps its locks back at settlement", async () => {
    const orderId = await establishedOrder(w);
    const channelId = await openChannel(w, w.alice, w.grid, DEPOSIT);
    const locks: Lock[] = [{ orderId, amount: PRICE }];
    const paid = await lockedProof(w, w.alice, channelId, 1n, 0n, locks);
    // The buyer closes with the hub's empty proof; the hub (or its watcher) answers late.
    const empty = await lockedProof(w, w.grid, channelId, 0n, 0n, []);
    expect(empty.additionalHash).to.equal(ZERO_HASH);
    await closeWith(w, w.alice, channelId, empty);
    const [, , , , , settleAt] = await w.channels.getChannel(channelId);
    await w.connection.networkHelpers.time.setNextBlockTimestamp(settleAt);
    // Accepted in the window's last second, with its locks in the same transaction.
    await updateWith(w, w.grid, w.alice, channelId, paid, w.grid, locks);
    // A separate reveal after it could no longer land: the window is over.
    await expect(reveal(w, w.grid, w.alice, channelId, paid, locks)).to.be.revertedWithCustomError(
      w.channels,
      "PaymentChannelsSettleWindowOver",
    );
    await settleAfterWindow(w, channelId);
    const pending = await w.channels.pendingLocks(channelId, w.alice.address);
    expect(pending.amount, "the recorded proof's lock was dropped").to.equal(PRICE);
  });
});
