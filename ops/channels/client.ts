import { getAddress, type SigningKey } from "ethers";
import type { GridCredit, PaymentChannels } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import { defaultEcdsa, type Ecdsa } from "./ecdsa.js";
import { orderPrice, type OrderSource } from "./market.js";
import {
  ChannelsTypedData,
  ZERO_HASH,
  orderPaymentHash,
  addressOf,
  type Address,
  type ChannelsDomain,
  type Credits,
  type Hash,
  type SignedBalanceProof,
} from "./proofs.js";
import { bindToChain } from "./binding.js";
import { ChannelStore, type StoreRecord } from "./store.js";
import type { WatchedProof } from "./watcher.js";

/** Why `receive` refused a balance proof: the proof is not stored and must not be relied on. */
export type RejectReason =
  | "unknown-channel"
  | "channel-closed"
  | "wrong-sender"
  | "bad-signature"
  | "stale-nonce"
  | "amount-decreased"
  | "exceeds-deposit";

export class BalanceProofRejected extends Error {
  override readonly name = "BalanceProofRejected";
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

type LatestProof = Omit<SignedBalanceProof, "sender">;

/** What the client knows about one channel, rebuilt from the store on start. */
export type ChannelView = {
  channelId: bigint;
  self: Address;
  partner: Address;
  /** The opener: the contract's participant1. */
  participant1: Address;
  selfDeposit: Credits;
  selfWithdrawn: Credits;
  partnerDeposit: Credits;
  partnerWithdrawn: Credits;
  /** The latest proof this client signed (its cumulative payments to the partner). */
  sent: LatestProof | undefined;
  /** The latest proof received from the partner. */
  received: LatestProof | undefined;
  closed: boolean;
  settled: boolean;
};

type ChannelState = ChannelView & {
  paidOrders: Map<bigint, LatestProof>;
  receivedByHash: Map<Hash, Credits>;
};

/** On-chain access: the channels contract and the token, both connected to this client's account. */
export type ChainAccess = { channels: PaymentChannels; token: GridCredit };

export type ChannelClientOptions = {
  /** The account's key: signs balance proofs and channel intents; never written or logged. */
  key: SigningKey;
  domain: ChannelsDomain;
  /** The write-ahead log of this account's channels. */
  storePath: string;
  chain?: ChainAccess;
  /** secp256k1 implementation; defaults to libsecp256k1 when installed, else ethers. */
  ecdsa?: Ecdsa;
};

const EMPTY_PROOF = {
  nonce: 0n,
  transferredAmount: 0n,
  additionalHash: ZERO_HASH,
  signature: "0x",
};

/**
 * A Raiden-style channel participant: pays with signed balance proofs, verifies what it receives,
 * and exits cooperatively or through close/update/settle. Every state change is written ahead to a
 * {@link ChannelStore}: a proof leaves `pay` only once it is durable, and a received proof is
 * accepted only once it is durable, so a crash never loses or repeats a payment.
 */
export class ChannelClient {
  readonly address: Address;
  readonly typedData: ChannelsTypedData;
  private readonly key: SigningKey;
  private readonly store: ChannelStore;
  private readonly chain: ChainAccess | undefined;
  private readonly ecdsa: Ecdsa;
  private readonly channels = new Map<bigint, ChannelState>();
  private readonly inFlightOrders = new Map<bigint, Promise<SignedBalanceProof>>();

  private constructor(options: ChannelClientOptions, store: ChannelStore) {
    this.key = options.key;
    this.address = addressOf(options.key);
    this.typedData = new ChannelsTypedData(options.domain);
    this.store = store;
    this.chain = options.chain;
    this.ecdsa = options.ecdsa ?? defaultEcdsa;
  }

  /** Opens the store and replays it: the client resumes exactly where the log ends. */
  static async start(options: ChannelClientOptions): Promise<ChannelClient> {
    const { store, records } = await ChannelStore.open(options.storePath);
    await bindToChain(store, records, options.domain, options.chain?.channels.runner?.provider);
    const client = new ChannelClient(options, store);
    for (const record of records) client.apply(record);
    return client;
  }

  /** Flushes and closes the store. */
  async stop(): Promise<void> {
    await this.store.close();
  }

  /** A copy of what the client knows about a channel. */
  channel(channelId: bigint): ChannelView {
    const { paidOrders: _orders, receivedByHash: _hashes, ...view } = this.state(channelId);
    return { ...view };
  }

  /** Every channel the client knows, open or not. */
  channelIds(): bigint[] {
    return [...this.channels.keys()];
  }

  /** The open channel with `partner`, if the client knows one. */
  channelWith(partner: Address): bigint | undefined {
    const wanted = getAddress(partner);
    for (const state of this.channels.values()) {
      if (state.partner === wanted && !state.closed && !state.settled) return state.channelId;
    }
    return undefined;
  }

  /** The proof sent for `orderId`, if this client paid it. */
  paymentForOrder(orderId: bigint): SignedBalanceProof | undefined {
    for (const state of this.channels.values()) {
      const proof = state.paidOrders.get(orderId);
      if (proof) return { ...proof, sender: this.address };
    }
    return undefined;
  }

  /** The credits received in proofs tagged with `additionalHash` (each proof's increment). */
  receivedFor(additionalHash: Hash): Credits {
    let total = 0n;
    for (const state of this.channels.values())
      total += state.receivedByHash.get(additionalHash) ?? 0n;
    return total;
  }

  /** Opens a channel with `partner` on chain and records it. */
  async openChannel(partner: Address): Promise<bigint> {
    const { channels } = this.requireChain();
    const receipt = await (await channels.openChannel(partner)).wait();
    const event = receipt?.logs
      .map((log) => {
        try {
          return channels.interface.parseLog(log);
        } catch {
          return null;
        }
      })
      .find((parsed) => parsed?.name === "ChannelOpened");
    if (!event) throw new Error("openChannel: no ChannelOpened event in the receipt");
    const channelId = event.args.channelId as bigint;
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
    const [participant1, participant2] = await channels.getChannel(channelId);
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
    tag: { additionalHash?: Hash; orderId?: bigint } = {},
  ): Promise<SignedBalanceProof> {
    const state = this.state(channelId);
    if (state.closed || state.settled) {
      throw new OperatorError(`channel ${channelId} is closed`, { hint: "open a new channel" });
    }
    if (amount <= 0n) {
      throw new OperatorError(`payment amount must be positive, got ${amount}`);
    }
    const transferredAmount = (state.sent?.transferredAmount ?? 0n) + amount;
    const available = this.balance(state, "self") + (state.sent?.transferredAmount ?? 0n);
    if (transferredAmount > available) {
      throw new OperatorError(`channel ${channelId} cannot pay ${amount}`, {
        details: `balance ${this.balance(state, "self")}`,
        hint: "deposit more or wait for the partner to pay",
      });
    }
    const fields = {
      channelId,
      nonce: (state.sent?.nonce ?? 0n) + 1n,
      transferredAmount,
      additionalHash: tag.additionalHash ?? ZERO_HASH,
    };
    const signature = this.sign(this.typedData.proofDigest("BalanceProof", fields));
    const record: StoreRecord = { kind: "sent", ...fields, signature };
    if (tag.orderId !== undefined) record.orderId = tag.orderId;
    // Applied before the write so that concurrent payments take distinct nonces; released after.
    this.apply(record);
    await this.store.append(record);
    return { ...fields, sender: this.address, signature };
  }

  /**
   * Verifies a partner's balance proof (channel, sender, signature, nonce, monotonic amount, not
   * more than the partner holds) and stores it; resolves once it is durable.
   */
  async receive(proof: SignedBalanceProof): Promise<void> {
    const state = this.channels.get(proof.channelId);
    if (!state) {
      throw new BalanceProofRejected("unknown-channel", `unknown channel ${proof.channelId}`);
    }
    if (state.closed || state.settled) {
      throw new BalanceProofRejected("channel-closed", `channel ${proof.channelId} is closed`);
    }
    if (getAddress(proof.sender) !== state.partner) {
      throw new BalanceProofRejected(
        "wrong-sender",
        `proof sender ${proof.sender} is not the partner ${state.partner} of channel ${proof.channelId}`,
      );
    }
    const digest = this.typedData.proofDigest("BalanceProof", proof);
    if (this.ecdsa.recover(digest, proof.signature) !== state.partner) {
      throw new BalanceProofRejected(
        "bad-signature",
        `signature is not ${state.partner}'s for channel ${proof.channelId} on this chain and contract`,
      );
    }
    const last = state.received;
    if (proof.nonce <= (last?.nonce ?? 0n)) {
      throw new BalanceProofRejected(
        "stale-nonce",
        `nonce ${proof.nonce} is not above the last received ${last?.nonce ?? 0n}`,
      );
    }
    if (proof.transferredAmount < (last?.transferredAmount ?? 0n)) {
      throw new BalanceProofRejected(
        "amount-decreased",
        `transferred amount ${proof.transferredAmount} is below the last received ${last?.transferredAmount}`,
      );
    }
    const cover =
      state.partnerDeposit - state.partnerWithdrawn + (state.sent?.transferredAmount ?? 0n);
    if (proof.transferredAmount > cover) {
      throw new BalanceProofRejected(
        "exceeds-deposit",
        `transferred amount ${proof.transferredAmount} exceeds what the partner holds (${cover})`,
      );
    }
    const record: StoreRecord = {
      kind: "received",
      channelId: proof.channelId,
      nonce: proof.nonce,
      transferredAmount: proof.transferredAmount,
      additionalHash: proof.additionalHash,
      signature: proof.signature,
    };
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
    };
  }

  /** This client's balance in the channel: deposit - withdrawn + received - sent. */
  balanceOf(channelId: bigint): Credits {
    return this.balance(this.state(channelId), "self");
  }

  /** Signs the cooperative settlement of the balances both sides hold now. */
  cooperativeSettleSignature(channelId: bigint): {
    amount1: Credits;
    amount2: Credits;
    signature: string;
  } {
    const fields = this.cooperativeFields(channelId);
    return {
      amount1: fields.amount1,
      amount2: fields.amount2,
      signature: this.sign(this.typedData.cooperativeSettleDigest(fields)),
    };
  }

  /** Ends the channel at once with both signatures over the current balances. */
  async cooperativeSettle(channelId: bigint, partnerSignature: string): Promise<void> {
    const { channels } = this.requireChain();
    const fields = this.cooperativeFields(channelId);
    const own = this.sign(this.typedData.cooperativeSettleDigest(fields));
    const selfFirst = fields.participant1 === this.address;
    await (
      await channels.cooperativeSettle(
        channelId,
        fields.amount1,
        fields.amount2,
        selfFirst ? own : partnerSignature,
        selfFirst ? partnerSignature : own,
      )
    ).wait();
    await this.record({ kind: "settled", channelId });
  }

  /** Signs a withdrawal of `participant` up to the cumulative `totalWithdraw`. */
  withdrawSignature(
    channelId: bigint,
    participant: Address,
    totalWithdraw: Credits,
    expiry: bigint,
  ): string {
    return this.sign(
      this.typedData.withdrawDigest({ channelId, participant, totalWithdraw, expiry }),
    );
  }

  /** Withdraws up to the cumulative `totalWithdraw` with the partner's signature. */
  async withdraw(
    channelId: bigint,
    totalWithdraw: Credits,
    expiry: bigint,
    partnerSignature: string,
  ): Promise<void> {
    const { channels } = this.requireChain();
    const own = this.withdrawSignature(channelId, this.address, totalWithdraw, expiry);
    await (
      await channels.withdraw(channelId, this.address, totalWithdraw, expiry, own, partnerSignature)
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
    await (
      await channels.updateBalanceProof(
        channelId,
        delegation.proof.sender,
        delegation.proof,
        delegation.updateSignature,
      )
    ).wait();
    if (!this.state(channelId).closed) await this.record({ kind: "closed", channelId });
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
    const order = await market.getOrder(orderId);
    const hash = orderPaymentHash({ market: market.address, orderId, ...order });
    return this.receivedFor(hash) >= orderPrice(order);
  }

  private async payOrder(market: OrderSource, orderId: bigint): Promise<SignedBalanceProof> {
    const order = await market.getOrder(orderId);
    if (getAddress(order.buyer) !== this.address) {
      throw new OperatorError(`order ${orderId} is not ${this.address}'s to pay`, {
        details: `its buyer is ${order.buyer}`,
      });
    }
    const channelId = this.channelWith(order.seller);
    if (channelId === undefined) {
      throw new OperatorError(`no open channel with seller ${order.seller} of order ${orderId}`, {
        hint: "open a channel with the seller and deposit first",
      });
    }
    const additionalHash = orderPaymentHash({ market: market.address, orderId, ...order });
    return this.pay(channelId, orderPrice(order), { additionalHash, orderId });
  }

  private cooperativeFields(channelId: bigint) {
    const state = this.state(channelId);
    const selfAmount = this.balance(state, "self");
    const partnerAmount = this.balance(state, "partner");
    const selfIsOne = state.participant1 === state.self;
    return {
      channelId,
      participant1: state.participant1,
      amount1: selfIsOne ? selfAmount : partnerAmount,
      participant2: selfIsOne ? state.partner : state.self,
      amount2: selfIsOne ? partnerAmount : selfAmount,
    };
  }

  private balance(state: ChannelState, side: "self" | "partner"): Credits {
    const sent = state.sent?.transferredAmount ?? 0n;
    const received = state.received?.transferredAmount ?? 0n;
    return side === "self"
      ? state.selfDeposit - state.selfWithdrawn + received - sent
      : state.partnerDeposit - state.partnerWithdrawn + sent - received;
  }

  private sign(digest: Hash): string {
    return this.ecdsa.sign(this.key, digest);
  }

  private requireChain(): ChainAccess {
    if (!this.chain) {
      throw new OperatorError("this channel client has no chain access", {
        hint: "start it with the channels and token contracts",
      });
    }
    return this.chain;
  }

  private state(channelId: bigint): ChannelState {
    const state = this.channels.get(channelId);
    if (!state) {
      throw new OperatorError(`channel ${channelId} is unknown to ${this.address}`, {
        hint: "open it, or sync it from chain first",
      });
    }
    return state;
  }

  private async record(record: StoreRecord): Promise<void> {
    this.apply(record);
    await this.store.append(record);
  }

  private apply(record: StoreRecord): void {
    if (record.kind === "chain") return;
    if (record.kind === "channel") {
      this.channels.set(record.channelId, {
        channelId: record.channelId,
        self: record.self,
        partner: record.partner,
        participant1: record.participant1,
        selfDeposit: 0n,
        selfWithdrawn: 0n,
        partnerDeposit: 0n,
        partnerWithdrawn: 0n,
        sent: undefined,
        received: undefined,
        closed: false,
        settled: false,
        paidOrders: new Map(),
        receivedByHash: new Map(),
      });
      return;
    }
    const state = this.channels.get(record.channelId);
    if (!state) return;
    switch (record.kind) {
      case "deposits":
        state.selfDeposit = record.selfDeposit;
        state.selfWithdrawn = record.selfWithdrawn;
        state.partnerDeposit = record.partnerDeposit;
        state.partnerWithdrawn = record.partnerWithdrawn;
        break;
      case "sent": {
        const proof = {
          channelId: record.channelId,
          nonce: record.nonce,
          transferredAmount: record.transferredAmount,
          additionalHash: record.additionalHash,
          signature: record.signature,
        };
        state.sent = proof;
        if (record.orderId !== undefined) state.paidOrders.set(record.orderId, proof);
        break;
      }
      case "received": {
        const increment = record.transferredAmount - (state.received?.transferredAmount ?? 0n);
        state.received = {
          channelId: record.channelId,
          nonce: record.nonce,
          transferredAmount: record.transferredAmount,
          additionalHash: record.additionalHash,
          signature: record.signature,
        };
        state.receivedByHash.set(
          record.additionalHash,
          (state.receivedByHash.get(record.additionalHash) ?? 0n) + increment,
        );
        break;
      }
      case "closed":
        state.closed = true;
        break;
      case "settled":
        state.closed = true;
        state.settled = true;
        break;
    }
  }
}
