import { Contract, getAddress, type ContractRunner } from "ethers";
import { OperatorError } from "../errors.js";
import type { OrderOutcome } from "./locks.js";
import { orderPaymentHash, type Address, type Credits, type Hash } from "./proofs.js";

export { orderPaymentHash } from "./proofs.js";

/**
 * The part of the market's interface the channels need: one order by id. Declared here as an ABI
 * fragment so the channel client depends on this read only, not on the market's whole ABI.
 */
export const ORDER_READER_ABI = [
  "function getOrder(uint256 orderId) view returns (tuple(address buyer, address seller, uint256 offerId, uint256 quantityWh, uint256 pricePerKwh, uint64 deliveryStart, uint64 deliveryEnd, uint256 defaultAmount, uint8 status))",
] as const;

/** The market's read a payment lock is decided by ({IOrderOutcomes.paymentOutcome}). */
export const OUTCOME_READER_ABI = [
  "function paymentOutcome(uint256 orderId) view returns (bool decided, uint64 deliveredWh, uint64 quantityWh, uint40 deliveryEnd)",
] as const;

/** Where the market's outcomes of orders are read from, for splitting and releasing locks. */
export type OutcomeSource = { outcome(orderId: bigint): Promise<OrderOutcome> };

/** An {@link OutcomeSource} over the market contract at `address`. */
export function marketOutcomes(address: Address, runner: ContractRunner): OutcomeSource {
  const read = new Contract(address, OUTCOME_READER_ABI, runner).getFunction("paymentOutcome");
  return {
    async outcome(orderId) {
      const [decided, deliveredWh, quantityWh] = (await read(orderId)) as [boolean, bigint, bigint];
      return { decided, deliveredWh, quantityWh };
    },
  };
}

/** A market order as the channels see it: who pays whom, how much energy, at what price, when. */
export type MarketOrder = {
  buyer: Address;
  seller: Address;
  offerId: bigint;
  quantityWh: bigint;
  /** GridCredit base units per kWh. */
  pricePerKwh: Credits;
  deliveryStart: bigint;
  deliveryEnd: bigint;
  defaultAmount: Credits;
  status: bigint;
};

/** Where orders are read from: the market's address (bound into every payment) and a reader. */
export type OrderSource = { address: Address; getOrder(orderId: bigint): Promise<MarketOrder> };

/** An {@link OrderSource} over the market contract at `address`. */
export function marketOrders(address: Address, runner: ContractRunner): OrderSource {
  const market = new Contract(address, ORDER_READER_ABI, runner);
  const getOrder = market.getFunction("getOrder");
  return {
    address: getAddress(address),
    async getOrder(orderId) {
      const order = (await getOrder(orderId)) as MarketOrder;
      return {
        buyer: getAddress(order.buyer),
        seller: getAddress(order.seller),
        offerId: order.offerId,
        quantityWh: order.quantityWh,
        pricePerKwh: order.pricePerKwh,
        deliveryStart: order.deliveryStart,
        deliveryEnd: order.deliveryEnd,
        defaultAmount: order.defaultAmount,
        status: order.status,
      };
    },
  };
}

/**
 * An order's price in GridCredit base units: quantityWh * pricePerKwh / 1000, rounded down like
 * the market's own integer arithmetic.
 */
export function orderPrice(order: Pick<MarketOrder, "quantityWh" | "pricePerKwh">): Credits {
  return (order.quantityWh * order.pricePerKwh) / 1000n;
}

/** The market's `OrderStatus`, in its declaration order (EnergyMarket.sol). */
export const ORDER_STATUSES = [
  "None",
  "Requested",
  "Rejected",
  "Cancelled",
  "Expired",
  "Denied",
  "AwaitingReview",
  "Established",
  "Delivered",
  "Defaulted",
  "DefaultSettled",
] as const;

/**
 * Statuses in which the full price is owed: established (approved and confirmed, delivery ahead)
 * or delivered in full. A rejected, denied, cancelled or expired order is owed nothing, a pending
 * one may still end so, and a defaulted one is owed only part of its price; a payment never comes
 * back, so the client refuses all of these.
 */
const PAYABLE = new Set<string>(["Established", "Delivered"]);

/** Throws unless `order` is in a status whose full price is owed. */
export function checkPayable(orderId: bigint, order: Pick<MarketOrder, "status">): void {
  const status = ORDER_STATUSES[Number(order.status)] ?? `unknown (${order.status})`;
  if (!PAYABLE.has(status)) {
    throw new OperatorError(`order ${orderId} is not payable: it is ${status}`, {
      details: "only an Established or Delivered order is paid its full price",
      hint: "pay an order once it is established; never one that ended without delivery",
    });
  }
}

/** What an order is owed and the hash that tags its payment. */
export function orderDue(
  market: Pick<OrderSource, "address">,
  orderId: bigint,
  order: MarketOrder,
): { additionalHash: Hash; price: Credits } {
  return {
    additionalHash: orderPaymentHash({ market: market.address, orderId, ...order }),
    price: orderPrice(order),
  };
}

/** {@link orderDue} for `payer`, once the order is checked to be its own and payable. */
export function orderToPay(
  market: Pick<OrderSource, "address">,
  orderId: bigint,
  order: MarketOrder,
  payer: Address,
): { additionalHash: Hash; price: Credits } {
  if (getAddress(order.buyer) !== payer) {
    throw new OperatorError(`order ${orderId} is not ${payer}'s to pay`, {
      details: `its buyer is ${order.buyer}`,
    });
  }
  checkPayable(orderId, order);
  return orderDue(market, orderId, order);
}
