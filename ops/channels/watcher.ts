import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import type { Lock } from "./locks.js";
import type { Address, SignedBalanceProof } from "./proofs.js";
import { revealLocks, updateWithLocks } from "./reveal.js";

/**
 * What a watcher holds for one channel side: the sender's latest balance proof and the
 * beneficiary's Update signature over it. No private key: the watcher can only ever submit a
 * proof the beneficiary authorised, and only while the channel is closed.
 */
export type WatchedProof = {
  proof: SignedBalanceProof;
  beneficiary: Address;
  updateSignature: string;
  /** The locks the proof commits to: revealed after the update so settlement keeps them back. */
  locks?: Lock[];
};

/** One update the watcher submitted (or found already covered). */
export type WatchOutcome = {
  channelId: bigint;
  sender: Address;
  nonce: bigint;
  action: "updated" | "up-to-date" | "too-late";
};

/**
 * Watches for closed channels and submits the newest proof it holds for each side whose recorded
 * proof is older, so a partner who closes with a stale state loses to the newer one. `scan` is one
 * pass over the blocks since the last; `start` repeats it.
 */
export class ChannelWatcher {
  private readonly channels: PaymentChannels;
  private readonly watched = new Map<string, WatchedProof>();
  private nextBlock: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(channels: PaymentChannels, fromBlock = 0) {
    this.channels = channels;
    this.nextBlock = fromBlock;
  }

  /** Hands the watcher a newer proof for one channel side; older ones are ignored. */
  watch(entry: WatchedProof): void {
    const key = `${entry.proof.channelId}:${entry.proof.sender}`;
    const current = this.watched.get(key);
    if (!current || current.proof.nonce < entry.proof.nonce) this.watched.set(key, entry);
  }

  /** Looks at ChannelClosed events since the last scan and submits the updates they need. */
  async scan(): Promise<WatchOutcome[]> {
    const provider = this.channels.runner?.provider;
    if (!provider) throw new Error("the watcher's contract needs a provider");
    const latest = await provider.getBlockNumber();
    if (latest < this.nextBlock) return [];
    const events = await this.channels.queryFilter(
      this.channels.filters.ChannelClosed(),
      this.nextBlock,
      latest,
    );
    this.nextBlock = latest + 1;
    const outcomes: WatchOutcome[] = [];
    for (const event of events) {
      const channelId = event.args.channelId;
      for (const entry of this.watched.values()) {
        if (entry.proof.channelId !== channelId) continue;
        outcomes.push(await this.submit(entry));
      }
    }
    return outcomes;
  }

  /** Scans every `intervalMs` until {@link stop}; errors go to `onError` and scanning goes on. */
  start(intervalMs: number, onError: (error: unknown) => void): void {
    const tick = () => {
      this.scan()
        .catch(onError)
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async submit(entry: WatchedProof): Promise<WatchOutcome> {
    const { channelId, sender, nonce } = entry.proof;
    const [, , recordedNonce] = await this.channels.getParticipant(channelId, sender);
    if (recordedNonce >= nonce) {
      // The partner may have closed with this very proof: its locks still need revealing.
      if (recordedNonce === nonce) await revealLocks(this.channels, entry.proof, entry.locks ?? []);
      return { channelId, sender, nonce, action: "up-to-date" };
    }
    const [, , , , , settleAt] = await this.channels.getChannel(channelId);
    const block = await this.channels.runner!.provider!.getBlock("latest");
    if (block && BigInt(block.timestamp) >= settleAt) {
      return { channelId, sender, nonce, action: "too-late" };
    }
    await updateWithLocks(this.channels, entry.proof, entry.updateSignature, entry.locks ?? []);
    return { channelId, sender, nonce, action: "updated" };
  }
}
