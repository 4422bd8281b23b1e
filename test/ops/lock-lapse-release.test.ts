import { expect } from "chai";
import { encodeLocks, forwardAmount, lockShare, type Lock } from "../../ops/channels/locks.js";
import { marketOutcomes } from "../../ops/channels/market.js";
import type { Address } from "../../ops/channels/proofs.js";
import {
  CHANNEL_DEPOSIT as DEPOSIT,
  METERING_GRACE as GRACE,
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
import { refusalNamed } from "../helpers/metering.js";

const FEE_PER_KWH = 10_000n;

/**
 * The clients split and release locks by the market's outcome alone, so the outcome of an order the
 * meter never read must be the market's too: past the metering deadline the order is final with
 * nothing delivered and a late reading is refused, so the off-chain share of a lock on that order is
 * what `unlock` pays, whichever came first.
 */
describe("lock lapse vs off-chain release (review)", function () {
  this.timeout(120_000);
  let w: LockWorld;
  before(async () => {
    w = await deployLockWorld();
  });

  it("an honest hub's release to the seller follows a lapse recorded on chain: the seller's share is 0, as unlock pays", async () => {
    const orderId = await establishedOrder(w);
    const inbound = await openChannel(w, w.alice, w.grid, DEPOSIT);
    const outbound = await openChannel(w, w.grid, w.solar, DEPOSIT);
    const inLocks: Lock[] = [{ orderId, amount: PRICE }];
    const outLock: Lock = { orderId, amount: forwardAmount(PRICE, 10_000n, FEE_PER_KWH) };
    const inProof = await lockedProof(w, w.alice, inbound, 1n, 0n, inLocks);
    const outProof = await lockedProof(w, w.grid, outbound, 1n, 0n, [outLock]);
    // The buyer's channel with the hub closes and settles; the seller's channel stays open.
    await closeWith(w, w.grid, inbound, inProof);
    await reveal(w, w.grid, w.alice, inbound, inProof, inLocks);
    await settleAfterWindow(w, inbound);
    // The meter is late: past the grace the buyer unlocks, the lapse is recorded, the hub gets 0.
    await w.connection.networkHelpers.time.increaseTo(w.deliveryEnd + GRACE + 1n);
    await expect(w.channels.unlock(inbound, w.alice.address, encodeLocks(inLocks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(inbound, w.alice.address, w.grid.address, 0n, PRICE);
    // The market is the one source of the outcome: decided, nothing delivered, at every later time.
    expect(await w.market.paymentOutcome(orderId)).to.deep.equal([
      true,
      0n,
      10_000n,
      w.deliveryEnd,
    ]);
    // A late meter reading of full delivery is refused, so it cannot turn the outcome round.
    await expect(meter(w, orderId, 10_000n, 100n))
      .to.emit(w.market, "BatchItemRefused")
      .withArgs(orderId, refusalNamed(w.market, "MarketMeteringClosed"));
    // The seller asks the hub to release its lock off chain.
    const outcomes = marketOutcomes(
      w.manifest.contracts.EnergyMarket.proxy as Address,
      w.connection.ethers.provider,
    );
    // What releaseLock would transfer (and acceptRelease demand) for the hub's outgoing lock:
    const offChainShare = lockShare(outLock, await outcomes.outcome(orderId));
    // On chain the same lock pays the seller nothing: the lapse stands for every lock on the order.
    await closeWith(w, w.solar, outbound, outProof);
    await reveal(w, w.solar, w.grid, outbound, outProof, [outLock]);
    await settleAfterWindow(w, outbound);
    await expect(w.channels.unlock(outbound, w.grid.address, encodeLocks([outLock])))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(outbound, w.grid.address, w.solar.address, 0n, outLock.amount);
    // The hub received 0 for the buyer's lock, so an honest release must pay 0 as well.
    expect(offChainShare, "the hub would pay the seller for a lock its buyer got back").to.equal(
      0n,
    );
  });
});
