import { Interface, type LogDescription } from "ethers";
import { GovernanceReader, type GovernanceAddresses } from "./governance.js";
import { Registry } from "prom-client";
import { rpcCall } from "../engines/rpc.js";
import { ChainFollower } from "./chain.js";
import { createMetric, DENIAL_REASONS, ORDER_STATES } from "./catalogue.js";
import { serveMetrics } from "./server.js";

type Hex = string;
type OrderState = (typeof ORDER_STATES)[number];

/** The events (and GridCredit getters) the market follower reads; the full ABI is not needed. */
export const MARKET_EVENTS = new Interface([
  "event OfferPublished(uint256 indexed offerId, address indexed seller, uint16 zone, uint8 energyType, uint64 pricePerKwh, uint64 defaultPerKwh, uint64 quantityWh, uint40 deliveryStart, uint40 deliveryEnd, uint40 expiresAt)",
  "event OfferCancelled(uint256 indexed offerId, address indexed by, uint64 remainingWh)",
  "event OrderRequested(uint256 indexed orderId, uint256 indexed offerId, address indexed buyer, uint64 quantityWh)",
  "event OrderRejected(uint256 indexed orderId, address indexed seller)",
  "event OrderAwaitingReview(uint256 indexed orderId, address indexed seller, uint64 quantityWh, uint96 defaultAmount, uint32 reviewVersion, uint64 offerRemainingWh)",
  "event OrderEstablished(uint256 indexed orderId, address indexed buyer, address indexed seller, uint256 offerId, uint64 quantityWh, uint64 pricePerKwh, uint40 deliveryStart, uint40 deliveryEnd, uint96 defaultAmount, uint32 reviewVersion, uint64 offerRemainingWh)",
  "event OrderDenied(uint256 indexed orderId, uint8 reason, uint32 reviewVersion)",
  "event OrderCancelled(uint256 indexed orderId, address indexed by, uint8 previousStatus)",
  "event OrderExpired(uint256 indexed orderId, address indexed by, uint8 previousStatus)",
  "event MeterReadingRecorded(uint256 indexed orderId, bytes32 indexed meterId, address indexed recordedBy, uint64 readingWh, uint64 deliveredWh, uint64 shortfallWh)",
  "event DefaultSettled(uint256 indexed orderId, address indexed buyer, address indexed seller, uint64 shortfallWh, uint256 payout, uint256 returned)",
  "event ChannelOpened(uint256 indexed channelId, address indexed participant1, address indexed participant2, uint64 settleTimeout)",
  "event ChannelClosed(uint256 indexed channelId, address indexed closer, uint64 settleAt)",
  "event ChannelSettled(uint256 indexed channelId, address indexed participant1, uint256 amount1, address indexed participant2, uint256 amount2, bool cooperative)",
  "function balanceOf(address account) view returns (uint256)",
  "function decimals() view returns (uint8)",
]);

/** Where the market lives: the deployment manifest's proxies, and the block the market was deployed in. */
export type MarketAddresses = {
  market: Hex;
  credit: Hex;
  /** Optional: deployments made before payment channels existed have none. */
  channels?: Hex;
  fromBlock: bigint;
};

/** Blocks per eth_getLogs call: Besu's default range limit is 5000. */
const LOG_RANGE = 2_000n;

/**
 * Follows the market from its events, incrementally: each poll reads the logs of the blocks since
 * the last poll, so a long-running market costs one eth_getLogs per poll, not one call per order.
 * Every order's state and every offer's unsold quantity are kept in memory (a few dozen bytes each).
 * Value locked is read from GridCredit balances (bonds sit in the market contract, deposits in
 * PaymentChannels): exact, and independent of the event bookkeeping.
 */
export class MarketFollower {
  private next: bigint;
  /** Blocks per eth_getLogs: halved when a node refuses a range, grown back after successes. */
  private range = LOG_RANGE;
  private readonly orders = new Map<bigint, { state: OrderState; offerId: bigint; wh: bigint }>();
  private readonly offers = new Map<
    bigint,
    { remainingWh: bigint; expiresAt: bigint; cancelled: boolean }
  >();
  private readonly channels = new Map<bigint, "open" | "closed">();
  private decimals?: number;
  private readonly metrics;

  constructor(
    private readonly rpcUrl: string,
    private readonly addresses: MarketAddresses,
    registry: Registry,
  ) {
    this.next = addresses.fromBlock;
    this.metrics = {
      published: createMetric(registry, "gridchain_market_offers_published_total"),
      open: createMetric(registry, "gridchain_market_offers_open"),
      orders: createMetric(registry, "gridchain_market_orders"),
      reviews: createMetric(registry, "gridchain_market_reviews_total"),
      denials: createMetric(registry, "gridchain_market_denials_total"),
      channels: createMetric(registry, "gridchain_channels"),
      locked: createMetric(registry, "gridchain_value_locked_credits"),
      lastBlock: createMetric(registry, "gridchain_exporter_last_block"),
    };
    // Every series exists from the start: a panel shows 0, not "no data", before the first trade.
    for (const state of ORDER_STATES) this.metrics.orders.set({ state }, 0);
    for (const outcome of ["approved", "denied", "referred"] as const)
      this.metrics.reviews.inc({ outcome }, 0);
    for (const reason of DENIAL_REASONS) this.metrics.denials.inc({ reason }, 0);
    this.metrics.published.inc(0);
    for (const state of ["open", "closed"] as const) this.metrics.channels.set({ state }, 0);
  }

  async poll(): Promise<void> {
    const head = BigInt(await rpcCall<Hex>(this.rpcUrl, "eth_blockNumber"));
    const address = [this.addresses.market, this.addresses.channels].filter(
      (a): a is Hex => a !== undefined,
    );
    while (this.next <= head) {
      const last = this.next + this.range - 1n < head ? this.next + this.range - 1n : head;
      let logs: Array<{ topics: Hex[]; data: Hex }>;
      try {
        logs = await rpcCall(
          this.rpcUrl,
          "eth_getLogs",
          [{ address, fromBlock: hex(this.next), toBlock: hex(last) }],
          10_000,
        );
      } catch (error) {
        // Too many logs for one answer (node limit, size, timeout): ask for fewer blocks.
        if (this.range === 1n) throw error;
        this.range /= 2n;
        continue;
      }
      for (const log of logs) {
        const event = MARKET_EVENTS.parseLog(log);
        if (event !== null) this.apply(event);
      }
      this.next = last + 1n;
      if (this.range < LOG_RANGE) this.range *= 2n;
    }
    const block = await rpcCall<{ timestamp: Hex }>(this.rpcUrl, "eth_getBlockByNumber", [
      hex(head),
      false,
    ]);
    this.publish(BigInt(block.timestamp));
    await this.readBalances(head);
    this.metrics.lastBlock.set(Number(head));
  }

  private apply(event: LogDescription): void {
    const a = event.args;
    switch (event.name) {
      case "OfferPublished":
        this.offers.set(a.offerId, {
          remainingWh: a.quantityWh,
          expiresAt: a.expiresAt,
          cancelled: false,
        });
        this.metrics.published.inc();
        return;
      case "OfferCancelled": {
        const offer = this.offers.get(a.offerId);
        if (offer !== undefined) offer.cancelled = true;
        return;
      }
      case "OrderRequested":
        this.orders.set(a.orderId, { state: "requested", offerId: a.offerId, wh: a.quantityWh });
        return;
      case "OrderRejected":
        return this.move(a.orderId, "rejected");
      case "OrderAwaitingReview":
        this.metrics.reviews.inc({ outcome: "referred" });
        this.remaining(a.orderId, a.offerRemainingWh);
        return this.move(a.orderId, "awaiting_review");
      case "OrderEstablished":
        this.metrics.reviews.inc({ outcome: "approved" });
        this.remaining(a.orderId, a.offerRemainingWh);
        return this.move(a.orderId, "established");
      case "OrderDenied": {
        this.metrics.reviews.inc({ outcome: "denied" });
        const reason = DENIAL_REASONS[Number(a.reason) - 1];
        if (reason !== undefined) this.metrics.denials.inc({ reason });
        return this.move(a.orderId, "denied");
      }
      case "OrderCancelled":
        return this.move(a.orderId, "cancelled");
      case "OrderExpired":
        return this.move(a.orderId, "expired");
      case "MeterReadingRecorded":
        return this.move(a.orderId, a.shortfallWh === 0n ? "delivered" : "defaulted");
      case "DefaultSettled":
        return this.move(a.orderId, "default_settled");
      case "ChannelOpened":
        this.channels.set(a.channelId, "open");
        return;
      case "ChannelClosed":
        this.channels.set(a.channelId, "closed");
        return;
      case "ChannelSettled":
        this.channels.delete(a.channelId);
        return;
    }
  }

  /** Moves an order; leaving a confirmed state gives its quantity back to the offer (`_undoConfirm`). */
  private move(orderId: bigint, state: OrderState): void {
    const order = this.orders.get(orderId);
    if (order === undefined) return;
    const confirmed = order.state === "awaiting_review" || order.state === "established";
    if (confirmed && (state === "cancelled" || state === "expired" || state === "denied")) {
      const offer = this.offers.get(order.offerId);
      if (offer !== undefined) offer.remainingWh += order.wh;
    }
    order.state = state;
  }

  private remaining(orderId: bigint, remainingWh: bigint): void {
    const order = this.orders.get(orderId);
    const offer = order === undefined ? undefined : this.offers.get(order.offerId);
    if (offer !== undefined) offer.remainingWh = remainingWh;
  }

  private publish(headTimestamp: bigint): void {
    const counts = new Map<OrderState, number>(ORDER_STATES.map((state) => [state, 0]));
    for (const { state } of this.orders.values()) counts.set(state, counts.get(state)! + 1);
    for (const [state, count] of counts) this.metrics.orders.set({ state }, count);
    let open = 0;
    for (const offer of this.offers.values()) {
      if (!offer.cancelled && offer.remainingWh > 0n && offer.expiresAt > headTimestamp) open++;
    }
    this.metrics.open.set(open);
    let openChannels = 0;
    for (const state of this.channels.values()) if (state === "open") openChannels++;
    this.metrics.channels.set({ state: "open" }, openChannels);
    this.metrics.channels.set({ state: "closed" }, this.channels.size - openChannels);
  }

  private async readBalances(head: bigint): Promise<void> {
    const call = async (data: string) =>
      await rpcCall<Hex>(this.rpcUrl, "eth_call", [{ to: this.addresses.credit, data }, hex(head)]);
    this.decimals ??= Number(BigInt(await call(MARKET_EVENTS.encodeFunctionData("decimals"))));
    const credits = async (holder: Hex) =>
      Number(BigInt(await call(MARKET_EVENTS.encodeFunctionData("balanceOf", [holder])))) /
      10 ** this.decimals!;
    this.metrics.locked.set({ kind: "bonds" }, await credits(this.addresses.market));
    if (this.addresses.channels !== undefined) {
      this.metrics.locked.set({ kind: "channel_deposits" }, await credits(this.addresses.channels));
    }
  }
}

/** One entry of `qbft_getSignerMetrics` as Besu documents it (quantities are hex strings). */
export type SignerMetric = { address: Hex; proposedBlockCount: Hex; lastProposedBlockNumber: Hex };

export type ValidatorLiveness = {
  validator: Hex;
  proposedBlocks: number;
  blocksSinceProposal: number;
};

/**
 * Joins the validator set with Besu's signer metrics. A validator absent from the metrics proposed
 * nothing in the window, so it counts 0 blocks and `head - windowStart` blocks since its last
 * proposal; addresses compare case-insensitively (Besu answers in lower case).
 */
export function validatorLiveness(
  validators: readonly Hex[],
  metrics: readonly SignerMetric[],
  head: bigint,
  windowStart: bigint,
): ValidatorLiveness[] {
  const byAddress = new Map(metrics.map((metric) => [metric.address.toLowerCase(), metric]));
  return validators.map((address) => {
    const validator = address.toLowerCase();
    const metric = byAddress.get(validator);
    if (metric === undefined) {
      return { validator, proposedBlocks: 0, blocksSinceProposal: Number(head - windowStart) };
    }
    return {
      validator,
      proposedBlocks: Number(BigInt(metric.proposedBlockCount)),
      blocksSinceProposal: Number(head - BigInt(metric.lastProposedBlockNumber)),
    };
  });
}

/** Blocks `qbft_getSignerMetrics` covers when asked without a range (Besu's documented default). */
export const SIGNER_WINDOW = 100n;

/** The JSON-RPC methods that give the validator set and signer metrics, per consensus protocol. */
const CONSENSUS_METHODS = {
  qbft: { validators: "qbft_getValidatorsByBlockNumber", signers: "qbft_getSignerMetrics" },
  clique: { validators: "clique_getSigners", signers: "clique_getSignerMetrics" },
} as const;

/**
 * Reads what only Besu's JSON-RPC knows: peers, the validator set and who proposed recently.
 * Besu exports no QBFT metric, so signer metrics are the one per-validator liveness signal.
 */
export class BesuReader {
  private readonly peers;
  private readonly validators;
  private readonly proposed;
  private readonly since;

  constructor(
    private readonly rpcUrl: string,
    registry: Registry,
    private readonly protocol: "qbft" | "clique" = "qbft",
  ) {
    this.peers = createMetric(registry, "gridchain_besu_peers");
    this.validators = createMetric(registry, "gridchain_validators");
    this.proposed = createMetric(registry, "gridchain_validator_proposed_blocks");
    this.since = createMetric(registry, "gridchain_validator_blocks_since_proposal");
  }

  async poll(): Promise<void> {
    this.peers.set(Number(BigInt(await rpcCall<Hex>(this.rpcUrl, "net_peerCount"))));
    const head = BigInt(await rpcCall<Hex>(this.rpcUrl, "eth_blockNumber"));
    const methods = CONSENSUS_METHODS[this.protocol];
    const validators = await rpcCall<Hex[]>(this.rpcUrl, methods.validators, ["latest"]);
    const windowStart = head > SIGNER_WINDOW ? head - SIGNER_WINDOW : 0n;
    const metrics = await rpcCall<SignerMetric[]>(this.rpcUrl, methods.signers, [
      hex(windowStart),
      hex(head),
    ]);
    this.validators.set(validators.length);
    // Validators voted out must disappear, not keep their last numbers.
    this.proposed.reset();
    this.since.reset();
    for (const entry of validatorLiveness(validators, metrics, head, windowStart)) {
      this.proposed.set({ validator: entry.validator }, entry.proposedBlocks);
      this.since.set({ validator: entry.validator }, entry.blocksSinceProposal);
    }
  }
}

export type ExporterOptions = {
  rpcUrl: string;
  market?: MarketAddresses;
  /** The members' governance, when deployed. */
  governance?: GovernanceAddresses;
  /** Read peers and validators too; the consensus protocol decides the JSON-RPC methods. */
  besu?: "qbft" | "clique";
  host?: string;
  port?: number;
  pollMs?: number;
};

/**
 * The `gridchain exporter` process: chain, market and (on Besu) consensus metrics on one /metrics.
 * A failed poll is counted and retried on the next tick; the metrics keep their last values.
 */
export async function startExporter(options: ExporterOptions) {
  const registry = new Registry();
  const pollMs = options.pollMs ?? 1_000;
  const chain = new ChainFollower(options.rpcUrl, registry, pollMs);
  const readers: Array<{ poll(): Promise<void> }> = [];
  if (options.market !== undefined)
    readers.push(new MarketFollower(options.rpcUrl, options.market, registry));
  if (options.governance !== undefined)
    readers.push(new GovernanceReader(options.rpcUrl, options.governance, registry));
  if (options.besu !== undefined)
    readers.push(new BesuReader(options.rpcUrl, registry, options.besu));
  const errors = createMetric(registry, "gridchain_exporter_poll_errors_total");
  errors.inc(0);
  const server = await serveMetrics(registry, { host: options.host, port: options.port });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    running = (async () => {
      for (const reader of readers) {
        try {
          await reader.poll();
        } catch {
          errors.inc();
        }
      }
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, pollMs);
    });
  };
  chain.start();
  tick();
  return {
    url: server.url,
    registry,
    async close(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
      await chain.stop();
      await server.close();
    },
  };
}

function hex(n: bigint): Hex {
  return `0x${n.toString(16)}`;
}

/** The market addresses of a deployment manifest; the market's proxy transaction marks where to start. */
export async function marketAddresses(
  rpcUrl: string,
  manifest: { contracts: Record<string, { proxy: string; proxyTx: string } | undefined> },
): Promise<MarketAddresses> {
  const market = manifest.contracts.EnergyMarket!;
  const receipt = await rpcCall<{ blockNumber: Hex } | null>(rpcUrl, "eth_getTransactionReceipt", [
    market.proxyTx,
  ]);
  return {
    market: market.proxy,
    credit: manifest.contracts.GridCredit!.proxy,
    channels: manifest.contracts.PaymentChannels?.proxy,
    fromBlock: receipt === null ? 0n : BigInt(receipt.blockNumber),
  };
}
