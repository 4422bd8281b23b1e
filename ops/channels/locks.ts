import { AbiCoder, concat, keccak256, toBeHex, toUtf8Bytes } from "ethers";
import { OperatorError } from "../errors.js";
import type { Credits, Hash } from "./proofs.js";

/**
 * Delivery versus payment off chain: the lock encoding {ChannelLocks} checks on chain. A lock pays
 * its receiver `amount * deliveredWh / quantityWh` of an order once the market decided it; a proof
 * carrying locks signs `additionalHash = locksCommitment(lockedAmount, locksroot(locks))`.
 */

/** One pending lock: `amount` credits conditional on the market's outcome of `orderId`. */
export type Lock = { orderId: bigint; amount: Credits };

/** The market's outcome of an order as {IOrderOutcomes.paymentOutcome} reports it. */
export type OrderOutcome = { decided: boolean; deliveredWh: bigint; quantityWh: bigint };

const LOCKS_TYPEHASH = keccak256(toUtf8Bytes("Locks(uint256 lockedAmount,bytes32 locksroot)"));

/** The packed `(uint256 orderId, uint256 amount)` pairs `unlock` takes, in lock order. */
export function encodeLocks(locks: readonly Lock[]): string {
  if (locks.length === 0) return "0x";
  return concat(locks.flatMap((lock) => [toBeHex(lock.orderId, 32), toBeHex(lock.amount, 32)]));
}

/** keccak256 of the packed locks: the root a proof commits to. */
export function locksroot(locks: readonly Lock[]): Hash {
  return keccak256(encodeLocks(locks));
}

/** The sum of the locks' amounts: the `lockedAmount` a proof carrying them states. */
export function lockedTotal(locks: readonly Lock[]): Credits {
  return locks.reduce((sum, lock) => sum + lock.amount, 0n);
}

/** The `additionalHash` of a balance proof carrying `locks`; equal to `locksCommitment` on chain. */
export function locksCommitment(locks: readonly Lock[]): Hash {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint256", "bytes32"],
      [LOCKS_TYPEHASH, lockedTotal(locks), locksroot(locks)],
    ),
  );
}

/**
 * The receiver's share of a lock once its order is decided, rounded down like the contract:
 * `amount * min(deliveredWh, quantityWh) / quantityWh`. Throws for an undecided order.
 */
export function lockShare(lock: Lock, outcome: OrderOutcome): Credits {
  if (!outcome.decided) {
    throw new OperatorError(`order ${lock.orderId} is not decided yet`, {
      details: "a lock is split only once the market has metered, or ended, its order",
    });
  }
  if (outcome.quantityWh === 0n || outcome.deliveredWh === 0n) return 0n;
  if (outcome.deliveredWh >= outcome.quantityWh) return lock.amount;
  return (lock.amount * outcome.deliveredWh) / outcome.quantityWh;
}

/** The largest mediation fee per kWh a deployment accepts: 1 credit (6 decimals) per kWh. */
export const MAX_MEDIATION_FEE_PER_KWH = 1_000_000n;

/**
 * The hub's fee for forwarding an order's payment: `feePerKwh` per kWh ordered, rounded down.
 * The hub earns it only in proportion to delivery, since both of its locks split by the same outcome.
 */
export function mediationFee(quantityWh: bigint, feePerKwh: Credits): Credits {
  if (feePerKwh < 0n || feePerKwh > MAX_MEDIATION_FEE_PER_KWH) {
    throw new OperatorError(`mediation fee ${feePerKwh} per kWh is out of range`, {
      details: `allowed: 0 to ${MAX_MEDIATION_FEE_PER_KWH} credit base units per kWh`,
    });
  }
  return (quantityWh * feePerKwh) / 1000n;
}

/**
 * What the hub locks toward the seller for an incoming lock of `incoming` on an order: the incoming
 * amount minus its fee. Never more than the incoming amount, so for every outcome the hub's share
 * of its incoming lock covers its outgoing one: `floor(in*d/q) >= floor(out*d/q)` when `in >= out`.
 */
export function forwardAmount(incoming: Credits, quantityWh: bigint, feePerKwh: Credits): Credits {
  const fee = mediationFee(quantityWh, feePerKwh);
  if (fee >= incoming) {
    throw new OperatorError(`a lock of ${incoming} does not cover the mediation fee of ${fee}`, {
      details: `order quantity ${quantityWh} Wh at ${feePerKwh} per kWh`,
    });
  }
  return incoming - fee;
}

/** One trade the hub will mediate: the seller it forwards to and the amount it locks toward it. */
export type PlannedTrade = { seller: string; amount: Credits };

/**
 * Hub liquidity for a load: per seller, the deposit the hub needs in that seller's channel to lock
 * every forwarded payment at once (locks are pending until their orders are metered), and the total.
 * The buyers' side needs no hub deposit: buyers lock their own deposits toward the hub.
 */
export function planHubLiquidity(trades: readonly PlannedTrade[]): {
  perSeller: Map<string, Credits>;
  total: Credits;
} {
  const perSeller = new Map<string, Credits>();
  let total = 0n;
  for (const trade of trades) {
    perSeller.set(trade.seller, (perSeller.get(trade.seller) ?? 0n) + trade.amount);
    total += trade.amount;
  }
  return { perSeller, total };
}
