import { Contract, getAddress, type ContractRunner } from "ethers";
import type { Address, Credits } from "./proofs.js";

export { orderPaymentHash } from "./proofs.js";

/**
 * The part of the market's interface the channels need: one order by id. Declared here as an ABI
 * fragment so the channel client depends on this read only, not on the market's whole ABI.
 */
export const ORDER_READER_ABI = [
  "function getOrder(uint256 orderId) view returns (tuple(address buyer, address seller, uint256 offerId, uint256 quantityWh, uint256 pricePerKwh, uint64 deliveryStart, uint64 deliveryEnd, uint256 defaultAmount, uint8 status))",
] as const;

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
