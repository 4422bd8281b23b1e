import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import { lockedTotal, locksroot, type Lock } from "./locks.js";
import type { SignedBalanceProof } from "./proofs.js";

/**
 * Reveals the locks of `proof` once it is the proof recorded on chain for its sender, unless they
 * already are: settlement keeps revealed locks back for `unlock`. Returns whether it sent a
 * transaction. Used by the client after its close or update, and by the watcher for its beneficiary.
 */
export async function revealLocks(
  channels: PaymentChannels,
  proof: SignedBalanceProof,
  locks: readonly Lock[],
): Promise<boolean> {
  if (locks.length === 0) return false;
  const [, , recordedNonce] = await channels.getParticipant(proof.channelId, proof.sender);
  if (recordedNonce !== proof.nonce) return false;
  const [, , revealedNonce] = await channels.revealedLocks(proof.channelId, proof.sender);
  if (revealedNonce === proof.nonce) return false;
  await (
    await channels.revealLocks(
      proof.channelId,
      proof.sender,
      proof,
      lockedTotal(locks),
      locksroot(locks),
    )
  ).wait();
  return true;
}

/**
 * Records `proof` (newer than the recorded one) with the beneficiary's `updateSignature`; a proof
 * carrying locks is recorded with them in the same transaction (`updateBalanceProofWithLocks`), so an
 * update landing in the settle window's last second cannot lose its locks to a late reveal.
 */
export async function updateWithLocks(
  channels: PaymentChannels,
  proof: SignedBalanceProof,
  updateSignature: string,
  locks: readonly Lock[],
): Promise<void> {
  const { channelId, sender } = proof;
  const sent =
    locks.length === 0
      ? await channels.updateBalanceProof(channelId, sender, proof, updateSignature)
      : await channels.updateBalanceProofWithLocks(
          channelId,
          sender,
          proof,
          updateSignature,
          lockedTotal(locks),
          locksroot(locks),
        );
  await sent.wait();
}
