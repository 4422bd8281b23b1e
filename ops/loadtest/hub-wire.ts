import type { LockedProof } from "../channels/dvp.js";
import type { Address, Hash } from "../channels/proofs.js";
import type { WireLockedProof } from "./protocol.js";

/* Locked balance proofs in messages between the workers and the hub, and the order they are taken in. */

export function toWire({ proof, locks }: LockedProof): WireLockedProof {
  return {
    channelId: proof.channelId.toString(),
    nonce: proof.nonce.toString(),
    transferredAmount: proof.transferredAmount.toString(),
    additionalHash: proof.additionalHash,
    sender: proof.sender,
    signature: proof.signature,
    locks: locks.map((lock) => ({
      orderId: lock.orderId.toString(),
      amount: lock.amount.toString(),
    })),
  };
}

export function fromWire(wire: WireLockedProof): LockedProof {
  return {
    proof: {
      channelId: BigInt(wire.channelId),
      nonce: BigInt(wire.nonce),
      transferredAmount: BigInt(wire.transferredAmount),
      additionalHash: wire.additionalHash as Hash,
      sender: wire.sender as Address,
      signature: wire.signature,
    },
    locks: wire.locks.map((lock) => ({
      orderId: BigInt(lock.orderId),
      amount: BigInt(lock.amount),
    })),
  };
}

/**
 * Takes a channel's proofs in nonce order, whatever order they arrive in: each proof is checked
 * against the one before it (a lock proof must add exactly one lock), and proofs of one sender can
 * overtake each other between its store's commit and the receiver. A proof waits until the one
 * before it was handled (accepted or refused), at most `maxWaitMs`; one older than that runs at
 * once (and is refused or answered idempotently by the channel client).
 */
export class InNonceOrder {
  private readonly next = new Map<bigint, bigint>();
  private readonly parked = new Map<string, () => void>();

  constructor(private readonly maxWaitMs = 10_000) {}

  /** Runs `task` for the proof `nonce` of `channelId`; `held` is the receiver's latest nonce. */
  async run<T>(channelId: bigint, nonce: bigint, held: () => bigint, task: () => Promise<T>) {
    if (!this.next.has(channelId)) this.next.set(channelId, held() + 1n);
    if (nonce > this.next.get(channelId)!) {
      // Bounded: a proof whose predecessor never comes is handled (and refused) after the wait.
      const key = `${channelId}:${nonce}`;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.parked.delete(key);
          resolve();
        }, this.maxWaitMs);
        this.parked.set(key, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    try {
      return await task();
    } finally {
      if (nonce >= this.next.get(channelId)!) {
        this.next.set(channelId, nonce + 1n);
        const key = `${channelId}:${nonce + 1n}`;
        const wake = this.parked.get(key);
        this.parked.delete(key);
        wake?.();
      }
    }
  }
}
