/**
 * What the load test's parts say to each other: the coordinator and its workers exchange one JSON
 * object per line (over a child's stdin/stdout, or a container's attached streams), and the
 * coordinator writes every fact it learns to the journal, one JSON object per line. The report is
 * computed from the journal alone, so a run that was interrupted still reports what it started.
 *
 * Numbers that can exceed 2^53 (Wh, credits, gas) travel as decimal strings; times are
 * milliseconds since the epoch.
 */
import type { FAILURE_REASONS, TRADE_OUTCOMES, TRANSACTION_KINDS } from "../metrics/catalogue.js";

export type Address = `0x${string}`;
export type TxKind = (typeof TRANSACTION_KINDS)[number];
export type TradeOutcome = (typeof TRADE_OUTCOMES)[number];
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** One simulated trading node: a consortium account with its own key. */
export type AgentSpec = {
  id: string;
  address: Address;
  role: "producer" | "consumer";
  /** Numeric zone of GridReview. */
  zone: number;
  /** The account's private key (hex). Sent to the worker over its stdin only; never logged. */
  key: string;
  /** A consumer's seller: the producer it trades and keeps a payment channel with. */
  seller?: string;
};

/** What every trade looks like; fixed for the whole test. */
export type TradeTerms = {
  wh: string;
  pricePerKwh: string;
  defaultPerKwh: string;
  /** Channel payments per trade; 0 pays nothing off chain. */
  paymentsPerTrade: number;
  /** `standing`: offers carry acceptance terms and a trade is one `buy`; else request + confirm. */
  path: "standing" | "request-confirm";
  /** Share of requests the seller turns down (request-confirm only). */
  rejectShare: number;
  /** How orders are paid: through the hub, over direct channels, or by on-chain transfers. */
  topology: "hub" | "direct" | "onchain";
  /** Seeds the pairing of any consumer with any producer (`hub`, `onchain`; see pairing.ts). */
  pairingSeed: number;
  /** The hub's mediation fee per kWh (credits, base units). */
  hubFeePerKwh: string;
  /** A consumer's channel deposit (credits, base units). */
  channelDeposit: string;
  /** A producer's bond (credits, base units), minted by the grid operator and locked. */
  bond: string;
  /** A consumer's bond for the line capacity fees of its orders across zones ("0": none). */
  buyerBond: string;
  confirmationTimeoutSeconds: number;
  tradeTimeoutSeconds: number;
};

export type ContractAddresses = {
  market: Address;
  review: Address;
  credit: Address;
  channels: Address;
};

// ---- coordinator -> worker

export type WorkerInit = {
  type: "init";
  worker: number;
  rpcUrl: string;
  /** The node's WebSocket JSON-RPC, when it has one: new blocks are seen by subscription. */
  wsUrl?: string;
  /** Polling for new blocks (without a subscription) is tuned to it. */
  blockPeriodSeconds: number;
  chainId: number;
  contracts: ContractAddresses;
  agents: AgentSpec[];
  terms: TradeTerms;
  /** Folder of the agents' channel stores (write-ahead logs). */
  storeDir: string;
  /** The grid operator's hub every agent keeps its one channel with (`hub` topology). */
  hub?: Address;
  /** Every producer of the test in pairing order (`hub` and `onchain`: any consumer buys from any). */
  producers?: { id: string; address: Address }[];
};

/** A balance proof with its locks as it travels in a message: amounts and ids as decimal strings. */
export type WireLockedProof = {
  channelId: string;
  nonce: string;
  transferredAmount: string;
  additionalHash: string;
  sender: string;
  signature: string;
  locks: { orderId: string; amount: string }[];
};

/** An agent's channel with the hub as its worker set it up (the hub records it without a read). */
export type HubChannelFact = {
  agent: string;
  address: Address;
  channelId: string;
  participant1: Address;
  /** The agent's total deposit. */
  deposit: string;
};

/** Producers publish one offer each (standing, when the trade path is) for a run's delivery window. */
export type OffersCommand = {
  type: "offers";
  run: number;
  deliveryStart: number;
  deliveryEnd: number;
  /** Wh each producer of this worker offers (enough for its expected share of the run). */
  wh: Record<string, string>;
};

/** Start one trade: the buyer buys from (or requests on) its seller's current offer. */
export type TradeCommand = { type: "trade"; trade: number; run: number; buyer: string };

export type ToWorker =
  | WorkerInit
  | { type: "setup" }
  | OffersCommand
  | TradeCommand
  /** The grid operator's answer to an order that awaited manual review. */
  | { type: "reviewed"; trade: number; approved: boolean; detail?: string }
  /** Every producer's current offer: a buyer may buy from any (`hub`, `onchain`). */
  | { type: "offer-book"; offers: Record<string, string> }
  /** The hub opened and funded these producers' channels: their clients read them from chain. */
  | { type: "hub-channels"; channels: Record<string, string> }
  /** The hub's lock on an order, forwarded to the order's seller. */
  | { type: "hub-forward"; trade: number; seller: string; orderId: string; proof: WireLockedProof }
  /** The seller accepted the hub's lock (or the hub or the seller refused): the buyer's payment ended. */
  | { type: "hub-paid"; trade: number; ok: boolean; detail?: string }
  /** The order is decided: the buyer releases its lock toward the hub by the outcome. */
  | { type: "hub-release"; orderId: string; buyer: string }
  /** The hub releases its lock toward the seller by the same outcome. */
  | { type: "hub-settle"; orderId: string; seller: string; proof: WireLockedProof }
  | { type: "stop" };

// ---- worker -> coordinator

/** A transaction with a final answer from the chain (or none, with the reason). */
export type TxEvent = {
  type: "tx";
  trade?: number;
  run?: number;
  kind: TxKind;
  agent: string;
  hash: string;
  sentAt: number;
  /** When the node took the transaction that was mined (its eth_sendRawTransaction answer). */
  acceptedAt?: number;
  /** When the worker saw the block holding it; absent when it never got a receipt. */
  minedAt?: number;
  block?: number;
  status: "success" | "reverted" | "lost";
  gasUsed?: string;
  /** Times the same nonce was sent again (dropped transaction, RPC error). */
  resent?: number;
};

export type TradeEnd = {
  type: "end";
  trade: number;
  run: number;
  outcome: TradeOutcome;
  reason?: FailureReason;
  detail?: string;
  orderId?: string;
  /** Who sold (agent id), when the trade reached an order. */
  seller?: string;
  /** Channel payments made for the trade, and the seconds each took (sign to acknowledgement). */
  payments: number;
  paymentSeconds: number[];
  failedPayments?: number;
  at: number;
};

export type FromWorker =
  | { type: "ready"; worker: number; agents: number }
  | {
      type: "setup-done";
      transactions: number;
      seconds: number;
      /** The agents' channels with the hub (`hub` topology). */
      channels?: HubChannelFact[];
    }
  /** The buyer locked an order's price toward the hub; the hub forwards it to the seller. */
  | { type: "hub-lock"; trade: number; orderId: string; proof: WireLockedProof }
  | { type: "hub-accepted"; trade: number; ok: boolean; detail?: string }
  | { type: "hub-released"; orderId: string; ok: boolean; proof?: WireLockedProof; detail?: string }
  | { type: "hub-settled"; orderId: string; ok: boolean; detail?: string }
  | { type: "hub-channels-done" }
  | { type: "offers-done"; run: number; offers: Record<string, string> }
  | TxEvent
  | TradeEnd
  /** An order awaits the grid operator's manual review. */
  | { type: "review"; trade: number; orderId: string }
  | { type: "log"; message: string }
  | { type: "fatal"; message: string };

// ---- the journal (JSONL), written by the coordinator

export type JournalRecord =
  | {
      t: "test";
      at: number;
      scenario: string;
      preset?: string;
      nodes: number;
      producers: number;
      consumers: number;
      workers: number;
      runner: "process" | "docker";
      engine: string;
      chainId: number;
      blockPeriodSeconds: number;
      paymentsPerTrade: number;
      /** How orders were paid (older journals lack it: direct channels). */
      topology?: "hub" | "direct" | "onchain";
      /** How trades reached the chain (older journals lack it: request-confirm). */
      tradePath?: "standing" | "request-confirm";
      /** A stress test's bounds: the knee is the last rate that kept them. */
      stress?: { successFloor: number; p99BlockPeriods: number };
      host: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
      /** The consortium's network name (older journals lack it, like the next two). */
      network?: string;
      /** The gridchain release and git commit that ran the test. */
      gridchain?: { version: string; commit?: string };
      /** The proxies the test traded on. */
      contracts?: { market: string; review: string; credit: string; channels: string };
    }
  | {
      t: "setup";
      at: number;
      seconds: number;
      transactions: number;
      /** Seconds of each part of the setup (funding, workers, agents, hub); they overlap. */
      phases?: Record<string, number>;
    }
  /** An offer epoch's offers were published (setup of its runs, outside any run). */
  | { t: "offers"; run: number; at: number; seconds: number; offers: number }
  /**
   * How the test pays: the topology, and for the hub its account, the liquidity planned from the
   * schedule and deposited, and its books' net (received less sent) before the first run.
   */
  | {
      t: "payments";
      at: number;
      topology: "hub" | "direct" | "onchain";
      hub?: string;
      feePerKwh?: string;
      plannedTrades?: number;
      plannedLiquidity?: string;
      deposited?: string;
      channels?: number;
      netBefore?: string;
    }
  /** The hub's books at the end: locks pending each way, orders released, net received less sent. */
  | {
      t: "hub-end";
      at: number;
      mediated: number;
      released: number;
      lockedIn: string;
      lockedOut: string;
      net: string;
    }
  | {
      t: "run";
      run: number;
      at: number;
      /** Trades the run asks for; absent when the run is bounded by time. */
      trades?: number;
      durationSeconds?: number;
      /** Open loop: the trade rate asked for; closed loop: trades kept in flight. */
      load: { model: "open"; tradesPerSecond: number } | { model: "closed"; inFlight: number };
    }
  | { t: "trade"; trade: number; run: number; worker: number; buyer: string; at: number }
  | (Omit<TxEvent, "type"> & { t: "tx" })
  | (Omit<TradeEnd, "type"> & { t: "end" })
  | {
      t: "block";
      number: number;
      timestamp: number;
      seenAt: number;
      /** When the newHeads notification arrived; absent when the block was found by polling. */
      announcedAt?: number;
      transactions: number;
      gasUsed: string;
      gasLimit: string;
    }
  | { t: "run-end"; run: number; at: number }
  /** The grid meter recorded a sampled trade after its window; a shortfall was settled from the bond. */
  | {
      t: "metered";
      trade: number;
      run: number;
      orderId: string;
      deliveredWh: string;
      outcome: "delivered" | "default settled" | "failed";
      detail?: string;
      at: number;
    }
  /** Metering was skipped: the sampled windows end later than the test may wait. */
  | { t: "metering-skipped"; at: number; windowEnd: number; detail: string }
  /**
   * The grid's income held by the market (GridCredit base units) before the first run and after
   * metering: tariffs and capacity fees are paid to the grid when orders are metered.
   */
  | { t: "grid-income"; phase: "before" | "after"; at: number; credits: string }
  | { t: "worker-lost"; worker: number; at: number; detail: string }
  | { t: "interrupted"; at: number; signal: string }
  | { t: "done"; at: number };
