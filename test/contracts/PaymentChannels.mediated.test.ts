import { expect } from "chai";
import { encodeLocks, forwardAmount, type Lock } from "../../ops/channels/locks.js";
import { signProofIntent } from "../helpers/channels.js";
import { publishOffer, requestOrder } from "../helpers/market.js";
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

const FEE_PER_KWH = 10_000n; // 0.01 credits per kWh: 100_000 on 10 kWh

/** Buyer -> hub -> seller: alice pays the grid operator's hub, which forwards to solar; both hops lock one order. */
describe("PaymentChannels mediated transfers through the hub", function () {
  this.timeout(120_000);
  const world = lockWorldPerTest();
  let w: LockWorld;
  beforeEach(() => {
    w = world();
  });

  const balanceOf = (who: { address: string }) => w.credit.balanceOf(who.address);

  /** Two channels with the hub and one order; returns both hops' locks and proofs. */
  async function route() {
    const orderId = await establishedOrder(w);
    const inbound = await openChannel(w, w.alice, w.grid, DEPOSIT);
    const outbound = await openChannel(w, w.grid, w.solar, DEPOSIT);
    const forwarded = forwardAmount(PRICE, 10_000n, FEE_PER_KWH);
    const inLocks: Lock[] = [{ orderId, amount: PRICE }];
    const outLocks: Lock[] = [{ orderId, amount: forwarded }];
    const inProof = await lockedProof(w, w.alice, inbound, 1n, 0n, inLocks);
    const outProof = await lockedProof(w, w.grid, outbound, 1n, 0n, outLocks);
    return { orderId, inbound, outbound, forwarded, inLocks, outLocks, inProof, outProof };
  }

  /** Settles both channels (after both windows) and unlocks both pools; returns each party's gain. */
  async function settleBoth(r: Awaited<ReturnType<typeof route>>) {
    const before = [await balanceOf(w.alice), await balanceOf(w.grid), await balanceOf(w.solar)];
    await settleAfterWindow(w, r.inbound);
    await settleAfterWindow(w, r.outbound);
    await w.channels.unlock(r.inbound, w.alice.address, encodeLocks(r.inLocks));
    await w.channels.unlock(r.outbound, w.grid.address, encodeLocks(r.outLocks));
    const after = [await balanceOf(w.alice), await balanceOf(w.grid), await balanceOf(w.solar)];
    return {
      alice: after[0]! - before[0]!,
      hub: after[1]! - before[1]! - DEPOSIT,
      solar: after[2]! - before[2]!,
    };
  }

  for (const deliveredWh of [10_000n, 6_000n, 0n]) {
    it(`settles each hop on its own and the hub never loses (${deliveredWh} of 10000 Wh delivered)`, async () => {
      const r = await route();
      await closeWith(w, w.grid, r.inbound, r.inProof);
      await reveal(w, w.grid, w.alice, r.inbound, r.inProof, r.inLocks);
      await closeWith(w, w.solar, r.outbound, r.outProof);
      await reveal(w, w.solar, w.grid, r.outbound, r.outProof, r.outLocks);
      await meter(w, r.orderId, deliveredWh, 100n);
      const gain = await settleBoth(r);
      const paid = (PRICE * deliveredWh) / 10_000n;
      const received = (r.forwarded * deliveredWh) / 10_000n;
      expect(gain.alice).to.equal(DEPOSIT - paid);
      expect(gain.solar).to.equal(received);
      expect(gain.hub).to.equal(paid - received);
      expect(gain.hub >= 0n).to.equal(true);
    });
  }

  it("a lock claimed late resolves alike on both hops: past the metering deadline a reading is refused", async () => {
    const r = await route();
    await closeWith(w, w.grid, r.inbound, r.inProof);
    await reveal(w, w.grid, w.alice, r.inbound, r.inProof, r.inLocks);
    await closeWith(w, w.solar, r.outbound, r.outProof);
    await reveal(w, w.solar, w.grid, r.outbound, r.outProof, r.outLocks);
    await settleAfterWindow(w, r.inbound);
    await settleAfterWindow(w, r.outbound);
    await w.connection.networkHelpers.time.increaseTo(w.deliveryEnd + GRACE + 1n);
    await w.channels.unlock(r.inbound, w.alice.address, encodeLocks(r.inLocks));
    // The meter cannot read after the deadline, so no reading turns the outcome between two unlocks.
    await expect(meter(w, r.orderId, 10_000n, 100n))
      .to.emit(w.market, "BatchItemRefused")
      .withArgs(r.orderId, refusalNamed(w.market, "MarketMeteringClosed"));
    await expect(w.channels.unlock(r.outbound, w.grid.address, encodeLocks(r.outLocks)))
      .to.emit(w.channels, "LocksUnlocked")
      .withArgs(r.outbound, w.grid.address, w.solar.address, 0n, r.forwarded);
  });

  it("hub closing with an old state: the seller records the hub's newest proof and its locks", async () => {
    const r = await route();
    // A second order of solar's, bought by bob in solar's own zone (the line to alice's zone is full).
    const offerId = await publishOffer(w, w.solar, 4_000n);
    const second = await requestOrder(w, w.bob, offerId, 4_000n);
    await w.market.connect(w.solar).confirm(second);
    const bothLocks: Lock[] = [...r.outLocks, { orderId: second, amount: 900_000n }];
    const newer = await lockedProof(w, w.grid, r.outbound, 2n, 0n, bothLocks);
    // The hub closes citing solar's (empty) payments; its own proof counts zero until solar updates.
    const empty = await lockedProof(w, w.solar, r.outbound, 0n, 0n, []);
    await closeWith(w, w.grid, r.outbound, empty);
    await updateWith(w, w.solar, w.grid, r.outbound, r.outProof);
    await updateWith(w, w.solar, w.grid, r.outbound, newer);
    await expect(
      updateWith(w, w.solar, w.grid, r.outbound, r.outProof),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsStaleBalanceProof");
    await reveal(w, w.solar, w.grid, r.outbound, newer, bothLocks);
    await meter(w, r.orderId, 10_000n, 100n);
    await meter(w, second, 4_000n, 200n);
    const before = await balanceOf(w.solar);
    await settleAfterWindow(w, r.outbound);
    await w.channels.unlock(r.outbound, w.grid.address, encodeLocks(bothLocks));
    expect((await balanceOf(w.solar)) - before).to.equal(r.forwarded + 900_000n);
  });

  it("hub offline: its watcher records and reveals the buyer's lock, so the hub pays out only what it is paid", async () => {
    const r = await route();
    // Alice closes citing the hub's empty proof, hoping her own lock toward the hub never counts.
    const empty = await lockedProof(w, w.grid, r.inbound, 0n, 0n, []);
    await closeWith(w, w.alice, r.inbound, empty);
    // The watcher (a relayer holding only the hub's Update signature) answers for the offline hub.
    await updateWith(w, w.grid, w.alice, r.inbound, r.inProof, w.outsider);
    await reveal(w, w.outsider, w.alice, r.inbound, r.inProof, r.inLocks);
    await closeWith(w, w.solar, r.outbound, r.outProof);
    await reveal(w, w.solar, w.grid, r.outbound, r.outProof, r.outLocks);
    await meter(w, r.orderId, 10_000n, 100n);
    const gain = await settleBoth(r);
    expect(gain).to.deep.equal({
      alice: DEPOSIT - PRICE,
      hub: PRICE - r.forwarded,
      solar: r.forwarded,
    });
  });

  it("replays across the hop: a proof or close signature of one channel is worthless in the other", async () => {
    const r = await route();
    const replayed = { ...r.inProof, channelId: r.outbound };
    const closeSignature = await signProofIntent(w.solar, w.domain, "Close", replayed);
    await expect(
      w.channels
        .connect(w.solar)
        .closeChannel(r.outbound, w.solar.address, replayed, closeSignature),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsInvalidSignature");
    await closeWith(w, w.solar, r.outbound, r.outProof);
    await expect(
      reveal(w, w.solar, w.grid, r.outbound, r.inProof, r.inLocks),
    ).to.be.revertedWithCustomError(w.channels, "PaymentChannelsInvalidSignature");
  });
});
