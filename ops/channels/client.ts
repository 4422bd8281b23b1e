import { getAddress } from "ethers";
import { OperatorError } from "../errors.js";
import { CLOSED, EMPTY_PROOF, SETTLED, latestBlockTime, openedChannelId } from "./chain.js";
import { orderDue, orderToPay, type OrderSource } from "./market.js";
import {
  ZERO_HASH,
  type Address,
  type CooperativeSettleFields,
  type Credits,
  type Hash,
  type SignedBalanceProof,
  type WithdrawFields,
} from "./proofs.js";
import { balance, capacity, checkReceivable, type ChannelView } from "./ledger.js";
import {
  checkCooperativeOffer,
  checkOpen,
  checkOwnWithdrawal,
  checkPartnerSigned,
  cooperativeFields,
  partnerWithdrawal,
  type Signed,
} from "./intents.js";
import { bindToChain } from "./binding.js";
import { encodeLocks, lockedTotal, locksCommitment, type Lock } from "./locks.js";
import { revealLocks, updateWithLocks } from "./reveal.js";
import { ChannelBook, type ChannelClientOptions } from "./book.js";
import { ChannelStore, type StoreRecord } from "./store.js";

export type { ChainAccess, ChannelClientOptions } from "./book.js";
export { BalanceProofRejected, type ChannelView, type RejectReason } from "./ledger.js";
export type { Signed } from "./intents.js";
import type { WatchedProof } from "./watcher.js";

/**
 * A Raiden-style channel participant: pays with signed balance proofs, verifies what it receives,
 * and exits cooperatively or through close/update/settle. Every state change is written ahead to a
 * {@link ChannelStore}: a proof leaves `pay` only once it is durable, and a received proof is
 * accepted only once it is durable, so a crash never loses or repeats a payment.
 */
export class ChannelClient extends ChannelBook {
  private readonly inFlightOrders = new Map<bigint, Promise<SignedBalanceProof>>();

  private constructor(options: ChannelClientOptions, store: ChannelStore) {
    super(options, store);
  }

  /** Opens the store and replays it: the client resumes exactly where the log ends. */
  static async start(options: ChannelClientOptions): Promise<ChannelClient> {
    const { store, records } = await ChannelStore.open(options.storePath);
    await bindToChain(store, records, options.domain, options.chain?.channels.runner?.provider);
    const client = new ChannelClient(options, store);
    for (const record of records) client.apply(record);
    return client;
  }

  /** Opens a channel with `partner` on chain and records it. */
  async openChannel(partner: Address): Promise<bigint> {
    const { channels } = this.requireChain();
    const receipt = await (await channels.openChannel(partner)).wait();
    const channelId = openedChannelId(channels, receipt);
    await this.record({
      kind: "channel",
      channelId,
      self: this.address,
      partner: getAddress(partner),
      participant1: this.address,
    });
    return channelId;
  }

  /** Raises this account's cumulative deposit to `totalDeposit` (approving the difference). */
  async deposit(channelId: bigint, totalDeposit: Credits): Promise<void> {
    const { channels, token } = this.requireChain();
    const state = this.state(channelId);
    if (totalDeposit <= state.selfDeposit) {
      throw new OperatorError(`deposit for channel ${channelId} must grow`, {
        details: `current total ${state.selfDeposit}, requested ${totalDeposit}`,
        hint: "pass the new cumulative total, not the amount to add",
      });
    }
    await (
      await token.approve(await channels.getAddress(), totalDeposit - state.selfDeposit)
    ).wait();
    await (await channels.setTotalDeposit(channelId, this.address, totalDeposit)).wait();
    await this.sync(channelId);
  }

  /**
   * Reads a channel's participants and deposits from chain and records them. Used for channels a
   * partner opened, and to learn the partner's deposits before accepting its proofs.
   */
  async sync(channelId: bigint): Promise<ChannelView> {
    const { channels } = this.requireChain();
    // Time first: a state read at a later block still holds when the freeze is released.
    this.observeBlockTime(await latestBlockTime(channels));
    const [participant1, participant2, onChain] = await channels.getChannel(channelId);
    const self = this.address;
    if (self !== participant1 && self !== participant2) {
      throw new OperatorError(`${self} is not a participant of channel ${channelId}`, {
        details: `participants are ${participant1} and ${participant2}`,
      });
    }
    const partner = self === participant1 ? participant2 : participant1;
    if (!this.channels.has(channelId)) {
      await this.record({ kind: "channel", channelId, self, partner, participant1 });
    }
    const known = this.state(channelId);
    // Ended by the partner (a cooperative settlement it submitted, or a close): no proof counts now.
    if (onChain === SETTLED && !known.settled) await this.record({ kind: "settled", channelId });
    if (onChain === CLOSED && !known.closed) await this.record({ kind: "closed", channelId });
    if (onChain === SETTLED) return this.channel(channelId);
    const [selfDeposit, selfWithdrawn] = await channels.getParticipant(channelId, self);
    const [partnerDeposit, partnerWithdrawn] = await channels.getParticipant(channelId, partner);
    await this.record({
      kind: "deposits",
      channelId,
      selfDeposit,
      selfWithdrawn,
      partnerDeposit,
      partnerWithdrawn,
    });
    return this.channel(channelId);
  }

  /**
   * Records a channel learnt elsewhere (no chain access needed): its partner and deposits.
   * Does nothing for a channel the store already holds.
   */
  async track(view: {
    channelId: bigint;
    partner: Address;
    participant1: Address;
    selfDeposit: Credits;
    partnerDeposit: Credits;
  }): Promise<void> {
    if (this.channels.has(view.channelId)) return;
    await this.record({
      kind: "channel",
      channelId: view.channelId,
      self: this.address,
      partner: getAddress(view.partner),
      participant1: getAddress(view.participant1),
    });
    await this.record({
      kind: "deposits",
      channelId: view.channelId,
      selfDeposit: view.selfDeposit,
      selfWithdrawn: 0n,
      partnerDeposit: view.partnerDeposit,
      partnerWithdrawn: 0n,
    });
  }

  /**
   * Pays `amount` to the partner: signs the next balance proof (nonce + 1, cumulative amount +
   * `amount`) and returns it once it is durable in the store, never before.
   */
  async pay(
    channelId: bigint,
    amount: Credits,
    tag: { additionalHash?: Hash; orderId?: bigint; locks?: Lock[] } = {},
  ): Promise<SignedBalanceProof> {
    const state = this.state(channelId);
    checkOpen(state, this.chainTime, "pay");
    if (amount < 0n || (amount === 0n && tag.locks === undefined)) {
      throw new OperatorError(`payment amount must be positive, got ${amount}`);
    }
    // A proof restates every pending lock: a plain payment keeps them, and its tag is their commitment.
    const locks = tag.locks ?? state.sentLocks;
    const need = amount + lockedTotal(locks) - lockedTotal(state.sentLocks);
    // Net of every withdrawal of this client that may still be submitted, and of its pending locks.
    if (need > capacity(state, "self", this.chainTime)) {
      throw new OperatorError(`channel ${channelId} cannot pay ${amount}`, {
        details: `balance ${balance(state, "self")}, ${capacity(state, "self", this.chainTime)} of it not reserved for withdrawals or locks; needed ${need}`,
        hint: "deposit more or wait for the partner to pay",
      });
    }
    const fields = {
      channelId,
      nonce: (state.sent?.nonce ?? 0n) + 1n,
      transferredAmount: (state.sent?.transferredAmount ?? 0n) + amount,
      additionalHash: locks.length > 0 ? locksCommitment(locks) : (tag.additionalHash ?? ZERO_HASH),
    };
    const signature = this.sign(this.typedData.proofDigest("BalanceProof", fields));
    const record: StoreRecord = { kind: "sent", ...fields, signature };
    if (tag.orderId !== undefined) record.orderId = tag.orderId;
    if (locks.length > 0) record.locks = [...locks];
    // Applied before the write so that concurrent payments take distinct nonces; released after.
    this.apply(record);
    await this.store.append(record);
    return { ...fields, sender: this.address, signature };
  }

  /**
   * Verifies a partner's balance proof (channel, sender, signature, nonce, monotonic amount, not
   * more than the partner holds) and stores it; resolves once it is durable.
   */
  async receive(
    proof: SignedBalanceProof,
    options: { locks?: Lock[]; releasing?: Credits } = {},
  ): Promise<void> {
    const locks = options.locks ?? [];
    checkReceivable(
      this.channels.get(proof.channelId),
      proof,
      this.ecdsa,
      this.typedData,
      this.chainTime,
      locks,
      options.releasing,
    );
    const record: StoreRecord = {
      kind: "received",
      channelId: proof.channelId,
      nonce: proof.nonce,
      transferredAmount: proof.transferredAmount,
      additionalHash: proof.additionalHash,
      signature: proof.signature,
    };
    if (locks.length > 0) record.locks = [...locks];
    this.apply(record);
    await this.store.append(record);
  }

  /** The partner's latest proof with this client's Update signature: what a watcher needs. */
  delegation(channelId: bigint): WatchedProof | undefined {
    const state = this.state(channelId);
    if (!state.received) return undefined;
    const proof = { ...state.received, sender: state.partner };
    return {
      proof,
      beneficiary: this.address,
      updateSignature: this.sign(this.typedData.proofDigest("Update", proof)),
      locks: [...state.receivedLocks],
    };
  }

  /**
   * Signs the cooperative settlement of the state held now, valid until `expiry` (block time), and
   * freezes the channel until then: no payment is sent or accepted that the signed split would erase.
   * The freeze is durable before the signature leaves.
   */
  async cooperativeSettleSignature(
    channelId: bigint,
    expiry: bigint,
  ): Promise<Signed<CooperativeSettleFields>> {
    const state = this.state(channelId);
    checkOpen(state, this.chainTime, "sign a cooperative settlement");
    const fields = cooperativeFields(state, expiry);
    await this.record({ kind: "frozen", channelId, expiry });
    return { fields, signature: this.sign(this.typedData.cooperativeSettleDigest(fields)) };
  }

  /** Ends the channel at once with the partner's signed offer, if it is exactly the state held here. */
  async cooperativeSettle(offer: Signed<CooperativeSettleFields>): Promise<void> {
    const { channels } = this.requireChain();
    const { fields } = offer;
    const state = this.state(fields.channelId);
    this.observeBlockTime(await latestBlockTime(channels));
    checkOpen(state, this.chainTime, "settle cooperatively");
    checkCooperativeOffer(state, fields, this.chainTime);
    const digest = this.typedData.cooperativeSettleDigest(fields);
    checkPartnerSigned(this.ecdsa, state, digest, offer.signature);
    await this.record({ kind: "frozen", channelId: fields.channelId, expiry: fields.expiry });
    const own = this.sign(digest);
    const selfFirst = fields.participant1 === this.address;
    const { channelId: _id, participant1: _p1, participant2: _p2, ...settlement } = fields;
    await (
      await channels.cooperativeSettle(
        fields.channelId,
        settlement,
        selfFirst ? own : offer.signature,
        selfFirst ? offer.signature : own,
      )
    ).wait();
    await this.record({ kind: "settled", channelId: fields.channelId });
  }

  /**
   * As the partner, agrees to a withdrawal of the partner's up to the cumulative `totalWithdraw`
   * until `expiry` (block time), bound to the proofs both sides hold now. Refused beyond the
   * partner's balance in that state; once signed, the amount stays reserved (no proof it would
   * leave uncovered is accepted) until block time passes `expiry`. Durable before it leaves.
   */
  async confirmWithdraw(
    channelId: bigint,
    request: { totalWithdraw: Credits; expiry: bigint },
  ): Promise<Signed<WithdrawFields>> {
    const fields = partnerWithdrawal(this.state(channelId), request, this.chainTime);
    await this.reserve(fields);
    return { fields, signature: this.sign(this.typedData.withdrawDigest(fields)) };
  }

  /** Withdraws with the partner's confirmation, after checking it binds the state held here. */
  async withdraw(confirmation: Signed<WithdrawFields>): Promise<void> {
    const { channels } = this.requireChain();
    const { fields } = confirmation;
    const state = this.state(fields.channelId);
    checkOwnWithdrawal(state, fields, this.chainTime);
    const digest = this.typedData.withdrawDigest(fields);
    checkPartnerSigned(this.ecdsa, state, digest, confirmation.signature);
    await this.reserve(fields);
    const { channelId, ...intent } = fields;
    await (
      await channels.withdraw(channelId, intent, this.sign(digest), confirmation.signature)
    ).wait();
    await this.sync(channelId);
  }

  /** Closes the channel with the partner's latest proof; the settle window starts. */
  async close(channelId: bigint): Promise<void> {
    const { channels } = this.requireChain();
    const state = this.state(channelId);
    const proof = state.received ?? EMPTY_PROOF;
    const closeSignature = this.sign(this.typedData.proofDigest("Close", { ...proof, channelId }));
    await (await channels.closeChannel(channelId, this.address, proof, closeSignature)).wait();
    await this.record({ kind: "closed", channelId });
    if (state.received)
      await revealLocks(
        channels,
        { ...state.received, sender: state.partner },
        state.receivedLocks,
      );
  }

  /**
   * After a close, records the partner's latest proof on chain if the one recorded is older.
   * Returns whether a transaction was sent.
   */
  async update(channelId: bigint): Promise<boolean> {
    const { channels } = this.requireChain();
    const delegation = this.delegation(channelId);
    if (!delegation) return false;
    const [, , nonce] = await channels.getParticipant(channelId, delegation.proof.sender);
    if (nonce >= delegation.proof.nonce) return false;
    await updateWithLocks(
      channels,
      delegation.proof,
      delegation.updateSignature,
      delegation.locks ?? [],
    );
    if (!this.state(channelId).closed) await this.record({ kind: "closed", channelId });
    return true;
  }

  /**
   * After settlement, pays out the locks kept back for `sender` (this client or its partner) whose
   * orders the market has decided, with the lock list of the proof recorded on chain (any proof this
   * client signed or received, by its locksroot); call again as further orders are decided. Returns
   * false when none are pending or the recorded locksroot is not one of its proofs'.
   */
  async unlock(channelId: bigint, sender: Address): Promise<boolean> {
    const { channels } = this.requireChain();
    const state = this.state(channelId);
    const pending = await channels.pendingLocks(channelId, sender);
    if (pending.amount === 0n) return false;
    // Settlement kept back the locks of the proof recorded on chain, which need not be the latest.
    const locks = state.locksByRoot.get(pending.locksroot as Hash);
    if (!locks) return false;
    await (await channels.unlock(channelId, sender, encodeLocks(locks))).wait();
    return true;
  }

  /** Pays out a closed channel after its settle window. */
  async settle(channelId: bigint): Promise<void> {
    const { channels } = this.requireChain();
    await (await channels.settleChannel(channelId)).wait();
    await this.record({ kind: "settled", channelId });
  }

  /**
   * Pays the seller of a market order its price over the open channel with the seller, tagged with
   * the order and its delivery interval. Paying an order twice returns the first payment's proof.
   */
  payForOrder(market: OrderSource, orderId: bigint): Promise<SignedBalanceProof> {
    const done = this.paymentForOrder(orderId);
    if (done) return Promise.resolve(done);
    let inFlight = this.inFlightOrders.get(orderId);
    if (!inFlight) {
      inFlight = this.payOrder(market, orderId).finally(() => this.inFlightOrders.delete(orderId));
      this.inFlightOrders.set(orderId, inFlight);
    }
    return inFlight;
  }

  /** Whether this client (the seller) holds proofs tagged with the order covering its price. */
  async isOrderPaid(market: OrderSource, orderId: bigint): Promise<boolean> {
    const { additionalHash, price } = orderDue(market, orderId, await market.getOrder(orderId));
    return this.receivedFor(additionalHash) >= price;
  }

  private async payOrder(market: OrderSource, orderId: bigint): Promise<SignedBalanceProof> {
    const order = await market.getOrder(orderId);
    const { additionalHash, price } = orderToPay(market, orderId, order, this.address);
    const channelId = this.channelWith(order.seller);
    if (channelId === undefined) {
      throw new OperatorError(`no open channel with seller ${order.seller} of order ${orderId}`, {
        hint: "open a channel with the seller and deposit first",
      });
    }
    return this.pay(channelId, price, { additionalHash, orderId });
  }

  private reserve({ channelId, participant, totalWithdraw, expiry }: WithdrawFields) {
    return this.record({
      kind: "withdraw-reserved",
      channelId,
      participant,
      totalWithdraw,
      expiry,
    });
  }
}
