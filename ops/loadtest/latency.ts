import type { JournalRecord } from "./protocol.js";
import type { Stats } from "./report-model.js";
import { stats } from "./statistics.js";

/**
 * Where a transaction's confirmation time goes, in seconds, from the journal alone:
 * - `intake`: from the send (the worker stamps it before signing) to the node's answer that it
 *   took the transaction: signing, the JSON-RPC batch window, the HTTP round trip, and the
 *   worker's event loop when busy (transactions whose acceptance was not seen are left out);
 * - `waitForBlock`: from the send to the node's newHeads notification of the block that holds it.
 *   Sent at a random moment, a transaction waits half a block period on average for the next block
 *   (the floor), a whole one when it is sent just after a block is cut or misses the next block;
 * - `learn`: from that notification to the moment the sending worker had the receipt (fetching
 *   the block and its receipts, and the worker's event loop being free to do it).
 * `confirmation` is their sum as the report counts it (send to the worker's receipt). Only
 * transactions of blocks whose notification was journaled count (a subscription, not polling).
 * `sendPhase` is where in the block period the sends fell (0 right after a notification, 1 just
 * before the next): even sends spread evenly over [0, 1).
 */
export type ConfirmationParts = {
  transactions: number;
  intake: Stats;
  waitForBlock: Stats;
  learn: Stats;
  confirmation: Stats;
  sendPhase: Stats;
};

export function confirmationParts(
  records: readonly JournalRecord[],
  kinds?: readonly string[],
): ConfirmationParts {
  const announced = new Map<number, number>();
  const notifications: number[] = [];
  for (const record of records) {
    if (record.t === "block" && record.announcedAt !== undefined) {
      announced.set(record.number, record.announcedAt);
      notifications.push(record.announcedAt);
    }
  }
  notifications.sort((a, b) => a - b);
  const intake: number[] = [];
  const wait: number[] = [];
  const learn: number[] = [];
  const total: number[] = [];
  const phase: number[] = [];
  for (const record of records) {
    if (record.t !== "tx" || record.minedAt === undefined || record.block === undefined) continue;
    if (kinds !== undefined && !kinds.includes(record.kind)) continue;
    const at = announced.get(record.block);
    if (at === undefined) continue;
    wait.push((at - record.sentAt) / 1000);
    if (record.acceptedAt !== undefined) intake.push((record.acceptedAt - record.sentAt) / 1000);
    learn.push((record.minedAt - at) / 1000);
    total.push((record.minedAt - record.sentAt) / 1000);
    const share = periodShare(notifications, record.sentAt);
    if (share !== null) phase.push(share);
  }
  return {
    transactions: total.length,
    intake: stats(intake),
    waitForBlock: stats(wait),
    learn: stats(learn),
    confirmation: stats(total),
    sendPhase: stats(phase),
  };
}

/** Where `at` falls between the notifications around it, 0 to 1; null outside them. */
function periodShare(sorted: readonly number[], at: number): number | null {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle]! <= at) low = middle + 1;
    else high = middle;
  }
  if (low === 0 || low === sorted.length) return null;
  const before = sorted[low - 1]!;
  const after = sorted[low]!;
  return after === before ? null : (at - before) / (after - before);
}
