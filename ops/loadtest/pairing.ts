import { forwardAmount, planHubLiquidity, type PlannedTrade } from "../channels/locks.js";

/**
 * Who buys from whom when payments need no channel per pair (`hub`, `onchain`): any consumer from
 * any producer. Trade n's seller is drawn from a seeded shuffle of the producers, one shuffle per
 * block of as many trades as there are producers, so a run is reproducible from its seed and every
 * producer sells at most one trade more than any other over any stretch of trades: its offers,
 * bond and the hub's liquidity toward it are planned like a fixed share.
 */
export class Pairing {
  private block = -1;
  private order: number[] = [];

  constructor(
    private readonly seed: number,
    private readonly producers: number,
  ) {
    if (!Number.isInteger(producers) || producers < 1) {
      throw new RangeError(`a pairing needs at least one producer, got ${producers}`);
    }
  }

  /** The index (into the producers) of trade `trade`'s seller; trades are numbered from 1. */
  sellerOf(trade: number): number {
    const index = trade - 1;
    const block = Math.floor(index / this.producers);
    if (block !== this.block) {
      this.order = shuffled(this.producers, mix(this.seed, block));
      this.block = block;
    }
    return this.order[index % this.producers]!;
  }
}

/** 0..n-1 in a Fisher-Yates order drawn from `seed` (mulberry32). */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** One 32-bit seed per (seed, block): distinct blocks draw unrelated shuffles. */
function mix(seed: number, block: number): number {
  let h = (seed ^ Math.imul(block + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** What the hub deposits toward each seller, and in all, for the trades the test plans. */
export type HubPlan = {
  /** Credits (base units) per producer address, for every producer. */
  perSeller: Map<string, bigint>;
  total: bigint;
  /** Trades the schedule plans. */
  trades: number;
};

/**
 * Hub liquidity from the schedule: every planned trade's seller by the pairing, and the lock the
 * hub forwards for it (the price less its fee). Locks stay pending until their orders are decided,
 * so the hub needs all of them at once. Each seller gets twice its share and five trades more, like
 * its bond and its offers: a timed run's last starts, and the trades of a lost worker's producers
 * that move to the others, still find the hub able to forward.
 */
export function planHubDeposits(input: {
  producers: readonly string[];
  seed: number;
  plannedTrades: number;
  wh: bigint;
  pricePerKwh: bigint;
  feePerKwh: bigint;
}): HubPlan {
  const { producers, seed, wh, pricePerKwh, feePerKwh, plannedTrades } = input;
  const pairing = new Pairing(seed, producers.length);
  const amount = forwardAmount((wh * pricePerKwh) / 1000n, wh, feePerKwh);
  const planned: PlannedTrade[] = [];
  for (let trade = 1; trade <= plannedTrades; trade++) {
    planned.push({ seller: producers[pairing.sellerOf(trade)]!, amount: 2n * amount });
  }
  for (const seller of producers) planned.push({ seller, amount: 5n * amount });
  const { perSeller, total } = planHubLiquidity(planned);
  return { perSeller, total, trades: plannedTrades };
}
