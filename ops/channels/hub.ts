import { getAddress } from "ethers";
import { OperatorError } from "../errors.js";
import { ChannelClient, type ChannelClientOptions } from "./client.js";
import { acceptLock, type LockedProof } from "./dvp.js";
import { forwardAmount, lockedTotal, mediationFee, type Lock } from "./locks.js";
import type { OrderSource } from "./market.js";
import type { Address, Credits } from "./proofs.js";
import type { ChannelWatcher, WatchedProof } from "./watcher.js";

/** How much the hub has locked toward each seller and could still lock. */
export type HubLiquidity = {
  channels: { channelId: bigint; partner: Address; locked: Credits; free: Credits }[];
  lockedOut: Credits;
  lockedIn: Credits;
};

export type HubOptions = ChannelClientOptions & {
  orders: OrderSource;
  /** The grid company's mediation fee, credit base units per kWh (see {@link forwardAmount}). */
  feePerKwh: Credits;
  /** When given, every buyer's proof the hub accepts is handed to it at once (with the locks). */
  watcher?: Pick<ChannelWatcher, "watch">;
};

/**
 * The grid operator's hub: one channel with each participant; it takes a buyer's lock on an order
 * and forwards a lock on the same order, less its fee, to the order's seller. Both locks split by
 * the same market outcome and the outgoing one is never larger, so the hub can refuse to forward
 * but never take: for every outcome its incoming share covers its outgoing share.
 *
 * Durable like any channel client: the incoming proof is in the hub's store before it forwards, the
 * outgoing one before it leaves. After a crash, {@link resume} forwards every lock accepted and not
 * yet forwarded; a forward already signed is returned again, never signed twice.
 */
export class HubMediator {
  readonly client: ChannelClient;
  private readonly orders: OrderSource;
  private readonly feePerKwh: Credits;
  private readonly watcher: HubOptions["watcher"];
  private readonly inFlight = new Map<bigint, Promise<LockedProof>>();
  private readonly channelQueue = new Map<bigint, Promise<unknown>>();

  private constructor(client: ChannelClient, options: HubOptions) {
    this.client = client;
    this.orders = options.orders;
    this.feePerKwh = options.feePerKwh;
    this.watcher = options.watcher;
    for (const delegation of this.delegations()) this.watcher?.watch(delegation);
  }

  static async start(options: HubOptions): Promise<HubMediator> {
    mediationFee(0n, options.feePerKwh); // a fee out of bounds fails here, not at the first forward
    return new HubMediator(await ChannelClient.start(options), options);
  }

  async stop(): Promise<void> {
    await this.client.stop();
  }

  /**
   * Accepts a buyer's proof adding a lock on `orderId` (at least the order's price) and forwards a
   * lock on the same order to its seller. Idempotent per order. Proofs of one buyer's channel are
   * handled one after the other in the order they arrive: each is checked against the one before.
   */
  mediate(incoming: LockedProof, orderId: bigint): Promise<LockedProof> {
    let running = this.inFlight.get(orderId);
    if (!running) {
      const channelId = incoming.proof.channelId;
      const previous = this.channelQueue.get(channelId) ?? Promise.resolve();
      running = previous
        .catch(() => undefined)
        .then(() => this.accept(incoming, orderId))
        .finally(() => this.inFlight.delete(orderId));
      const queued = running.catch(() => undefined);
      this.channelQueue.set(channelId, queued);
      void queued.then(() => {
        if (this.channelQueue.get(channelId) === queued) this.channelQueue.delete(channelId);
      });
      this.inFlight.set(orderId, running);
    }
    return running;
  }

  /** Forwards every lock accepted and not yet forwarded (after a restart); returns the forwards. */
  async resume(): Promise<LockedProof[]> {
    const forwards: LockedProof[] = [];
    for (const { orderId } of this.pendingForwards()) forwards.push(await this.forward(orderId));
    return forwards;
  }

  /** Incoming locks with no outgoing lock yet. */
  pendingForwards(): Lock[] {
    const pending: Lock[] = [];
    for (const channelId of this.client.channelIds()) {
      const view = this.client.channel(channelId);
      if (view.closed) continue;
      for (const lock of view.receivedLocks) {
        if (!this.client.paymentForOrder(lock.orderId)) pending.push(lock);
      }
    }
    return pending;
  }

  /** What a watcher needs to answer for the hub in every channel it holds a partner's proof in. */
  delegations(): WatchedProof[] {
    return this.client.channelIds().flatMap((id) => this.client.delegation(id) ?? []);
  }

  /** The hub's locked and free capacity per channel: the liquidity report. */
  liquidity(): HubLiquidity {
    let lockedOut = 0n;
    let lockedIn = 0n;
    const channels = this.client.channelIds().map((channelId) => {
      const view = this.client.channel(channelId);
      const locked = lockedTotal(view.sentLocks);
      lockedOut += locked;
      lockedIn += lockedTotal(view.receivedLocks);
      const free = this.client.balanceOf(channelId) - locked;
      return { channelId, partner: view.partner, locked, free };
    });
    return { channels, lockedOut, lockedIn };
  }

  private async accept(incoming: LockedProof, orderId: bigint): Promise<LockedProof> {
    const view = this.client.channel(incoming.proof.channelId);
    const held = view.received?.nonce ?? 0n;
    if (incoming.proof.nonce > held) {
      const order = await this.orders.getOrder(orderId);
      if (getAddress(order.buyer) !== view.partner) {
        throw new OperatorError(`order ${orderId} is not bought by ${view.partner}`);
      }
      const price = (order.quantityWh * order.pricePerKwh) / 1000n;
      await acceptLock(this.client, this.orders, incoming, { orderId, minAmount: price });
      const delegation = this.client.delegation(incoming.proof.channelId);
      if (delegation) this.watcher?.watch(delegation);
    } else if (!view.receivedLocks.some((lock) => lock.orderId === orderId)) {
      throw new OperatorError(`proof #${incoming.proof.nonce} is not newer than #${held}`);
    }
    return this.forward(orderId);
  }

  private async forward(orderId: bigint): Promise<LockedProof> {
    const incoming = this.incomingLock(orderId);
    const order = await this.orders.getOrder(orderId);
    const channelId = this.client.channelWith(order.seller);
    if (channelId === undefined) {
      throw new OperatorError(`the hub has no channel with seller ${order.seller}`);
    }
    const view = this.client.channel(channelId);
    if (!this.client.paymentForOrder(orderId)) {
      const amount = forwardAmount(incoming.amount, order.quantityWh, this.feePerKwh);
      const locks = [...view.sentLocks, { orderId, amount }];
      const proof = await this.client.pay(channelId, 0n, { locks, orderId });
      return { proof, locks };
    }
    return { proof: { ...view.sent!, sender: this.client.address }, locks: view.sentLocks };
  }

  private incomingLock(orderId: bigint): Lock {
    for (const channelId of this.client.channelIds()) {
      const lock = this.client
        .channel(channelId)
        .receivedLocks.find((held) => held.orderId === orderId);
      if (lock) return lock;
    }
    throw new OperatorError(`the hub holds no incoming lock on order ${orderId}`);
  }
}
