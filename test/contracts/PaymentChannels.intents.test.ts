import { expect } from "chai";
import { ZERO_HASH } from "../../ops/channels/proofs.js";
import {
  SETTLE_TIMEOUT,
  deployChannels,
  openFunded,
  signProofIntent,
  signedCooperativeSettle,
  signedProof,
  signedWithdraw,
  type ChannelsFixture,
} from "../helpers/channels.js";

/** What withdrawals and cooperative settlements bind on chain, and what that rules out. */
describe("PaymentChannels: bound withdrawals and cooperative settlements", () => {
  let f: ChannelsFixture;
  let restore: () => Promise<void>;
  before(async () => {
    f = await deployChannels();
  });
  beforeEach(async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    restore = () => snapshot.restore();
  });
  afterEach(async () => {
    await restore();
  });

  const later = async (seconds: bigint) => BigInt(await f.networkHelpers.time.latest()) + seconds;

  it("records both bound payment totals, and a close with an older proof keeps them", async () => {
    const id = await openFunded(f, f.alice, f.bob, 300n, 100n);
    const withdraw = await signedWithdraw(f.domain, id, f.alice, f.bob, {
      totalWithdraw: 50n,
      expiry: await later(600n),
      nonce: 3n,
      transferredAmount: 120n,
      partnerNonce: 2n,
      partnerTransferredAmount: 20n,
    });
    await expect(f.channels.withdraw(...withdraw))
      .to.emit(f.channels, "BalanceProofRecorded")
      .withArgs(id, f.alice.address, 3n, 120n, ZERO_HASH)
      .and.to.emit(f.channels, "BalanceProofRecorded")
      .withArgs(id, f.bob.address, 2n, 20n, ZERO_HASH);
    // Bob closes with alice's older proof #1 (100): the bound #3 (120) stays recorded.
    const older = await signedProof(f.alice, f.domain, {
      channelId: id,
      nonce: 1n,
      transferredAmount: 100n,
      additionalHash: ZERO_HASH,
    });
    await f.channels.closeChannel(
      id,
      f.bob.address,
      older,
      await signProofIntent(f.bob, f.domain, "Close", older),
    );
    expect(await f.channels.getParticipant(id, f.alice.address)).to.deep.equal([
      300n,
      50n,
      3n,
      120n,
    ]);
    // An update must be newer than the bound proof, not just than the one at close.
    const update = await signedProof(f.alice, f.domain, {
      channelId: id,
      nonce: 3n,
      transferredAmount: 0n,
      additionalHash: ZERO_HASH,
    });
    await expect(
      f.channels.updateBalanceProof(
        id,
        f.alice.address,
        update,
        await signProofIntent(f.bob, f.domain, "Update", update),
      ),
    )
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsStaleBalanceProof")
      .withArgs(id, f.alice.address, 3n, 3n);
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    // alice: 300 - 50 - 120 + 20 = 150; bob: 100 + 120 - 20 = 200.
    await expect(f.channels.settleChannel(id))
      .to.emit(f.channels, "ChannelSettled")
      .withArgs(id, f.alice.address, 150n, f.bob.address, 200n, false);
  });

  it("refuses a withdrawal above the balance in the state it binds", async () => {
    const id = await openFunded(f, f.alice, f.bob, 300n, 100n);
    const expiry = await later(600n);
    const bound = {
      nonce: 1n,
      transferredAmount: 200n,
      partnerNonce: 1n,
      partnerTransferredAmount: 30n,
    };
    await expect(
      f.channels.withdraw(
        ...(await signedWithdraw(f.domain, id, f.alice, f.bob, {
          totalWithdraw: 131n,
          expiry,
          ...bound,
        })),
      ),
    )
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsWithdrawExceedsBalance")
      .withArgs(id, f.alice.address, 131n, 130n);
    await expect(
      f.channels.withdraw(
        ...(await signedWithdraw(f.domain, id, f.alice, f.bob, {
          totalWithdraw: 130n,
          expiry,
          ...bound,
        })),
      ),
    )
      .to.emit(f.channels, "ChannelWithdrawn")
      .withArgs(id, f.alice.address, 130n, 130n);
  });

  it("refuses an expired cooperative settlement and one with a nonce below a recorded proof", async () => {
    const id = await openFunded(f, f.alice, f.bob, 300n, 100n);
    const expiry = await later(60n);
    const stale = await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
      amount1: 250n,
      amount2: 150n,
      expiry,
    });
    await f.networkHelpers.time.setNextBlockTimestamp(expiry + 1n);
    await expect(f.channels.cooperativeSettle(...stale))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsCooperativeSettleExpired")
      .withArgs(id, expiry, expiry + 1n);
    await f.channels.withdraw(
      ...(await signedWithdraw(f.domain, id, f.bob, f.alice, {
        totalWithdraw: 10n,
        expiry: await later(600n),
        partnerNonce: 4n,
        partnerTransferredAmount: 50n,
      })),
    );
    const beforeWithdraw = await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
      amount1: 250n,
      amount2: 140n,
      nonce1: 3n,
      expiry: await later(600n),
    });
    await expect(f.channels.cooperativeSettle(...beforeWithdraw))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsStaleBalanceProof")
      .withArgs(id, f.alice.address, 4n, 3n);
    await expect(
      f.channels.cooperativeSettle(
        ...(await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
          amount1: 250n,
          amount2: 140n,
          nonce1: 4n,
          expiry: await later(600n),
        })),
      ),
    )
      .to.emit(f.channels, "ChannelSettled")
      .withArgs(id, f.alice.address, 250n, f.bob.address, 140n, true);
  });
});
