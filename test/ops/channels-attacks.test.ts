import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningKey, Wallet } from "ethers";
import type { MockEnergyMarket } from "../../types/ethers-contracts/index.js";
import { BalanceProofRejected, ChannelClient } from "../../ops/channels/client.js";
import { marketOrders } from "../../ops/channels/market.js";
import { ZERO_HASH } from "../../ops/channels/proofs.js";
import { OperatorError } from "../../ops/errors.js";
import {
  CONSUMER,
  FUNDS,
  PRODUCER,
  SETTLE_TIMEOUT,
  deployChannels,
  signedCooperativeSettle,
  type ChannelsFixture,
} from "../helpers/channels.js";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

const KEY_BUYER = new SigningKey(`0x${"41".repeat(32)}`);
const KEY_SELLER = new SigningKey(`0x${"42".repeat(32)}`);

/**
 * The attacks an adversarial review made succeed against the channels, each replayed here against
 * a buyer who uses its own (honest-looking) client to cheat and a seller running the real client.
 */
describe("channels: attacks on the channel rules", () => {
  let f: ChannelsFixture;
  let dir: string;
  let restore: () => Promise<void>;

  before(async () => {
    f = await deployChannels();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-attacks-"));
    const snapshot = await f.networkHelpers.takeSnapshot();
    restore = () => snapshot.restore();
  });
  afterEach(async () => {
    await restore();
    await rm(dir, { recursive: true, force: true });
  });

  async function member(key: SigningKey, role: bigint, name: string) {
    const wallet = new Wallet(key.privateKey, f.ethers.provider);
    await f.admin.sendTransaction({ to: wallet.address, value: 10n ** 18n });
    if (!(await f.manager.hasRole(role, wallet.address))[0]) {
      await f.manager.grantRole(role, wallet.address, 0);
      await f.credit.connect(f.grid).mint(wallet.address, FUNDS, ZERO_HASH);
    }
    const start = () =>
      ChannelClient.start({
        key,
        domain: f.domain,
        storePath: join(dir, `${name}.jsonl`),
        chain: { channels: f.channels.connect(wallet), token: f.credit.connect(wallet) },
      });
    return { client: await start(), start, wallet };
  }

  /** A buyer with `deposit` in a fresh channel to a seller who synced it. */
  async function channel(deposit: bigint) {
    const buyer = await member(KEY_BUYER, CONSUMER, "buyer");
    const seller = await member(KEY_SELLER, PRODUCER, "seller");
    const channelId = await buyer.client.openChannel(seller.client.address);
    await buyer.client.deposit(channelId, deposit);
    await seller.client.sync(channelId);
    return { buyer, seller, channelId };
  }

  async function settleAfterClose(closer: ChannelClient, channelId: bigint) {
    await closer.close(channelId);
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    await closer.settle(channelId);
  }

  it("a buyer cannot pay with proofs and then withdraw the same credits: the signed withdrawal is reserved", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    const confirmation = await seller.client.confirmWithdraw(channelId, {
      totalWithdraw: 400n,
      expiry,
    });
    // The buyer pays the whole deposit with a proof while holding the withdrawal.
    const proof = await buyer.client.pay(channelId, 400n);
    const refused = await rejection(seller.client.receive(proof));
    expect(refused).to.be.instanceOf(BalanceProofRejected);
    expect((refused as BalanceProofRejected).reason).to.equal("exceeds-deposit");
    // The reservation is durable: a restarted seller still refuses it.
    await seller.client.stop();
    seller.client = await seller.start();
    await seller.client.sync(channelId);
    expect(
      ((await rejection(seller.client.receive(proof))) as BalanceProofRejected).reason,
    ).to.equal("exceeds-deposit");

    // Whatever the buyer then does with the withdrawal, the seller gets exactly what it accepted.
    const { channelId: id, ...intent } = confirmation.fields;
    const own = KEY_BUYER.sign(
      buyer.client.typedData.withdrawDigest(confirmation.fields),
    ).serialized;
    await f.channels.withdraw(id, intent, own, confirmation.signature);
    await seller.client.sync(channelId);
    await settleAfterClose(seller.client, channelId);
    expect(seller.client.channel(channelId).received).to.equal(undefined);
    expect(await f.credit.balanceOf(seller.client.address)).to.equal(FUNDS);
    expect(await f.credit.balanceOf(buyer.client.address)).to.equal(FUNDS);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a seller that accepted proofs never signs a withdrawal of the same credits, and the contract refuses it", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    await seller.client.receive(await buyer.client.pay(channelId, 400n));
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    const error = await rejection(
      seller.client.confirmWithdraw(channelId, { totalWithdraw: 400n, expiry }),
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal(`channel ${channelId} cannot withdraw 400 in total`);
    // Even a withdrawal both sign over the real state is refused on chain: it binds the 400 paid.
    const intent = {
      participant: buyer.client.address,
      totalWithdraw: 400n,
      expiry,
      nonce: 1n,
      transferredAmount: 400n,
      partnerNonce: 0n,
      partnerTransferredAmount: 0n,
    };
    const fields = { channelId, ...intent };
    const digest = buyer.client.typedData.withdrawDigest(fields);
    const sign = (key: SigningKey) => key.sign(digest).serialized;
    await expect(f.channels.withdraw(channelId, intent, sign(KEY_BUYER), sign(KEY_SELLER)))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsWithdrawExceedsBalance")
      .withArgs(channelId, buyer.client.address, 400n, 0n);
    // The seller is paid exactly what it accepted.
    await settleAfterClose(seller.client, channelId);
    expect(await f.credit.balanceOf(seller.client.address)).to.equal(FUNDS + 400n);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a withdrawal keeps only its own amount reserved, and only until it expires", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    await seller.client.confirmWithdraw(channelId, { totalWithdraw: 300n, expiry });
    await seller.client.receive(await buyer.client.pay(channelId, 100n));
    const over = await buyer.client.pay(channelId, 1n);
    expect(
      ((await rejection(seller.client.receive(over))) as BalanceProofRejected).reason,
    ).to.equal("exceeds-deposit");
    // Once block time passes the expiry the contract refuses the withdrawal: the seller frees it.
    await f.networkHelpers.time.increase(601n);
    await seller.client.sync(channelId);
    await seller.client.receive(over);
    expect(seller.client.channel(channelId).received?.transferredAmount).to.equal(101n);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a withdrawal both sides confirmed binds the payments it counted: a later close cannot hide them", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    await seller.client.receive(await buyer.client.pay(channelId, 150n));
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    await buyer.client.withdraw(
      await seller.client.confirmWithdraw(channelId, { totalWithdraw: 250n, expiry }),
    );
    expect(await f.channels.getParticipant(channelId, buyer.client.address)).to.deep.equal([
      400n,
      250n,
      1n,
      150n,
    ]);
    // The buyer closes claiming the seller paid nothing and never brings its own proof: the
    // 150 it paid still counts.
    await settleAfterClose(buyer.client, channelId);
    expect(await f.credit.balanceOf(seller.client.address)).to.equal(FUNDS + 150n);
    expect(await f.credit.balanceOf(buyer.client.address)).to.equal(FUNDS - 150n);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a payer cannot replay an old cooperative settlement: the signer froze the channel and it expires", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    await seller.client.receive(await buyer.client.pay(channelId, 100n));
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    const offer = await seller.client.cooperativeSettleSignature(channelId, expiry);
    // The buyer keeps paying; the frozen seller accepts nothing and pays nothing.
    const later = await buyer.client.pay(channelId, 200n);
    expect(
      ((await rejection(seller.client.receive(later))) as BalanceProofRejected).reason,
    ).to.equal("channel-frozen");
    expect((await rejection(seller.client.pay(channelId, 1n))).message).to.equal(
      `channel ${channelId} cannot pay: it is frozen`,
    );
    // The freeze is durable: a restarted seller is still frozen.
    await seller.client.stop();
    seller.client = await seller.start();
    await seller.client.sync(channelId);
    expect(
      ((await rejection(seller.client.receive(later))) as BalanceProofRejected).reason,
    ).to.equal("channel-frozen");
    // After its expiry the old split is void on chain, and the seller takes payments again.
    await f.networkHelpers.time.increase(601n);
    await seller.client.sync(channelId);
    await seller.client.receive(later);
    const [id, settlement, sig1, sig2] = [
      channelId,
      {
        amount1: offer.fields.amount1,
        nonce1: offer.fields.nonce1,
        amount2: offer.fields.amount2,
        nonce2: offer.fields.nonce2,
        expiry,
      },
      buyer.wallet.signingKey.sign(buyer.client.typedData.cooperativeSettleDigest(offer.fields))
        .serialized,
      offer.signature,
    ];
    await expect(f.channels.cooperativeSettle(id, settlement, sig1, sig2))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsCooperativeSettleExpired")
      .withArgs(channelId, expiry, (await f.networkHelpers.time.latest()) + 1);
    await settleAfterClose(seller.client, channelId);
    expect(await f.credit.balanceOf(seller.client.address)).to.equal(FUNDS + 300n);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a signer learns its cooperative settlement was submitted and accepts no proof on the ended channel", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    await seller.client.receive(await buyer.client.pay(channelId, 100n));
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    await buyer.client.cooperativeSettle(
      await seller.client.cooperativeSettleSignature(channelId, expiry),
    );
    expect(await f.credit.balanceOf(seller.client.address)).to.equal(FUNDS + 100n);
    // Past the expiry the seller's freeze ends, but the channel is gone: a proof there is worthless.
    await f.networkHelpers.time.increase(601n);
    await seller.client.sync(channelId);
    expect(seller.client.channel(channelId).settled).to.equal(true);
    const afterwards = await buyer.wallet.signingKey.sign(
      buyer.client.typedData.proofDigest("BalanceProof", {
        channelId,
        nonce: 2n,
        transferredAmount: 300n,
        additionalHash: ZERO_HASH,
      }),
    ).serialized;
    const error = await rejection(
      seller.client.receive({
        channelId,
        nonce: 2n,
        transferredAmount: 300n,
        additionalHash: ZERO_HASH,
        sender: buyer.client.address,
        signature: afterwards,
      }),
    );
    expect((error as BalanceProofRejected).reason).to.equal("channel-closed");
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a countersigner refuses an offer that would freeze its channel for longer than an hour", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    const now = BigInt(await f.networkHelpers.time.latest());
    const far = await buyer.client.cooperativeSettleSignature(channelId, now + 86_400n);
    const error = await rejection(seller.client.cooperativeSettle(far));
    expect(error.message).to.equal(
      `cooperative settlement of channel ${channelId} expires too late`,
    );
    expect(seller.client.channel(channelId).frozenUntil).to.equal(undefined);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("a cooperative settlement is refused when a later withdrawal recorded newer proofs", async () => {
    const { buyer, seller, channelId } = await channel(400n);
    await seller.client.receive(await buyer.client.pay(channelId, 100n));
    await buyer.client.receive(await seller.client.pay(channelId, 10n));
    const now = BigInt(await f.networkHelpers.time.latest());
    // A split signed at nonces 0/0, before any payment; then a withdrawal records nonces 1/1.
    await buyer.client.withdraw(
      await seller.client.confirmWithdraw(channelId, { totalWithdraw: 100n, expiry: now + 600n }),
    );
    const settlement = { amount1: 300n, nonce1: 0n, amount2: 0n, nonce2: 0n, expiry: now + 600n };
    const fields = {
      channelId,
      participant1: buyer.client.address,
      participant2: seller.client.address,
      ...settlement,
    };
    const digest = buyer.client.typedData.cooperativeSettleDigest(fields);
    await expect(
      f.channels.cooperativeSettle(
        channelId,
        settlement,
        KEY_BUYER.sign(digest).serialized,
        KEY_SELLER.sign(digest).serialized,
      ),
    )
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsStaleBalanceProof")
      .withArgs(channelId, buyer.client.address, 1n, 0n);
    await buyer.client.stop();
    await seller.client.stop();
  });

  it("lets nobody but a participant raise its deposit: a stranger's one-unit front-run breaks no signed settlement", async () => {
    await f.channels.connect(f.alice).openChannel(f.bob.address);
    const id = await f.channels.lastChannelId();
    await f.channels.connect(f.alice).setTotalDeposit(id, f.alice.address, 100n);
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    const settle = await signedCooperativeSettle(f.domain, id, f.alice, f.bob, {
      amount1: 60n,
      amount2: 40n,
      expiry,
    });
    await expect(f.channels.connect(f.carol).setTotalDeposit(id, f.alice.address, 101n))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsDepositNotByParticipant")
      .withArgs(id, f.alice.address, f.carol.address);
    await expect(f.channels.connect(f.bob).setTotalDeposit(id, f.alice.address, 101n))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsDepositNotByParticipant")
      .withArgs(id, f.alice.address, f.bob.address);
    await expect(f.channels.connect(f.relayer).cooperativeSettle(...settle))
      .to.emit(f.channels, "ChannelSettled")
      .withArgs(id, f.alice.address, 60n, f.bob.address, 40n, true);
  });

  it("refuses to pay an order that is rejected, denied, cancelled, expired, pending or defaulted", async () => {
    const { buyer, seller, channelId } = await channel(1_000_000n);
    const market = (await f.ethers.deployContract(
      "MockEnergyMarket",
    )) as unknown as MockEnergyMarket;
    const orders = marketOrders(await market.getAddress(), f.ethers.provider);
    const order = (id: bigint, status: bigint) =>
      market.setOrder(id, {
        buyer: buyer.client.address,
        seller: seller.client.address,
        offerId: 1n,
        quantityWh: 2_000n,
        pricePerKwh: 100n,
        deliveryStart: 3_600n,
        deliveryEnd: 7_200n,
        defaultAmount: 0n,
        status,
      });
    const dead = [
      [1n, "Requested"],
      [2n, "Rejected"],
      [3n, "Cancelled"],
      [4n, "Expired"],
      [5n, "Denied"],
      [6n, "AwaitingReview"],
      [9n, "Defaulted"],
      [10n, "DefaultSettled"],
    ] as const;
    for (const [status, name] of dead) {
      await order(100n + status, status);
      const error = await rejection(buyer.client.payForOrder(orders, 100n + status));
      expect(error).to.be.instanceOf(OperatorError);
      expect(error.message).to.equal(`order ${100n + status} is not payable: it is ${name}`);
    }
    expect(buyer.client.channel(channelId).sent).to.equal(undefined);
    await order(107n, 7n);
    expect((await buyer.client.payForOrder(orders, 107n)).transferredAmount).to.equal(200n);
    await buyer.client.stop();
    await seller.client.stop();
  });
});
