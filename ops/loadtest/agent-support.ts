import { Interface } from "ethers";
import { EnergyMarket__factory } from "../../types/ethers-contracts/index.js";
import { eventReader, type LazyEvent } from "./chain/events.js";
import type { MinedReceipt } from "./chain/follower.js";
import { RpcError, RpcTransportError } from "./chain/rpc.js";
import { TxError } from "./chain/sender.js";
import type { FailureReason, TradeEnd, TxKind } from "./protocol.js";

/* What the agents (agents.ts) use around their transactions: gas limits, events, failures. */

const MARKET = new Interface(EnergyMarket__factory.abi);

/**
 * Gas limits per transaction kind: measured gas (npm run bench:gas) with headroom. Fixed limits
 * spare an estimate round trip per transaction; gas is free (price 0) but the limit counts against
 * the block's, so it stays close to what the call needs.
 */
export const GAS: Partial<Record<TxKind, bigint>> = {
  publish: 250_000n,
  request: 200_000n,
  confirm: 400_000n,
  // request and confirm in one call (~224k measured)
  buy: 450_000n,
  reject: 100_000n,
  review: 300_000n,
  channel_open: 200_000n,
  channel_deposit: 150_000n,
  approve: 80_000n,
  channel_approve: 80_000n,
  // a GridCredit transfer paying an order (~39k measured, npm run bench:channels)
  transfer: 80_000n,
  bond_deposit: 120_000n,
};

export class TradeFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

/** Deterministic: the same trade numbers are rejected in every run of a scenario. */
export function rejects(trade: number, share: number): boolean {
  if (share <= 0) return false;
  return ((trade * 2654435761) % 1_000_000) / 1_000_000 < share;
}

/** The market's events in a receipt; other contracts' logs (the token's transfers) are skipped. */
export function marketEvents(receipt: MinedReceipt): LazyEvent[] {
  return eventReader(MARKET).events(receipt.logs);
}

export function eventArg(
  receipt: MinedReceipt,
  iface: Interface,
  event: string,
  arg: string,
): unknown {
  const value = eventReader(iface).arg(receipt.logs, event, arg);
  if (value !== undefined) return value;
  throw new Error(`no ${event} event in transaction ${receipt.hash}`);
}

export function failure(error: unknown): Omit<TradeEnd, "type" | "trade" | "run" | "at"> {
  const detail = error instanceof Error ? error.message : String(error);
  const base = { outcome: "failed" as const, detail, payments: 0, paymentSeconds: [] };
  if (error instanceof TradeFailure) return { ...base, reason: error.reason };
  if (error instanceof TxError) return { ...base, reason: error.reason };
  if (error instanceof RpcError || error instanceof RpcTransportError)
    return { ...base, reason: "rpc" };
  return { ...base, reason: "other" };
}
