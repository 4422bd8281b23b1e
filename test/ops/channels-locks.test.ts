import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningKey, computeAddress } from "ethers";
import { BalanceProofRejected, ChannelClient } from "../../ops/channels/client.js";
import { acceptLock, acceptRelease, lockOrder, releaseLock } from "../../ops/channels/dvp.js";
import { HubMediator } from "../../ops/channels/hub.js";
import {
  MAX_MEDIATION_FEE_PER_KWH,
  locksCommitment,
  planHubLiquidity,
  type OrderOutcome,
} from "../../ops/channels/locks.js";
import type { MarketOrder, OrderSource, OutcomeSource } from "../../ops/channels/market.js";
import type { ChannelsDomain } from "../../ops/channels/proofs.js";
import { OperatorError } from "../../ops/errors.js";

const DOMAIN: ChannelsDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const BUYER = new SigningKey(`0x${"71".repeat(32)}`);
const SELLER = new SigningKey(`0x${"72".repeat(32)}`);
const HUB = new SigningKey(`0x${"73".repeat(32)}`);
const [buyerAddress, sellerAddress, hubAddress] = [BUYER, SELLER, HUB].map((k) =>
  computeAddress(k.publicKey),
) as [string, string, string];
const PRICE = 2_500n; // 10 kWh at 250 per kWh

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** A market of 10 kWh orders bought by the buyer from the seller; outcomes set by the test. */
function fakeMarket() {
  const status = new Map<bigint, bigint>();
  const outcome = new Map<bigint, OrderOutcome>();
  const orders: OrderSource = {
    address: "0x000000000000000000000000000000000000a11e",
    getOrder: async (orderId): Promise<MarketOrder> => ({
      buyer: buyerAddress,
      seller: sellerAddress,
      offerId: 1n,
      quantityWh: 10_000n,
      pricePerKwh: 250n,
      deliveryStart: 900n,
      deliveryEnd: 1800n,
      defaultAmount: 0n,
      status: status.get(orderId) ?? 7n,
    }),
  };
  const outcomes: OutcomeSource = {
    outcome: async (orderId) =>
      outcome.get(orderId) ?? { decided: false, deliveredWh: 0n, quantityWh: 10_000n },
  };
  return { orders, outcomes, status, outcome };
}

describe("channels: payments locked to the market's outcome", function () {
  this.timeout(30_000);
  let dir: string;
  let n = 0;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-locks-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts a client and tracks one channel (id 1) with `partner`, both deposits given. */
  async function client(key: SigningKey, partner: string, self: bigint, other: bigint) {
    const c = await ChannelClient.start({
      key,
      domain: DOMAIN,
      storePath: join(dir, `${n++}.jsonl`),
    });
    await c.track({
      channelId: 1n,
      partner,
      participant1: buyerAddress,
      selfDeposit: self,
      partnerDeposit: other,
    });
    return c;
  }

  /** The hub with its own store in this test's folder. */
  const startHub = (orders: OrderSource, feePerKwh: bigint) =>
    HubMediator.start({
      key: HUB,
      domain: DOMAIN,
      storePath: join(dir, `hub-${n++}.jsonl`),
      orders,
      feePerKwh,
    });

  it("pays the seller its share once the order is decided; a proof dropping a lock without it is refused", async () => {
    const market = fakeMarket();
    const buyer = await client(BUYER, sellerAddress, 10_000n, 0n);
    const seller = await client(SELLER, buyerAddress, 0n, 10_000n);
    const locked = await lockOrder(buyer, market.orders, 5n);
    expect(locked.proof.additionalHash).to.equal(locksCommitment(locked.locks));
    await acceptLock(seller, market.orders, locked, { orderId: 5n, minAmount: PRICE });
    expect(seller.channel(1n).receivedLocks).to.deep.equal([{ orderId: 5n, amount: PRICE }]);
    expect(buyer.balanceOf(1n)).to.equal(10_000n);

    // The buyer tries to drop the lock for free: refused, nothing stored.
    const dropped = await buyer.pay(1n, 1n, { locks: [] });
    const error = await rejection(seller.receive(dropped));
    expect(error).to.be.instanceOf(BalanceProofRejected);
    expect((error as BalanceProofRejected).reason).to.equal("lock-dropped");
    expect(seller.channel(1n).received?.nonce).to.equal(1n);

    // 6 of 10 kWh delivered: the release transfers 1500 and the seller accepts exactly that.
    const honest = await client(BUYER, sellerAddress, 10_000n, 0n);
    const again = await lockOrder(honest, market.orders, 5n);
    const sellerToo = await client(SELLER, buyerAddress, 0n, 10_000n);
    await acceptLock(sellerToo, market.orders, again, { orderId: 5n, minAmount: PRICE });
    market.outcome.set(5n, { decided: true, deliveredWh: 6_000n, quantityWh: 10_000n });
    const release = await releaseLock(honest, market.outcomes, 1n, 5n);
    expect(await acceptRelease(sellerToo, market.outcomes, release)).to.equal(1_500n);
    expect(sellerToo.balanceOf(1n)).to.equal(1_500n);
    expect(sellerToo.channel(1n).receivedLocks).to.deep.equal([]);
    for (const c of [buyer, seller, honest, sellerToo]) await c.stop();
  });

  it("counts locks against the sender's capacity and refuses a lock on an order that already ended", async () => {
    const market = fakeMarket();
    const buyer = await client(BUYER, sellerAddress, 3_000n, 0n);
    await lockOrder(buyer, market.orders, 1n);
    const error = await rejection(lockOrder(buyer, market.orders, 2n));
    expect(error.message).to.match(/cannot pay 0/);
    market.status.set(3n, 3n); // cancelled
    expect((await rejection(lockOrder(buyer, market.orders, 3n))).message).to.match(
      /order 3 cannot be paid: it is Cancelled/,
    );
    // A withdrawal or cooperative settlement would give the pending lock up: both wait.
    const refusal = await rejection(buyer.cooperativeSettleSignature(1n, 10n));
    expect(refusal.message).to.match(/1 locks pending/);
    await buyer.stop();
  });

  it("the hub forwards a buyer's lock less its fee, once per order, and reports its liquidity", async () => {
    const market = fakeMarket();
    const buyer = await ChannelClient.start({
      key: BUYER,
      domain: DOMAIN,
      storePath: join(dir, "b.jsonl"),
    });
    await buyer.track({
      channelId: 1n,
      partner: hubAddress,
      participant1: buyerAddress,
      selfDeposit: 10_000n,
      partnerDeposit: 0n,
    });
    const hub = await startHub(market.orders, 10n);
    await hub.client.track({
      channelId: 1n,
      partner: buyerAddress,
      participant1: buyerAddress,
      selfDeposit: 0n,
      partnerDeposit: 10_000n,
    });
    await hub.client.track({
      channelId: 2n,
      partner: sellerAddress,
      participant1: hubAddress,
      selfDeposit: 8_000n,
      partnerDeposit: 0n,
    });
    const incoming = await lockOrder(buyer, market.orders, 9n, 1n);
    const forward = await hub.mediate(incoming, 9n);
    expect(forward.locks).to.deep.equal([{ orderId: 9n, amount: PRICE - 100n }]);
    expect((await hub.mediate(incoming, 9n)).proof).to.deep.equal(forward.proof);
    expect(hub.pendingForwards()).to.deep.equal([]);
    // Two payments of the buyer arrive at once: handled in order, each forwarded once.
    const [second, third] = [
      await lockOrder(buyer, market.orders, 10n, 1n),
      await lockOrder(buyer, market.orders, 11n, 1n),
    ];
    const forwards = await Promise.all([hub.mediate(second, 10n), hub.mediate(third, 11n)]);
    expect(forwards[1].locks.map((l) => l.orderId)).to.deep.equal([9n, 10n, 11n]);
    const report = hub.liquidity();
    expect([report.lockedIn, report.lockedOut]).to.deep.equal([3n * PRICE, 3n * (PRICE - 100n)]);
    expect(report.channels.find((c) => c.channelId === 2n)?.free).to.equal(
      8_000n - 3n * (PRICE - 100n),
    );
    await hub.stop();
    await buyer.stop();
  });

  it("the hub refuses an order its channel partner did not buy, and a fee beyond the bound", async () => {
    const market = fakeMarket();
    const stranger = new SigningKey(`0x${"74".repeat(32)}`);
    const strangerAddress = computeAddress(stranger.publicKey);
    const hub = await startHub(market.orders, 10n);
    await hub.client.track({
      channelId: 3n,
      partner: strangerAddress,
      participant1: strangerAddress,
      selfDeposit: 0n,
      partnerDeposit: 10_000n,
    });
    const payer = await ChannelClient.start({
      key: stranger,
      domain: DOMAIN,
      storePath: join(dir, "s.jsonl"),
    });
    await payer.track({
      channelId: 3n,
      partner: hubAddress,
      participant1: strangerAddress,
      selfDeposit: 10_000n,
      partnerDeposit: 0n,
    });
    const locks = [{ orderId: 4n, amount: PRICE }];
    const proof = await payer.pay(3n, 0n, { locks });
    expect((await rejection(hub.mediate({ proof, locks }, 4n))).message).to.match(
      /order 4 is not bought by/,
    );
    expect(hub.client.channel(3n).receivedLocks).to.deep.equal([]);
    await hub.stop();
    await payer.stop();
    const tooHigh = await rejection(startHub(market.orders, MAX_MEDIATION_FEE_PER_KWH + 1n));
    expect(tooHigh).to.be.instanceOf(OperatorError);
    expect(
      planHubLiquidity([
        { seller: "s1", amount: 5n },
        { seller: "s2", amount: 7n },
        { seller: "s1", amount: 1n },
      ]),
    ).to.deep.equal({
      perSeller: new Map([
        ["s1", 6n],
        ["s2", 7n],
      ]),
      total: 13n,
    });
  });
});
