import { getAddress, type SigningKey } from "ethers";
import type { GridCredit, PaymentChannels } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import { defaultEcdsa, type Ecdsa } from "./ecdsa.js";
import {
  ChannelsTypedData,
  addressOf,
  type Address,
  type ChannelsDomain,
  type Credits,
  type Hash,
  type SignedBalanceProof,
} from "./proofs.js";
import { applyRecord, balance, type ChannelState, type ChannelView } from "./ledger.js";
import type { ChannelStore, StoreRecord } from "./store.js";

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

/**
 * The books every channel client keeps: the account, its store and the channel states replayed from
 * it, and the read-only views of them. {@link ChannelClient} adds the actions that change them.
 */
export abstract class ChannelBook {
  readonly address: Address;
  readonly typedData: ChannelsTypedData;
  protected readonly key: SigningKey;
  protected readonly store: ChannelStore;
  protected readonly chain: ChainAccess | undefined;
  protected readonly ecdsa: Ecdsa;
  protected readonly channels = new Map<bigint, ChannelState>();
  /** The latest block time seen: signed intents count as usable until it passes their expiry. */
  protected chainTime = 0n;

  protected constructor(options: ChannelClientOptions, store: ChannelStore) {
    this.key = options.key;
    this.address = addressOf(options.key);
    this.typedData = new ChannelsTypedData(options.domain);
    this.store = store;
    this.chain = options.chain;
    this.ecdsa = options.ecdsa ?? defaultEcdsa;
  }

  /** Flushes and closes the store. */
  async stop(): Promise<void> {
    await this.store.close();
  }

  /** A copy of what the client knows about a channel. */
  channel(channelId: bigint): ChannelView {
    const { paidOrders: _orders, receivedByHash: _hashes, ...view } = this.state(channelId);
    return { ...view, reservations: view.reservations.map((r) => ({ ...r })) };
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

  /** This client's balance in the channel: deposit - withdrawn + received - sent. */
  balanceOf(channelId: bigint): Credits {
    return balance(this.state(channelId), "self");
  }

  /** Learns block time (never a local clock; 0 after a restart, so nothing is released early). */
  observeBlockTime(timestamp: bigint): void {
    if (timestamp > this.chainTime) this.chainTime = timestamp;
  }

  protected sign(digest: Hash): string {
    return this.ecdsa.sign(this.key, digest);
  }

  protected requireChain(): ChainAccess {
    if (!this.chain) {
      throw new OperatorError("this channel client has no chain access", {
        hint: "start it with the channels and token contracts",
      });
    }
    return this.chain;
  }

  protected state(channelId: bigint): ChannelState {
    const state = this.channels.get(channelId);
    if (!state) {
      throw new OperatorError(`channel ${channelId} is unknown to ${this.address}`, {
        hint: "open it, or sync it from chain first",
      });
    }
    return state;
  }

  protected async record(record: StoreRecord): Promise<void> {
    this.apply(record);
    await this.store.append(record);
  }

  protected apply(record: StoreRecord): void {
    applyRecord(this.channels, record);
  }
}
