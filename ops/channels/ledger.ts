import { getAddress } from "ethers";
import type { Ecdsa } from "./ecdsa.js";
import { lockedTotal, locksCommitment, locksroot, type Lock } from "./locks.js";
import type { Address, ChannelsTypedData, Credits, Hash, SignedBalanceProof } from "./proofs.js";
import type { StoreRecord } from "./store.js";

/**
 * The channel client's books: what it knows of each channel, rebuilt record by record from the
 * store, and the capacity rules it pays and accepts proofs by.
 */

/** Why `receive` refused a balance proof: the proof is not stored and must not be relied on. */
export type RejectReason =
  | "unknown-channel"
  | "channel-closed"
  | "wrong-sender"
  | "bad-signature"
  | "stale-nonce"
  | "amount-decreased"
  | "exceeds-deposit"
  | "channel-frozen"
  | "bad-locks"
  | "lock-dropped";

export class BalanceProofRejected extends Error {
  override readonly name = "BalanceProofRejected";
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export type LatestProof = Omit<SignedBalanceProof, "sender">;

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
  /** The locks pending in the latest proof sent (this client owes them on the market's outcome). */
  sentLocks: Lock[];
  /** The locks pending in the latest proof received (owed to this client on the market's outcome). */
  receivedLocks: Lock[];
  closed: boolean;
  settled: boolean;
  /**
   * Withdrawals signed and not yet known to have expired (block time past `expiry`): each keeps
   * its participant's capacity reduced, since its holder may still submit it.
   */
  reservations: { participant: Address; totalWithdraw: Credits; expiry: bigint }[];
  /** Set once this client signed a cooperative settlement: no payment moves until block time passes it. */
  frozenUntil: bigint | undefined;
};

export type ChannelState = ChannelView & {
  paidOrders: Map<bigint, LatestProof>;
  receivedByHash: Map<Hash, Credits>;
  /**
   * Every lock list of a proof signed or received in the channel, by its locksroot: the partner
   * may record any of those proofs on chain, and `unlock` needs the list whose root was kept back.
   */
  locksByRoot: Map<Hash, Lock[]>;
};

/** Remembers a proof's lock list under its locksroot. */
function rememberLocks(state: ChannelState, locks: Lock[]): void {
  if (locks.length > 0) state.locksByRoot.set(locksroot(locks), locks);
}

/** Whether a signed cooperative settlement may still be submitted, `now` being the latest block time seen. */
export function isFrozen(state: ChannelState, now: bigint): boolean {
  return state.frozenUntil !== undefined && now <= state.frozenUntil;
}

/**
 * What counts as a side's withdrawal for capacity: the larger of what it withdrew on chain and the
 * largest withdrawal signed for it that may still be submitted at block time `now`.
 */
export function committedWithdrawal(
  state: ChannelState,
  side: "self" | "partner",
  now: bigint,
): Credits {
  const who = side === "self" ? state.self : state.partner;
  let committed = side === "self" ? state.selfWithdrawn : state.partnerWithdrawn;
  for (const r of state.reservations) {
    if (r.participant === who && r.expiry >= now && r.totalWithdraw > committed)
      committed = r.totalWithdraw;
  }
  return committed;
}

/**
 * What a side could spend or withdraw now: its balance with every withdrawal that may still be
 * submitted already taken out. A proof or withdrawal beyond it would spend the same credits twice.
 */
export function capacity(state: ChannelState, side: "self" | "partner", now: bigint): Credits {
  const withdrawn = side === "self" ? state.selfWithdrawn : state.partnerWithdrawn;
  const locked = lockedTotal(side === "self" ? state.sentLocks : state.receivedLocks);
  return balance(state, side) + withdrawn - committedWithdrawal(state, side, now) - locked;
}

/** Whether two lock lists hold the same lock (same order, same amount). */
const sameLock = (a: Lock, b: Lock) => a.orderId === b.orderId && a.amount === b.amount;

/** The locks of `before` that `after` no longer holds. */
export function droppedLocks(before: readonly Lock[], after: readonly Lock[]): Lock[] {
  return before.filter((lock) => !after.some((kept) => sameLock(lock, kept)));
}

/** The checks a partner's proof must pass before it is stored; throws {@link BalanceProofRejected}. */
export function checkReceivable(
  state: ChannelState | undefined,
  proof: SignedBalanceProof,
  ecdsa: Pick<Ecdsa, "recover">,
  typedData: ChannelsTypedData,
  now: bigint,
  locks: readonly Lock[] = [],
  releasing?: Credits,
): asserts state is ChannelState {
  if (!state) {
    throw new BalanceProofRejected("unknown-channel", `unknown channel ${proof.channelId}`);
  }
  if (state.closed || state.settled) {
    throw new BalanceProofRejected("channel-closed", `channel ${proof.channelId} is closed`);
  }
  if (isFrozen(state, now)) {
    throw new BalanceProofRejected(
      "channel-frozen",
      `channel ${proof.channelId} is frozen by a signed cooperative settlement until ${state.frozenUntil}`,
    );
  }
  if (getAddress(proof.sender) !== state.partner) {
    throw new BalanceProofRejected(
      "wrong-sender",
      `proof sender ${proof.sender} is not the partner ${state.partner} of channel ${proof.channelId}`,
    );
  }
  const digest = typedData.proofDigest("BalanceProof", proof);
  if (ecdsa.recover(digest, proof.signature) !== state.partner) {
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
  checkLocks(state, proof, locks, releasing);
  // The partner's deposit net of every withdrawal it may still submit, plus what it received.
  const cover =
    state.partnerDeposit -
    committedWithdrawal(state, "partner", now) +
    (state.sent?.transferredAmount ?? 0n);
  if (proof.transferredAmount + lockedTotal(locks) > cover) {
    throw new BalanceProofRejected(
      "exceeds-deposit",
      `transferred amount ${proof.transferredAmount}${locks.length > 0 ? ` and ${lockedTotal(locks)} locked` : ""} exceeds what the partner holds (${cover})`,
    );
  }
}

/**
 * A proof's locks must be the ones its additionalHash commits to, and may drop a pending lock only
 * when the receiver agreed to release it for `releasing` (the market's share of the dropped locks,
 * computed by the caller): the transferred amount must then grow by at least that.
 */
function checkLocks(
  state: ChannelState,
  proof: SignedBalanceProof,
  locks: readonly Lock[],
  releasing: Credits | undefined,
): void {
  if (locks.length > 0 && proof.additionalHash !== locksCommitment(locks)) {
    throw new BalanceProofRejected(
      "bad-locks",
      `the proof's additionalHash does not commit to the ${locks.length} locks sent with it`,
    );
  }
  const dropped = droppedLocks(state.receivedLocks, locks);
  if (dropped.length === 0) return;
  const increase = proof.transferredAmount - (state.received?.transferredAmount ?? 0n);
  if (releasing === undefined || increase < releasing) {
    throw new BalanceProofRejected(
      "lock-dropped",
      `the proof drops locks on orders ${dropped.map((l) => l.orderId).join(", ")} without paying their share`,
    );
  }
}

/** A side's balance in the channel: deposit - withdrawn + received - sent. */
export function balance(state: ChannelState, side: "self" | "partner"): Credits {
  const sent = state.sent?.transferredAmount ?? 0n;
  const received = state.received?.transferredAmount ?? 0n;
  return side === "self"
    ? state.selfDeposit - state.selfWithdrawn + received - sent
    : state.partnerDeposit - state.partnerWithdrawn + sent - received;
}

/** Applies one store record to the books: the same on replay as when it was first written. */
export function applyRecord(channels: Map<bigint, ChannelState>, record: StoreRecord): void {
  // The chain record binds the log to its chain (checked on open); it holds no channel state.
  if (record.kind === "chain") return;
  if (record.kind === "channel") {
    channels.set(record.channelId, {
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
      sentLocks: [],
      receivedLocks: [],
      closed: false,
      settled: false,
      reservations: [],
      frozenUntil: undefined,
      paidOrders: new Map(),
      receivedByHash: new Map(),
      locksByRoot: new Map(),
    });
    return;
  }
  const state = channels.get(record.channelId);
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
      state.sentLocks = record.locks ?? [];
      rememberLocks(state, state.sentLocks);
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
      state.receivedLocks = record.locks ?? [];
      rememberLocks(state, state.receivedLocks);
      state.receivedByHash.set(
        record.additionalHash,
        (state.receivedByHash.get(record.additionalHash) ?? 0n) + increment,
      );
      break;
    }
    case "withdraw-reserved":
      state.reservations.push({
        participant: record.participant,
        totalWithdraw: record.totalWithdraw,
        expiry: record.expiry,
      });
      break;
    case "frozen":
      if (state.frozenUntil === undefined || record.expiry > state.frozenUntil)
        state.frozenUntil = record.expiry;
      break;
    case "closed":
      state.closed = true;
      break;
    case "settled":
      state.closed = true;
      state.settled = true;
      break;
  }
}
