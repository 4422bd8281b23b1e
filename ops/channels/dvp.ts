import { getAddress } from "ethers";
import { OperatorError } from "../errors.js";
import type { ChannelClient } from "./client.js";
import { droppedLocks } from "./ledger.js";
import { lockShare, type Lock } from "./locks.js";
import { orderPrice, ORDER_STATUSES, type OrderSource, type OutcomeSource } from "./market.js";
import type { Credits, SignedBalanceProof } from "./proofs.js";

/**
 * Delivery versus payment over a channel: the buyer pays an order with a lock on the market's
 * outcome, the receiver accepts a lock only on an order still open, and once the market decided the
 * order the sender releases the lock into a plain transfer of exactly the receiver's share (or the
 * receiver closes the channel and `unlock`s it on chain, which pays the same).
 */

/** A balance proof with the locks it commits to, as it travels between clients. */
export type LockedProof = { proof: SignedBalanceProof; locks: Lock[] };

/** Statuses whose order may still be delivered: a lock on any other pays its receiver nothing. */
const OPEN = new Set<string>(["Requested", "AwaitingReview", "Established"]);

function statusName(status: bigint): string {
  return ORDER_STATUSES[Number(status)] ?? `unknown (${status})`;
}

/**
 * The buyer locks an order's price toward the seller's channel (or `via` the hub's channel). Locking
 * the same order twice returns the channel's latest proof without a second lock.
 */
export async function lockOrder(
  client: ChannelClient,
  market: OrderSource,
  orderId: bigint,
  via?: bigint,
): Promise<LockedProof> {
  const order = await market.getOrder(orderId);
  if (getAddress(order.buyer) !== client.address) {
    throw new OperatorError(`order ${orderId} is not ${client.address}'s to pay`, {
      details: `its buyer is ${order.buyer}`,
    });
  }
  if (!OPEN.has(statusName(order.status))) {
    throw new OperatorError(`order ${orderId} cannot be paid: it is ${statusName(order.status)}`, {
      details:
        "a lock pays for energy still to be delivered: requested, awaiting review or established",
    });
  }
  const channelId = via ?? client.channelWith(order.seller);
  if (channelId === undefined) {
    throw new OperatorError(`no open channel to pay order ${orderId}`, {
      hint: "open a channel with the seller, or with the hub and pass it as `via`",
    });
  }
  const view = client.channel(channelId);
  if (view.sentLocks.some((lock) => lock.orderId === orderId)) {
    return { proof: { ...view.sent!, sender: client.address }, locks: view.sentLocks };
  }
  const locks = [...view.sentLocks, { orderId, amount: orderPrice(order) }];
  const proof = await client.pay(channelId, 0n, { locks, orderId });
  return { proof, locks };
}

/**
 * The receiver accepts a proof adding one lock on `orderId` of at least `minAmount`, on an order the
 * market has not decided; the other locks must be the ones already held.
 */
export async function acceptLock(
  client: ChannelClient,
  market: OrderSource,
  incoming: LockedProof,
  expected: { orderId: bigint; minAmount: Credits },
): Promise<Lock> {
  const held = client.channel(incoming.proof.channelId).receivedLocks;
  const added = droppedLocks(incoming.locks, held);
  const lock = added[0];
  if (added.length !== 1 || lock === undefined || lock.orderId !== expected.orderId) {
    throw new OperatorError(`the proof must add exactly one lock, on order ${expected.orderId}`, {
      details: `it adds ${added.length} locks`,
    });
  }
  if (lock.amount < expected.minAmount) {
    throw new OperatorError(`the lock on order ${lock.orderId} is ${lock.amount}`, {
      details: `at least ${expected.minAmount} is due`,
    });
  }
  const order = await market.getOrder(lock.orderId);
  if (!OPEN.has(statusName(order.status))) {
    throw new OperatorError(`order ${lock.orderId} is ${statusName(order.status)}`, {
      details: "a lock on an order that ended without delivery pays nothing",
    });
  }
  await client.receive(incoming.proof, { locks: incoming.locks });
  return lock;
}

/**
 * The sender releases its lock on a decided order: the next proof drops the lock and transfers the
 * receiver's share by the market's outcome, the rest of the lock returning to the sender.
 */
export async function releaseLock(
  client: ChannelClient,
  outcomes: OutcomeSource,
  channelId: bigint,
  orderId: bigint,
): Promise<LockedProof> {
  const view = client.channel(channelId);
  const lock = view.sentLocks.find((held) => held.orderId === orderId);
  if (!lock) throw new OperatorError(`no lock on order ${orderId} in channel ${channelId}`);
  const share = lockShare(lock, await outcomes.outcome(orderId));
  const locks = view.sentLocks.filter((held) => held !== lock);
  const proof = await client.pay(channelId, share, { locks });
  return { proof, locks };
}

/**
 * The receiver accepts a proof that releases locks: each dropped lock's order must be decided and
 * the transferred amount must grow by at least the receiver's share of them.
 */
export async function acceptRelease(
  client: ChannelClient,
  outcomes: OutcomeSource,
  incoming: LockedProof,
): Promise<Credits> {
  const held = client.channel(incoming.proof.channelId).receivedLocks;
  let releasing = 0n;
  for (const lock of droppedLocks(held, incoming.locks)) {
    releasing += lockShare(lock, await outcomes.outcome(lock.orderId));
  }
  await client.receive(incoming.proof, { locks: incoming.locks, releasing });
  return releasing;
}
