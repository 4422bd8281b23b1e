import type { ContractTransactionResponse, Signer } from "ethers";
import { keccak256, toUtf8Bytes } from "ethers";
import type { EnergyMarket, GridCredit, GridReview } from "../../types/ethers-contracts/index.js";
import { batches, refusedItems } from "./batch.js";

/** Energy in watt-hours. */
export type Wh = bigint;
/** GridCredit base units (6 decimals). */
export type Credits = bigint;

export const ENERGY_TYPES = ["solar", "wind"] as const;
export type EnergyType = (typeof ENERGY_TYPES)[number];

/** EnergyMarket.OrderStatus, by name. */
export const ORDER_STATUS = [
  "none",
  "requested",
  "rejected",
  "cancelled",
  "expired",
  "denied",
  "awaiting review",
  "established",
  "delivered",
  "defaulted",
  "default settled",
] as const;
export type OrderStatus = (typeof ORDER_STATUS)[number];

/** GridReview.DenialReason, by name. */
export const DENIAL_REASONS = [
  "none",
  "zone unknown",
  "window not aligned",
  "window too long",
  "order too large",
  "participant slot limit",
  "export line capacity",
  "import line capacity",
  "denied by the grid operator",
] as const;

/** The market's contracts; each call connects them to the acting account. */
export type MarketContracts = { market: EnergyMarket; review: GridReview; credit: GridCredit };

export type Offer = {
  seller: Signer;
  energyType: EnergyType;
  pricePerKwh: Credits;
  /** What the seller owes per kWh not delivered, locked from its bond at confirmation. */
  defaultPerKwh: Credits;
  quantityWh: Wh;
  deliveryStart: bigint;
  deliveryEnd: bigint;
  /** A standing offer accepts every request within its terms: a consumer's `buy` is one transaction. */
  standing?: boolean;
};

/** One meter reading for {@link MarketClient.recordDeliveries}. */
export type Delivery = { orderId: bigint; meterName: string; deliveredWh: Wh; readingWh: Wh };

/** An item of a batch call: done, or refused with the market's rule that it broke. */
export type BatchOutcome = { orderId: bigint; refused?: string };

/** How an order ended after the seller's answer and the grid's review. */
export type Confirmation = { status: OrderStatus; denialReason: string; reviewVersion: bigint };

/**
 * A small client for the paper's steps A-D: release (publish), order (request, confirm or reject),
 * review (inside confirm in auto mode; by the grid operator otherwise), record and settle (meter
 * reading, default settlement). Each call waits for its receipt and returns what the chain said.
 */
export class MarketClient {
  constructor(readonly contracts: MarketContracts) {}

  /** A. A producer publishes an offer that expires at the delivery start; returns its id. */
  async publish(offer: Offer): Promise<bigint> {
    const market = this.contracts.market.connect(offer.seller);
    const publish = offer.standing === true ? market.publishStanding : market.publish;
    const receipt = await wait(
      publish(
        ENERGY_TYPES.indexOf(offer.energyType),
        offer.pricePerKwh,
        offer.defaultPerKwh,
        offer.quantityWh,
        offer.deliveryStart,
        offer.deliveryEnd,
        offer.deliveryStart,
      ),
    );
    return this.eventArg(receipt, "OfferPublished", "offerId");
  }

  /** B. A consumer requests part of an offer; returns the order id. */
  async request(buyer: Signer, offerId: bigint, quantityWh: Wh): Promise<bigint> {
    const receipt = await wait(this.contracts.market.connect(buyer).request(offerId, quantityWh));
    return this.eventArg(receipt, "OrderRequested", "orderId");
  }

  /**
   * B + C in one transaction: a consumer buys from a standing offer; the review decides at once.
   * Returns the order id and its outcome.
   */
  async buy(
    buyer: Signer,
    offerId: bigint,
    quantityWh: Wh,
  ): Promise<{ orderId: bigint } & Confirmation> {
    const receipt = await wait(this.contracts.market.connect(buyer).buy(offerId, quantityWh));
    const orderId = this.eventArg(receipt, "OrderRequested", "orderId");
    return { orderId, ...(await this.outcome(orderId)) };
  }

  /** B + C. The seller confirms; in auto mode the grid's review decides in the same transaction. */
  async confirm(seller: Signer, orderId: bigint): Promise<Confirmation> {
    await wait(this.contracts.market.connect(seller).confirm(orderId));
    return this.outcome(orderId);
  }

  /** B. The seller turns the request down. */
  async reject(seller: Signer, orderId: bigint): Promise<void> {
    await wait(this.contracts.market.connect(seller).reject(orderId));
  }

  /** A seller's bond: the grid operator mints credits against a deposit, the seller locks them. */
  async fundBond(gridOperator: Signer, seller: Signer, amount: Credits): Promise<void> {
    const sellerAddress = await seller.getAddress();
    const ref = keccak256(toUtf8Bytes(`bond deposit ${sellerAddress}`));
    await wait(this.contracts.credit.connect(gridOperator).mint(sellerAddress, amount, ref));
    const market = await this.contracts.market.getAddress();
    await wait(this.contracts.credit.connect(seller).approve(market, amount));
    await wait(this.contracts.market.connect(seller).depositBond(amount));
  }

  /**
   * D. After the delivery window the grid's meter records what was delivered, with the meter's
   * true cumulative reading at the window's end. The market keeps one reading per meter and window
   * end: orders that end together on one meter state the same reading, and windows may be recorded
   * in any order as long as readings never fall with time. One transaction per `MAX_BATCH_ITEMS`
   * readings; an item the market refuses is returned with the rule it broke, the others recorded.
   */
  async recordDeliveries(meter: Signer, readings: readonly Delivery[]): Promise<BatchOutcome[]> {
    // Refusals are matched to items by order id: the second reading of an order would be refused.
    if (new Set(readings.map((reading) => reading.orderId)).size !== readings.length)
      throw new Error("recordDeliveries: an order is named twice");
    const outcomes: BatchOutcome[] = [];
    for (const batch of batches(readings)) {
      const receipt = await wait(
        this.contracts.market.connect(meter).recordMeterReadings(
          batch.map((reading) => ({
            orderId: reading.orderId,
            meterId: keccak256(toUtf8Bytes(reading.meterName)),
            readingWh: reading.readingWh,
            deliveredWh: reading.deliveredWh,
          })),
        ),
      );
      outcomes.push(...this.batchOutcomes(receipt, batch));
    }
    return outcomes;
  }

  /** D. One reading ({@link recordDeliveries} with one item); a refused reading throws its rule. */
  async recordDelivery(
    meter: Signer,
    orderId: bigint,
    meterName: string,
    deliveredWh: Wh,
    readingWh: Wh,
  ): Promise<Confirmation> {
    const [outcome] = await this.recordDeliveries(meter, [
      { orderId, meterName, deliveredWh, readingWh },
    ]);
    if (outcome!.refused !== undefined)
      throw new Error(`order ${orderId}: the market refused the reading: ${outcome!.refused}`);
    return this.outcome(orderId);
  }

  /**
   * D. Metered shortfalls are paid to the buyers from the sellers' locked bonds, one transaction
   * per `MAX_BATCH_ITEMS` orders; each outcome carries the payout or the rule that refused it.
   */
  async settleDefaults(
    caller: Signer,
    orderIds: readonly bigint[],
  ): Promise<(BatchOutcome & { payout?: Credits })[]> {
    const outcomes: (BatchOutcome & { payout?: Credits })[] = [];
    for (const batch of batches(orderIds)) {
      const receipt = await wait(this.contracts.market.connect(caller).settleDefaults(batch));
      const payouts = new Map<bigint, Credits>();
      for (const log of receipt.logs) {
        const parsed = this.contracts.market.interface.parseLog(log);
        if (parsed?.name === "DefaultSettled")
          payouts.set(parsed.args.getValue("orderId"), parsed.args.getValue("payout"));
      }
      for (const outcome of this.batchOutcomes(
        receipt,
        batch.map((orderId) => ({ orderId })),
      )) {
        const payout = payouts.get(outcome.orderId);
        outcomes.push(payout === undefined ? outcome : { ...outcome, payout });
      }
    }
    return outcomes;
  }

  /** D. One shortfall ({@link settleDefaults} with one order); returns the payout. */
  async settleDefault(caller: Signer, orderId: bigint): Promise<Credits> {
    const [outcome] = await this.settleDefaults(caller, [orderId]);
    if (outcome!.payout === undefined)
      throw new Error(`order ${orderId}: the market refused the settlement: ${outcome!.refused}`);
    return outcome!.payout;
  }

  /** The grid's network usage charge per kWh from `sellerZone` to `buyerZone` (GridCredit units). */
  async tariff(sellerZone: number, buyerZone: number): Promise<Credits> {
    return this.contracts.review.tariff(sellerZone, buyerZone);
  }

  /** The grid operator sets the tariff of one zone pair (a new parameters version). */
  async setTariff(
    gridOperator: Signer,
    sellerZone: number,
    buyerZone: number,
    perKwh: Credits,
  ): Promise<void> {
    await wait(
      this.contracts.review.connect(gridOperator).setTariff(sellerZone, buyerZone, perKwh),
    );
  }

  /** What the market holds for the grid operator: tariffs and kept capacity fees. */
  async gridIncome(): Promise<Credits> {
    return this.contracts.market.gridIncome();
  }

  /** An order's status, denial reason and the review parameters version it was checked against. */
  async outcome(orderId: bigint): Promise<Confirmation> {
    const order = await this.contracts.market.getOrder(orderId);
    return {
      status: ORDER_STATUS[Number(order.status)]!,
      denialReason: DENIAL_REASONS[Number(order.denialReason)]!,
      reviewVersion: order.reviewVersion,
    };
  }

  private batchOutcomes(
    receipt: Awaited<ReturnType<typeof wait>>,
    items: readonly { orderId: bigint }[],
  ): BatchOutcome[] {
    const refused = refusedItems(this.contracts.market.interface, receipt.logs);
    return items.map(({ orderId }) => {
      const reason = refused.get(orderId);
      return reason === undefined ? { orderId } : { orderId, refused: reason };
    });
  }

  private eventArg(
    receipt: Awaited<ReturnType<ContractTransactionResponse["wait"]>>,
    event: string,
    arg: string,
  ): bigint {
    const { market } = this.contracts;
    for (const log of receipt?.logs ?? []) {
      try {
        const parsed = market.interface.parseLog(log);
        if (parsed?.name === event) return parsed.args.getValue(arg) as bigint;
      } catch {
        // A log of another contract (the token's transfers).
      }
    }
    throw new Error(`no ${event} event in transaction ${receipt?.hash}`);
  }
}

async function wait(sent: Promise<ContractTransactionResponse>) {
  const receipt = await (await sent).wait();
  if (receipt === null) throw new Error("transaction dropped");
  return receipt;
}

/** The first slot boundary at least `leadSeconds` after `now`. */
export function nextSlot(now: bigint, slotSeconds: bigint, leadSeconds: bigint): bigint {
  return ((now + leadSeconds + slotSeconds - 1n) / slotSeconds) * slotSeconds;
}
