import { expect } from "chai";
import { recoverAddress } from "ethers";
import {
  ChannelsTypedData,
  ZERO_HASH,
  type BalanceProofFields,
  type ChannelsDomain,
} from "../../ops/channels/proofs.js";
import {
  FUNDS,
  SETTLE_TIMEOUT,
  deployChannels,
  openFunded,
  signedCooperativeSettle,
  signProofIntent,
  signedWithdraw,
  signedProof,
  type ChannelsFixture,
} from "../helpers/channels.js";

const ORDER_HASH = `0x${"ab".repeat(32)}`;
const EMPTY = { nonce: 0n, transferredAmount: 0n, additionalHash: ZERO_HASH, signature: "0x" };

/** The address the contract recovers from `signature` over `fields` as a BalanceProof there. */
function recoveredAs(domain: ChannelsDomain, fields: BalanceProofFields, signature: string) {
  return recoverAddress(
    new ChannelsTypedData(domain).proofDigest("BalanceProof", fields),
    signature,
  );
}

function recoveredAsIntent(
  domain: ChannelsDomain,
  intent: "Close" | "Update",
  fields: BalanceProofFields,
  signature: string,
) {
  return recoverAddress(new ChannelsTypedData(domain).proofDigest(intent, fields), signature);
}

describe("PaymentChannels", () => {
  let f: ChannelsFixture;

  before(async () => {
    f = await deployChannels();
  });

  let restore: () => Promise<void>;
  beforeEach(async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    restore = () => snapshot.restore();
  });
  afterEach(async () => {
    await restore();
  });

  /** Closes `channelId` as `closer` with `proof` (the partner's), the closer signing Close. */
  async function close(
    channelId: bigint,
    closer: typeof f.alice,
    proof: typeof EMPTY,
    submitter = closer,
  ) {
    const closeSignature = await signProofIntent(closer, f.domain, "Close", {
      ...proof,
      channelId,
    });
    return f.channels
      .connect(submitter)
      .closeChannel(channelId, closer.address, proof, closeSignature);
  }

  describe("opening and deposits", () => {
    it("opens channels between members with ids that are never reused", async () => {
      await expect(f.channels.connect(f.alice).openChannel(f.bob.address))
        .to.emit(f.channels, "ChannelOpened")
        .withArgs(1n, f.alice.address, f.bob.address, SETTLE_TIMEOUT);
      await expect(f.channels.connect(f.bob).openChannel(f.alice.address))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsAlreadyOpen")
        .withArgs(f.bob.address, f.alice.address, 1n);
      const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
      await f.channels.cooperativeSettle(
        ...(await signedCooperativeSettle(f.domain, 1n, f.alice, f.bob, {
          amount1: 0n,
          amount2: 0n,
          expiry,
        })),
      );
      await expect(f.channels.connect(f.bob).openChannel(f.alice.address))
        .to.emit(f.channels, "ChannelOpened")
        .withArgs(2n, f.bob.address, f.alice.address, SETTLE_TIMEOUT);
      expect(await f.channels.channelOfPair(f.alice.address, f.bob.address)).to.equal(2n);
    });

    it("does not let a non-member open a channel or be opened to", async () => {
      await expect(f.channels.connect(f.mallory).openChannel(f.alice.address))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsNotMember")
        .withArgs(f.mallory.address);
      await expect(f.channels.connect(f.alice).openChannel(f.mallory.address))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsNotMember")
        .withArgs(f.mallory.address);
    });

    it("takes cumulative deposits that only grow", async () => {
      await f.channels.connect(f.alice).openChannel(f.bob.address);
      await expect(f.channels.connect(f.alice).setTotalDeposit(1n, f.alice.address, 100n))
        .to.emit(f.channels, "ChannelDeposited")
        .withArgs(1n, f.alice.address, 100n, 100n, f.alice.address);
      await expect(f.channels.connect(f.alice).setTotalDeposit(1n, f.alice.address, 150n))
        .to.emit(f.channels, "ChannelDeposited")
        .withArgs(1n, f.alice.address, 150n, 50n, f.alice.address);
      await expect(f.channels.connect(f.alice).setTotalDeposit(1n, f.alice.address, 150n))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsDepositNotIncreasing")
        .withArgs(1n, f.alice.address, 150n, 150n);
      await expect(f.channels.connect(f.alice).setTotalDeposit(1n, f.alice.address, 120n))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsDepositNotIncreasing")
        .withArgs(1n, f.alice.address, 150n, 120n);
      expect(await f.credit.balanceOf(await f.channels.getAddress())).to.equal(150n);
      expect(await f.credit.balanceOf(f.alice.address)).to.equal(FUNDS - 150n);
    });
  });

  describe("close, update and settle", () => {
    it("lets a newer update beat the stale balance proof submitted at close", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 50n);
      const bobStale = await signedProof(f.bob, f.domain, {
        channelId: id,
        nonce: 1n,
        transferredAmount: 5n,
        additionalHash: ORDER_HASH,
      });
      const bobLatest = await signedProof(f.bob, f.domain, {
        channelId: id,
        nonce: 2n,
        transferredAmount: 8n,
        additionalHash: ORDER_HASH,
      });
      const aliceLatest = await signedProof(f.alice, f.domain, {
        channelId: id,
        nonce: 2n,
        transferredAmount: 30n,
        additionalHash: ORDER_HASH,
      });
      await expect(close(id, f.alice, bobStale, f.relayer))
        .to.emit(f.channels, "BalanceProofRecorded")
        .withArgs(id, f.bob.address, 1n, 5n, ORDER_HASH);

      // Alice's watcher holds her Update signature for Bob's newer proof; Bob's holds his for Alice's.
      const aliceUpdate = await signProofIntent(f.alice, f.domain, "Update", bobLatest);
      await expect(
        f.channels.connect(f.relayer).updateBalanceProof(id, f.bob.address, bobLatest, aliceUpdate),
      )
        .to.emit(f.channels, "BalanceProofRecorded")
        .withArgs(id, f.bob.address, 2n, 8n, ORDER_HASH);
      const aliceStaleUpdate = await signProofIntent(f.alice, f.domain, "Update", bobStale);
      await expect(f.channels.updateBalanceProof(id, f.bob.address, bobStale, aliceStaleUpdate))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsStaleBalanceProof")
        .withArgs(id, f.bob.address, 2n, 1n);
      const bobUpdate = await signProofIntent(f.bob, f.domain, "Update", aliceLatest);
      await f.channels.updateBalanceProof(id, f.alice.address, aliceLatest, bobUpdate);

      await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
      await expect(f.channels.connect(f.relayer).settleChannel(id))
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id, f.alice.address, 78n, f.bob.address, 72n, false);
      expect(await f.credit.balanceOf(f.alice.address)).to.equal(FUNDS - 100n + 78n);
      expect(await f.credit.balanceOf(f.bob.address)).to.equal(FUNDS - 50n + 72n);
    });

    it("makes a closer who hides its own payments pay them after the watcher's update", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 100n);
      const fromAlice = await signedProof(f.alice, f.domain, {
        channelId: id,
        nonce: 3n,
        transferredAmount: 10n,
        additionalHash: ORDER_HASH,
      });
      const fromBob = await signedProof(f.bob, f.domain, {
        channelId: id,
        nonce: 4n,
        transferredAmount: 60n,
        additionalHash: ORDER_HASH,
      });
      await close(id, f.bob, fromAlice);
      expect(await f.channels.settlementAmounts(id)).to.deep.equal([90n, 110n]);
      const update = await signProofIntent(f.alice, f.domain, "Update", fromBob);
      await f.channels.connect(f.relayer).updateBalanceProof(id, f.bob.address, fromBob, update);
      expect(await f.channels.settlementAmounts(id)).to.deep.equal([150n, 50n]);
    });

    it("refuses settlement before the timeout and updates after it", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 0n);
      await close(id, f.bob, EMPTY);
      const [, , , , , settleAt] = await f.channels.getChannel(id);
      await f.networkHelpers.time.setNextBlockTimestamp(settleAt);
      await expect(f.channels.settleChannel(id))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsSettleWindowOpen")
        .withArgs(id, settleAt, settleAt);
      const late = await signedProof(f.bob, f.domain, {
        channelId: id,
        nonce: 1n,
        transferredAmount: 0n,
        additionalHash: ZERO_HASH,
      });
      const update = await signProofIntent(f.alice, f.domain, "Update", late);
      await f.networkHelpers.time.setNextBlockTimestamp(settleAt + 1n);
      await expect(f.channels.updateBalanceProof(id, f.bob.address, late, update))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsSettleWindowOver")
        .withArgs(id, settleAt, settleAt + 1n);
      await expect(f.channels.settleChannel(id))
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id, f.alice.address, 100n, f.bob.address, 0n, false);
    });

    it("pays correctly when transferred amounts exceed the deposits on one side", async () => {
      const id = await openFunded(f, f.alice, f.bob, 10n, 10n);
      // Both sides paid far more than they deposited, netting out within the channel.
      const fromAlice = await signedProof(f.alice, f.domain, {
        channelId: id,
        nonce: 9n,
        transferredAmount: 100n,
        additionalHash: ZERO_HASH,
      });
      const fromBob = await signedProof(f.bob, f.domain, {
        channelId: id,
        nonce: 7n,
        transferredAmount: 95n,
        additionalHash: ZERO_HASH,
      });
      await close(id, f.alice, fromBob);
      await f.channels.updateBalanceProof(
        id,
        f.alice.address,
        fromAlice,
        await signProofIntent(f.bob, f.domain, "Update", fromAlice),
      );
      expect(await f.channels.settlementAmounts(id)).to.deep.equal([5n, 15n]);

      // One side signed away more than the whole channel: the other gets everything, no more.
      const id2 = await openFunded(f, f.alice, f.carol, 40n, 0n);
      const overspent = await signedProof(f.alice, f.domain, {
        channelId: id2,
        nonce: 1n,
        transferredAmount: 2n ** 256n - 1n,
        additionalHash: ZERO_HASH,
      });
      await close(id2, f.carol, overspent);
      await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
      await expect(f.channels.settleChannel(id))
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id, f.alice.address, 5n, f.bob.address, 15n, false);
      await expect(f.channels.settleChannel(id2))
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id2, f.alice.address, 0n, f.carol.address, 40n, false);
      expect(await f.credit.balanceOf(await f.channels.getAddress())).to.equal(0n);
    });
  });

  describe("signatures are bound to one channel, chain, contract and intent", () => {
    it("rejects a proof replayed on another channel", async () => {
      const id1 = await openFunded(f, f.alice, f.bob, 100n, 0n);
      const id2 = await openFunded(f, f.alice, f.carol, 100n, 0n);
      const forBob = await signedProof(f.alice, f.domain, {
        channelId: id1,
        nonce: 1n,
        transferredAmount: 40n,
        additionalHash: ZERO_HASH,
      });
      const replayed = { ...forBob, channelId: id2 };
      await expect(close(id2, f.carol, replayed))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id2, f.alice.address, recoveredAs(f.domain, replayed, forBob.signature));
    });

    it("rejects a proof signed for another chain id or another contract", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 0n);
      const fields = {
        channelId: id,
        nonce: 1n,
        transferredAmount: 40n,
        additionalHash: ZERO_HASH,
      };
      const otherChain = { ...f.domain, chainId: f.domain.chainId + 1n };
      const wrongChain = await signedProof(f.alice, otherChain, fields);
      await expect(close(id, f.bob, wrongChain))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id, f.alice.address, recoveredAs(f.domain, fields, wrongChain.signature));
      const other = await f.deployPaymentChannels();
      const otherContract = { ...f.domain, verifyingContract: await other.getAddress() };
      const wrongContract = await signedProof(f.alice, otherContract, fields);
      await expect(close(id, f.bob, wrongContract))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id, f.alice.address, recoveredAs(f.domain, fields, wrongContract.signature));
    });

    it("rejects a signature made for one intent when used for another", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 0n);
      const proof = await signedProof(f.alice, f.domain, {
        channelId: id,
        nonce: 1n,
        transferredAmount: 40n,
        additionalHash: ZERO_HASH,
      });
      // Bob's balance proof signature is offered as his Close signature.
      const bobProofSig = await signProofIntent(f.bob, f.domain, "BalanceProof", proof);
      await expect(f.channels.closeChannel(id, f.bob.address, proof, bobProofSig))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id, f.bob.address, recoveredAsIntent(f.domain, "Close", proof, bobProofSig));
      // Alice's Update signature is offered as her balance proof.
      const asUpdate = await signProofIntent(f.alice, f.domain, "Update", proof);
      await expect(close(id, f.bob, { ...proof, signature: asUpdate }))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id, f.alice.address, recoveredAs(f.domain, proof, asUpdate));
    });

    it("rejects proofs of a settled channel on the pair's reopened channel", async () => {
      const id1 = await openFunded(f, f.alice, f.bob, 100n, 0n);
      const old = await signedProof(f.alice, f.domain, {
        channelId: id1,
        nonce: 1n,
        transferredAmount: 70n,
        additionalHash: ZERO_HASH,
      });
      await close(id1, f.bob, old);
      await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
      await f.channels.settleChannel(id1);
      const id2 = await openFunded(f, f.alice, f.bob, 100n, 0n);
      expect(id2).to.equal(id1 + 1n);
      const replayed = { ...old, channelId: id2 };
      await expect(close(id2, f.bob, replayed))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSignature")
        .withArgs(id2, f.alice.address, recoveredAs(f.domain, replayed, old.signature));
    });
  });

  describe("withdraw and cooperative settle", () => {
    it("withdraws once per signed total and refuses the replay", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 50n);
      const now = BigInt(await f.networkHelpers.time.latest());
      const args = await signedWithdraw(f.domain, id, f.alice, f.bob, {
        totalWithdraw: 20n,
        expiry: now + 600n,
      });
      await expect(f.channels.connect(f.relayer).withdraw(...args))
        .to.emit(f.channels, "ChannelWithdrawn")
        .withArgs(id, f.alice.address, 20n, 20n);
      await expect(f.channels.withdraw(...args))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsWithdrawNotIncreasing")
        .withArgs(id, f.alice.address, 20n, 20n);
      expect(await f.credit.balanceOf(f.alice.address)).to.equal(FUNDS - 100n + 20n);
      expect(await f.channels.getParticipant(id, f.alice.address)).to.deep.equal([
        100n,
        20n,
        0n,
        0n,
      ]);
    });

    it("refuses an expired withdrawal and one beyond the deposits", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 50n);
      const now = BigInt(await f.networkHelpers.time.latest());
      const expired = await signedWithdraw(f.domain, id, f.alice, f.bob, {
        totalWithdraw: 20n,
        expiry: now,
      });
      await f.networkHelpers.time.setNextBlockTimestamp(now + 5n);
      await expect(f.channels.withdraw(...expired))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsWithdrawExpired")
        .withArgs(id, now, now + 5n);
      const tooMuch = await signedWithdraw(f.domain, id, f.alice, f.bob, {
        totalWithdraw: 151n,
        expiry: now + 600n,
      });
      await expect(f.channels.withdraw(...tooMuch))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsWithdrawExceedsDeposits")
        .withArgs(id, 151n, 150n);
    });

    it("refuses a cooperative settle whose amounts do not add up to the channel's holdings", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 50n);
      const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
      for (const [amount1, amount2, sum] of [
        [99n, 50n, 149n],
        [100n, 51n, 151n],
      ] as const) {
        await expect(
          f.channels.cooperativeSettle(
            ...(await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
              amount1,
              amount2,
              expiry,
            })),
          ),
        )
          .to.be.revertedWithCustomError(f.channels, "PaymentChannelsCooperativeSettleMismatch")
          .withArgs(id, sum, 150n);
      }
      await expect(
        f.channels.cooperativeSettle(
          ...(await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
            amount1: 70n,
            amount2: 80n,
            expiry,
          })),
        ),
      )
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id, f.alice.address, 70n, f.bob.address, 80n, true);
      expect(await f.credit.balanceOf(f.bob.address)).to.equal(FUNDS - 50n + 80n);
    });
  });

  describe("operator controls", () => {
    it("pausing blocks opening and deposits but never exits", async () => {
      const id = await openFunded(f, f.alice, f.bob, 100n, 50n);
      const id2 = await openFunded(f, f.alice, f.carol, 30n, 0n);
      await expect(f.channels.connect(f.alice).pause())
        .to.be.revertedWithCustomError(f.channels, "AccessManagedUnauthorized")
        .withArgs(f.alice.address);
      await f.channels.connect(f.grid).pause();
      await expect(
        f.channels.connect(f.bob).openChannel(f.carol.address),
      ).to.be.revertedWithCustomError(f.channels, "EnforcedPause");
      await expect(
        f.channels.connect(f.alice).setTotalDeposit(id, f.alice.address, 200n),
      ).to.be.revertedWithCustomError(f.channels, "EnforcedPause");

      const now = BigInt(await f.networkHelpers.time.latest());
      await expect(
        f.channels.withdraw(
          ...(await signedWithdraw(f.domain, id, f.bob, f.alice, {
            totalWithdraw: 10n,
            expiry: now + 600n,
          })),
        ),
      )
        .to.emit(f.channels, "ChannelWithdrawn")
        .withArgs(id, f.bob.address, 10n, 10n);
      const proof = await signedProof(f.alice, f.domain, {
        channelId: id,
        nonce: 1n,
        transferredAmount: 25n,
        additionalHash: ZERO_HASH,
      });
      await close(id, f.bob, EMPTY);
      await f.channels.updateBalanceProof(
        id,
        f.alice.address,
        proof,
        await signProofIntent(f.bob, f.domain, "Update", proof),
      );
      await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
      await expect(f.channels.settleChannel(id))
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id, f.alice.address, 75n, f.bob.address, 65n, false);

      await expect(
        f.channels.cooperativeSettle(
          ...(await signedCooperativeSettle(f.domain, id2, f.alice, f.carol, {
            amount1: 30n,
            amount2: 0n,
            expiry: BigInt(await f.networkHelpers.time.latest()) + 600n,
          })),
        ),
      )
        .to.emit(f.channels, "ChannelSettled")
        .withArgs(id2, f.alice.address, 30n, f.carol.address, 0n, true);
      expect(await f.credit.balanceOf(await f.channels.getAddress())).to.equal(0n);
    });

    it("lets only the grid operator change the settle timeout, for new channels", async () => {
      await f.channels.connect(f.alice).openChannel(f.bob.address);
      await expect(f.channels.connect(f.alice).setSettleTimeout(120n))
        .to.be.revertedWithCustomError(f.channels, "AccessManagedUnauthorized")
        .withArgs(f.alice.address);
      await expect(f.channels.connect(f.grid).setSettleTimeout(59n))
        .to.be.revertedWithCustomError(f.channels, "PaymentChannelsInvalidSettleTimeout")
        .withArgs(59n, 60n);
      await expect(f.channels.connect(f.grid).setSettleTimeout(120n))
        .to.emit(f.channels, "SettleTimeoutChanged")
        .withArgs(SETTLE_TIMEOUT, 120n);
      await expect(f.channels.connect(f.alice).openChannel(f.carol.address))
        .to.emit(f.channels, "ChannelOpened")
        .withArgs(2n, f.alice.address, f.carol.address, 120n);
      expect((await f.channels.getChannel(1n))[3]).to.equal(SETTLE_TIMEOUT);
    });

    it("upgrades only through the upgrader role", async () => {
      const implementation = await (await f.ethers.getContractFactory("PaymentChannels")).deploy();
      await expect(
        f.channels.connect(f.grid).upgradeToAndCall(await implementation.getAddress(), "0x"),
      )
        .to.be.revertedWithCustomError(f.channels, "AccessManagedUnauthorized")
        .withArgs(f.grid.address);
      await expect(
        f.channels.connect(f.admin).upgradeToAndCall(await implementation.getAddress(), "0x"),
      )
        .to.emit(f.channels, "Upgraded")
        .withArgs(await implementation.getAddress());
    });
  });
});
