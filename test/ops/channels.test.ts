import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile, appendFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Signature,
  SigningKey,
  TypedDataEncoder,
  computeAddress,
  Wallet,
  concat,
  keccak256,
  recoverAddress,
  toBeHex,
  zeroPadValue,
} from "ethers";
import type { MockEnergyMarket } from "../../types/ethers-contracts/index.js";
import { BalanceProofRejected, ChannelClient } from "../../ops/channels/client.js";
import { defaultEcdsa, ethersEcdsa, libsecp256k1Ecdsa } from "../../ops/channels/ecdsa.js";
import { marketOrders, orderPrice } from "../../ops/channels/market.js";
import {
  ChannelsTypedData,
  INTENT_TYPES,
  ZERO_HASH,
  orderPaymentHash,
  typedDataDomain,
  type ChannelsDomain,
} from "../../ops/channels/proofs.js";
import { ChannelStore } from "../../ops/channels/store.js";
import { ChannelWatcher } from "../../ops/channels/watcher.js";
import { OperatorError } from "../../ops/errors.js";
import {
  CONSUMER,
  FUNDS,
  PRODUCER,
  SETTLE_TIMEOUT,
  deployChannels,
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

const KEY_A = new SigningKey(`0x${"11".repeat(32)}`);
const KEY_B = new SigningKey(`0x${"22".repeat(32)}`);
const KEY_C = new SigningKey(`0x${"33".repeat(32)}`);
const DOMAIN: ChannelsDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

describe("channels: balance proofs", () => {
  it("hashes every intent exactly like ethers' EIP-712 encoder", () => {
    const typed = new ChannelsTypedData(DOMAIN);
    const fields = {
      channelId: 42n,
      nonce: 7n,
      transferredAmount: 123_456_789n,
      additionalHash: `0x${"cd".repeat(32)}`,
    };
    for (const intent of ["BalanceProof", "Close", "Update"] as const) {
      expect(typed.proofDigest(intent, fields)).to.equal(
        TypedDataEncoder.hash(typedDataDomain(DOMAIN), INTENT_TYPES[intent], fields),
      );
    }
    // Distinct intents over the same fields never share a digest.
    expect(typed.proofDigest("Close", fields)).to.not.equal(typed.proofDigest("Update", fields));
  });

  it("uses libsecp256k1 when its binding is installed", () => {
    expect(libsecp256k1Ecdsa?.name).to.equal("libsecp256k1 (native)");
    expect(defaultEcdsa).to.equal(libsecp256k1Ecdsa);
  });

  it("signs identically with libsecp256k1 and ethers, and both refuse a high-s signature", () => {
    const typed = new ChannelsTypedData(DOMAIN);
    const digest = typed.proofDigest("BalanceProof", {
      channelId: 1n,
      nonce: 2n,
      transferredAmount: 3n,
      additionalHash: ZERO_HASH,
    });
    const address = computeAddress(KEY_A.publicKey);
    const reference = ethersEcdsa.sign(KEY_A, digest);
    expect(defaultEcdsa.sign(KEY_A, digest)).to.equal(reference);
    expect(defaultEcdsa.recover(digest, reference)).to.equal(address);
    expect(ethersEcdsa.recover(digest, reference)).to.equal(address);
    // The same signature with s replaced by n - s (and v flipped) is valid math but non-canonical.
    const sig = Signature.from(reference);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const high = concat([sig.r, toBeHex(n - BigInt(sig.s), 32), sig.v === 27 ? "0x1c" : "0x1b"]);
    expect(defaultEcdsa.recover(digest, high)).to.equal(undefined);
    expect(ethersEcdsa.recover(digest, high)).to.equal(undefined);
    expect(defaultEcdsa.recover(digest, "0x1234")).to.equal(undefined);
  });

  it("binds an order payment to the market, the order and its delivery interval", () => {
    const base = {
      market: DOMAIN.verifyingContract,
      orderId: 9n,
      deliveryStart: 900n,
      deliveryEnd: 1800n,
    };
    const hash = orderPaymentHash(base);
    // abi.encode: four 32-byte words, the address left-padded.
    expect(hash).to.equal(
      keccak256(
        concat([
          zeroPadValue(base.market, 32),
          toBeHex(9n, 32),
          toBeHex(900n, 32),
          toBeHex(1800n, 32),
        ]),
      ),
    );
    expect(orderPaymentHash({ ...base, deliveryEnd: 2700n })).to.not.equal(hash);
    expect(orderPaymentHash({ ...base, orderId: 10n })).to.not.equal(hash);
    expect(orderPrice({ quantityWh: 2_500n, pricePerKwh: 120_000n })).to.equal(300_000n);
    expect(orderPrice({ quantityWh: 1n, pricePerKwh: 999n })).to.equal(0n);
  });
});

describe("channels: client off chain", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-channels-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function pair(domain = DOMAIN) {
    const alice = await ChannelClient.start({
      key: KEY_A,
      domain,
      storePath: join(dir, "a.jsonl"),
    });
    const bob = await ChannelClient.start({ key: KEY_B, domain, storePath: join(dir, "b.jsonl") });
    await alice.track({
      channelId: 1n,
      partner: bob.address,
      participant1: alice.address,
      selfDeposit: 100n,
      partnerDeposit: 20n,
    });
    await bob.track({
      channelId: 1n,
      partner: alice.address,
      participant1: alice.address,
      selfDeposit: 20n,
      partnerDeposit: 100n,
    });
    return { alice, bob };
  }

  it("pays with cumulative proofs the partner accepts and both sides persist", async () => {
    const { alice, bob } = await pair();
    const p1 = await alice.pay(1n, 30n);
    const p2 = await alice.pay(1n, 45n);
    expect([p1.nonce, p1.transferredAmount, p2.nonce, p2.transferredAmount]).to.deep.equal([
      1n,
      30n,
      2n,
      75n,
    ]);
    expect(recoverAddress(alice.typedData.proofDigest("BalanceProof", p2), p2.signature)).to.equal(
      alice.address,
    );
    await bob.receive(p1);
    await bob.receive(p2);
    expect(bob.balanceOf(1n)).to.equal(95n);
    expect(alice.balanceOf(1n)).to.equal(25n);
    await alice.stop();
    await bob.stop();
    const again = await ChannelClient.start({
      key: KEY_B,
      domain: DOMAIN,
      storePath: join(dir, "b.jsonl"),
    });
    expect(again.channel(1n).received).to.deep.equal({
      channelId: 1n,
      nonce: 2n,
      transferredAmount: 75n,
      additionalHash: ZERO_HASH,
      signature: p2.signature,
    });
    await again.stop();
  });

  it("rejects proofs that are replayed, decreasing, too large, foreign or badly signed", async () => {
    const { alice, bob } = await pair();
    const p1 = await alice.pay(1n, 60n);
    await bob.receive(p1);
    const cases: [Promise<unknown>, string, string][] = [
      [bob.receive(p1), "stale-nonce", "nonce 1 is not above the last received 1"],
      [bob.receive({ ...p1, channelId: 2n }), "unknown-channel", "unknown channel 2"],
      [
        bob.receive({ ...p1, sender: new Wallet(KEY_C.privateKey).address }),
        "wrong-sender",
        `proof sender ${new Wallet(KEY_C.privateKey).address} is not the partner ${alice.address} of channel 1`,
      ],
    ];
    // A proof with a higher nonce but a smaller amount, properly signed by alice.
    const lower = { channelId: 1n, nonce: 5n, transferredAmount: 10n, additionalHash: ZERO_HASH };
    const lowerSig = KEY_A.sign(alice.typedData.proofDigest("BalanceProof", lower)).serialized;
    cases.push([
      bob.receive({ ...lower, sender: alice.address, signature: lowerSig }),
      "amount-decreased",
      "transferred amount 10 is below the last received 60",
    ]);
    const tooMuch = {
      channelId: 1n,
      nonce: 6n,
      transferredAmount: 101n,
      additionalHash: ZERO_HASH,
    };
    cases.push([
      bob.receive({
        ...tooMuch,
        sender: alice.address,
        signature: KEY_A.sign(alice.typedData.proofDigest("BalanceProof", tooMuch)).serialized,
      }),
      "exceeds-deposit",
      "transferred amount 101 exceeds what the partner holds (100)",
    ]);
    // Signed by alice for another chain id: the signature does not verify here.
    const otherChain = new ChannelsTypedData({ ...DOMAIN, chainId: 1n });
    const moved = { channelId: 1n, nonce: 7n, transferredAmount: 70n, additionalHash: ZERO_HASH };
    cases.push([
      bob.receive({
        ...moved,
        sender: alice.address,
        signature: KEY_A.sign(otherChain.proofDigest("BalanceProof", moved)).serialized,
      }),
      "bad-signature",
      `signature is not ${alice.address}'s for channel 1 on this chain and contract`,
    ]);
    for (const [promise, reason, message] of cases) {
      const error = await rejection(promise);
      expect(error).to.be.instanceOf(BalanceProofRejected);
      expect([(error as BalanceProofRejected).reason, error.message]).to.deep.equal([
        reason,
        message,
      ]);
    }
    expect(bob.channel(1n).received?.nonce).to.equal(1n);
    await alice.stop();
    await bob.stop();
  });

  it("refuses to pay more than its balance", async () => {
    const { alice, bob } = await pair();
    await alice.pay(1n, 100n);
    const error = await rejection(alice.pay(1n, 1n));
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal("channel 1 cannot pay 1");
    expect(alice.channel(1n).sent?.nonce).to.equal(1n);
    await alice.stop();
    await bob.stop();
  });
});

describe("channels: durable store", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-store-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("group-commits concurrent appends and reads them back in order, mode 0600", async () => {
    const path = join(dir, "log.jsonl");
    const { store } = await ChannelStore.open(path);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append({ kind: "closed", channelId: BigInt(i) })),
    );
    await store.close();
    const { store: again, records } = await ChannelStore.open(path);
    expect(records.map((r) => ("channelId" in r ? r.channelId : undefined))).to.deep.equal(
      Array.from({ length: 50 }, (_, i) => BigInt(i)),
    );
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    await again.close();
  });

  it("cuts off a torn last line and refuses a damaged one in the middle", async () => {
    const path = join(dir, "log.jsonl");
    await writeFile(path, '{"kind":"closed","channelId":"1"}\n{"kind":"clo', { mode: 0o600 });
    const { store, records } = await ChannelStore.open(path);
    expect(records).to.deep.equal([{ kind: "closed", channelId: 1n }]);
    await store.append({ kind: "settled", channelId: 1n });
    await store.close();
    expect(await readFile(path, "utf8")).to.equal(
      '{"kind":"closed","channelId":"1"}\n{"kind":"settled","channelId":"1"}\n',
    );
    await appendFile(path, "not json\n{}\n");
    const error = await rejection(ChannelStore.open(path));
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal(`channel store ${path} is damaged at line 3`);
  });
});

describe("channels: client on chain", () => {
  let f: ChannelsFixture;
  let dir: string;
  let market: MockEnergyMarket;

  before(async () => {
    f = await deployChannels();
    market = (await f.ethers.deployContract("MockEnergyMarket")) as unknown as MockEnergyMarket;
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-chain-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A member with a fresh key, credits and a client on the fixture's chain. */
  async function member(key: SigningKey, role: bigint, name: string) {
    const wallet = new Wallet(key.privateKey, f.ethers.provider);
    await f.admin.sendTransaction({ to: wallet.address, value: 10n ** 18n });
    if (!(await f.manager.hasRole(role, wallet.address))[0]) {
      await f.manager.grantRole(role, wallet.address, 0);
      await f.credit.connect(f.grid).mint(wallet.address, FUNDS, ZERO_HASH);
    }
    return ChannelClient.start({
      key,
      domain: f.domain,
      storePath: join(dir, `${name}.jsonl`),
      chain: { channels: f.channels.connect(wallet), token: f.credit.connect(wallet) },
    });
  }

  it("pays for a market order once, tagged with the order, and the seller sees it paid", async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    const buyer = await member(KEY_A, CONSUMER, "buyer");
    const seller = await member(KEY_B, PRODUCER, "seller");
    const channelId = await buyer.openChannel(seller.address);
    await buyer.deposit(channelId, 1_000_000n);
    await seller.sync(channelId);
    await market.setOrder(5n, {
      buyer: buyer.address,
      seller: seller.address,
      offerId: 2n,
      quantityWh: 2_500n,
      pricePerKwh: 120_000n,
      deliveryStart: 3_600n,
      deliveryEnd: 7_200n,
      defaultAmount: 10n,
      status: 1n,
    });
    const orders = marketOrders(await market.getAddress(), f.ethers.provider);
    const [proof, same] = await Promise.all([
      buyer.payForOrder(orders, 5n),
      buyer.payForOrder(orders, 5n),
    ]);
    expect(same).to.deep.equal(proof);
    expect([proof.nonce, proof.transferredAmount]).to.deep.equal([1n, 300_000n]);
    expect(proof.additionalHash).to.equal(
      orderPaymentHash({
        market: await market.getAddress(),
        orderId: 5n,
        deliveryStart: 3_600n,
        deliveryEnd: 7_200n,
      }),
    );
    expect(await seller.isOrderPaid(orders, 5n)).to.equal(false);
    await seller.receive(proof);
    expect(await seller.isOrderPaid(orders, 5n)).to.equal(true);
    expect(await buyer.payForOrder(orders, 5n)).to.deep.equal(proof);
    expect(buyer.channel(channelId).sent?.nonce).to.equal(1n);

    await market.setOrder(6n, {
      buyer: seller.address,
      seller: buyer.address,
      offerId: 2n,
      quantityWh: 1n,
      pricePerKwh: 1n,
      deliveryStart: 0n,
      deliveryEnd: 1n,
      defaultAmount: 0n,
      status: 1n,
    });
    const error = await rejection(buyer.payForOrder(orders, 6n));
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal(`order 6 is not ${buyer.address}'s to pay`);
    await buyer.stop();
    await seller.stop();
    await snapshot.restore();
  });

  it("lets the watcher defeat a partner who closes hiding its payments, then settles exactly", async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    const alice = await member(KEY_A, CONSUMER, "alice");
    const bob = await member(KEY_B, PRODUCER, "bob");
    const channelId = await alice.openChannel(bob.address);
    await alice.deposit(channelId, 500n);
    await bob.sync(channelId);
    await bob.deposit(channelId, 200n);
    await alice.sync(channelId);
    for (const amount of [100n, 50n]) await bob.receive(await alice.pay(channelId, amount));
    for (const amount of [20n, 30n, 40n]) await alice.receive(await bob.pay(channelId, amount));

    // Alice hands her watcher only her Update signature over bob's latest proof.
    const watcherAccount = new Wallet(KEY_C.privateKey, f.ethers.provider);
    await f.admin.sendTransaction({ to: watcherAccount.address, value: 10n ** 18n });
    const watcher = new ChannelWatcher(
      f.channels.connect(watcherAccount),
      await f.ethers.provider.getBlockNumber(),
    );
    watcher.watch(alice.delegation(channelId)!);
    expect(await watcher.scan()).to.deep.equal([]);

    // Bob closes with alice's latest proof; his own 90 paid to alice are not on chain.
    await bob.close(channelId);
    expect(await f.channels.settlementAmounts(channelId)).to.deep.equal([350n, 350n]);
    expect(await watcher.scan()).to.deep.equal([
      { channelId, sender: bob.address, nonce: 3n, action: "updated" },
    ]);
    expect(await f.channels.settlementAmounts(channelId)).to.deep.equal([440n, 260n]);
    expect(await alice.update(channelId)).to.equal(false);

    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    await alice.settle(channelId);
    expect(await f.credit.balanceOf(alice.address)).to.equal(FUNDS - 500n + 440n);
    expect(await f.credit.balanceOf(bob.address)).to.equal(FUNDS - 200n + 260n);
    await alice.stop();
    await bob.stop();
    await snapshot.restore();
  });

  it("updates by itself after a cheating close; a watcher arriving after the window is too late", async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    const alice = await member(KEY_A, CONSUMER, "alice4");
    const bob = await member(KEY_B, PRODUCER, "bob4");
    const first = await alice.openChannel(bob.address);
    await bob.sync(first);
    await bob.deposit(first, 100n);
    await alice.sync(first);
    await alice.receive(await bob.pay(first, 60n));
    await bob.close(first);
    expect(await f.channels.settlementAmounts(first)).to.deep.equal([0n, 100n]);
    expect(await alice.update(first)).to.equal(true);
    expect(await f.channels.settlementAmounts(first)).to.deep.equal([60n, 40n]);
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    await bob.settle(first);

    const second = await alice.openChannel(bob.address);
    expect(second).to.equal(first + 1n);
    await bob.sync(second);
    await bob.deposit(second, 100n);
    await alice.sync(second);
    await alice.receive(await bob.pay(second, 10n));
    const watcherAccount = new Wallet(KEY_C.privateKey, f.ethers.provider);
    await f.admin.sendTransaction({ to: watcherAccount.address, value: 10n ** 18n });
    const watcher = new ChannelWatcher(
      f.channels.connect(watcherAccount),
      await f.ethers.provider.getBlockNumber(),
    );
    watcher.watch(alice.delegation(second)!);
    await bob.close(second);
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    expect(await watcher.scan()).to.deep.equal([
      { channelId: second, sender: bob.address, nonce: 1n, action: "too-late" },
    ]);
    await alice.stop();
    await bob.stop();
    await snapshot.restore();
  });

  it("withdraws part of a balance with the partner's signature and keeps paying", async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    const alice = await member(KEY_A, CONSUMER, "alice3");
    const bob = await member(KEY_B, PRODUCER, "bob3");
    const channelId = await alice.openChannel(bob.address);
    await alice.deposit(channelId, 300n);
    await bob.sync(channelId);
    await bob.receive(await alice.pay(channelId, 100n));
    const expiry = BigInt(await f.networkHelpers.time.latest()) + 600n;
    const partnerSignature = bob.withdrawSignature(channelId, alice.address, 150n, expiry);
    await alice.withdraw(channelId, 150n, expiry, partnerSignature);
    expect(await f.credit.balanceOf(alice.address)).to.equal(FUNDS - 300n + 150n);
    expect(alice.balanceOf(channelId)).to.equal(50n);
    const error = await rejection(alice.pay(channelId, 51n));
    expect(error.message).to.equal(`channel ${channelId} cannot pay 51`);
    await bob.sync(channelId);
    await bob.receive(await alice.pay(channelId, 50n));
    expect(bob.balanceOf(channelId)).to.equal(150n);
    await alice.stop();
    await bob.stop();
    await snapshot.restore();
  });

  it("settles cooperatively at the balances both clients hold", async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    const alice = await member(KEY_A, CONSUMER, "alice2");
    const bob = await member(KEY_B, PRODUCER, "bob2");
    const channelId = await bob.openChannel(alice.address);
    await bob.deposit(channelId, 80n);
    await alice.sync(channelId);
    await alice.receive(await bob.pay(channelId, 35n));
    const { amount1, amount2, signature } = alice.cooperativeSettleSignature(channelId);
    expect([amount1, amount2]).to.deep.equal([45n, 35n]);
    await bob.cooperativeSettle(channelId, signature);
    expect(await f.credit.balanceOf(alice.address)).to.equal(FUNDS + 35n);
    expect(await f.credit.balanceOf(bob.address)).to.equal(FUNDS - 35n);
    expect(bob.channel(channelId).settled).to.equal(true);
    await alice.stop();
    await bob.stop();
    await snapshot.restore();
  });
});
