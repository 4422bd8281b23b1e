import { PROPOSAL_STATES } from "../governance/states.js";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Who exports a metric: the chain follower, the exporter's market and Besu readers, or the load test. */
export type MetricSource = "chain" | "market" | "besu" | "loadtest";

/**
 * One gridchain metric. Labels list every value they may take: a label outside its list is a bug,
 * and the list is what keeps cardinality low (no account, order or transaction ids as labels).
 */
export type MetricDefinition = {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly help: string;
  readonly source: MetricSource;
  readonly labels: Readonly<Record<string, readonly string[] | "validator">>;
  readonly buckets?: readonly number[];
};

/** Seconds between blocks: 1 s QBFT blocks up to the paper's ~12 s and stalls. */
export const BLOCK_INTERVAL_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 12, 20, 30, 60, 120] as const;

/** Seconds from submission to receipt: sub-block (anvil automine) up to a two-minute stall. */
export const CONFIRMATION_BUCKETS = [
  0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 8, 12, 20, 30, 60, 120,
] as const;

/** Seconds for an off-chain channel payment (sign, send, counter-signed receipt). */
export const CHANNEL_PAYMENT_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;

/** Order states as the market contract names them (OrderStatus), in snake case. */
export const ORDER_STATES = [
  "requested",
  "rejected",
  "cancelled",
  "expired",
  "denied",
  "awaiting_review",
  "established",
  "delivered",
  "defaulted",
  "default_settled",
] as const;

/** GridReview.DenialReason without `None`, in snake case. */
export const DENIAL_REASONS = [
  "zone_unknown",
  "window_not_aligned",
  "window_too_long",
  "order_too_large",
  "participant_slot_limit",
  "export_capacity",
  "import_capacity",
  "denied_by_operator",
] as const;

/** Transactions the load test sends, one kind per market or channel action. */
export const TRANSACTION_KINDS = [
  "publish",
  "request",
  "confirm",
  "buy",
  "reject",
  "cancel",
  "review",
  "meter",
  "settle_default",
  "mint",
  "approve",
  "bond_deposit",
  "channel_open",
  "channel_deposit",
  "channel_close",
  "channel_settle",
  // Paying through channels: the approval before a channel deposit; an order paid on chain.
  "channel_approve",
  "transfer",
] as const;

/** Trade outcomes as DESIGN.md defines them; success ratio = executed / (executed + failed). */
export const TRADE_OUTCOMES = ["executed", "denied", "rejected", "failed"] as const;

export { PROPOSAL_STATES };

/** Why a trade that should have worked did not. */
export const FAILURE_REASONS = [
  "revert",
  "timeout",
  "nonce",
  "rpc",
  "channel",
  "worker_lost",
  "interrupted",
  "other",
] as const;

export const METRICS = [
  // --- chain follower (ops/metrics/chain.ts): any engine, read over JSON-RPC
  {
    name: "gridchain_chain_head_height",
    type: "gauge",
    help: "Number of the newest block",
    source: "chain",
    labels: {},
  },
  {
    name: "gridchain_block_interval_seconds",
    type: "histogram",
    help: "Seconds between consecutive blocks (timestamps)",
    source: "chain",
    labels: {},
    buckets: BLOCK_INTERVAL_BUCKETS,
  },
  {
    name: "gridchain_blocks_total",
    type: "counter",
    help: "Blocks seen",
    source: "chain",
    labels: {},
  },
  {
    name: "gridchain_block_transactions_total",
    type: "counter",
    help: "Transactions in blocks seen",
    source: "chain",
    labels: {},
  },
  {
    name: "gridchain_block_gas_used_total",
    type: "counter",
    help: "Gas used by blocks seen",
    source: "chain",
    labels: {},
  },
  {
    name: "gridchain_block_fill_ratio",
    type: "gauge",
    help: "gasUsed / gasLimit of the newest block",
    source: "chain",
    labels: {},
  },
  {
    name: "gridchain_pending_transactions",
    type: "gauge",
    help: "Transactions waiting in the node's pool",
    source: "chain",
    labels: {},
  },
  // --- market (ops/metrics/exporter.ts): counted from the contracts' events, value from balances
  {
    name: "gridchain_market_offers_published_total",
    type: "counter",
    help: "Offers published (OfferPublished events)",
    source: "market",
    labels: {},
  },
  {
    name: "gridchain_market_offers_open",
    type: "gauge",
    help: "Offers neither cancelled, sold out nor expired at the newest block",
    source: "market",
    labels: {},
  },
  {
    name: "gridchain_market_orders",
    type: "gauge",
    help: "Orders by their current state",
    source: "market",
    labels: { state: ORDER_STATES },
  },
  {
    name: "gridchain_market_reviews_total",
    type: "counter",
    help: "Reviews by outcome: approved (established), denied, or referred to the grid operator",
    source: "market",
    labels: { outcome: ["approved", "denied", "referred"] },
  },
  {
    name: "gridchain_market_denials_total",
    type: "counter",
    help: "Denied orders by the review's reason code",
    source: "market",
    labels: { reason: DENIAL_REASONS },
  },
  {
    name: "gridchain_channels",
    type: "gauge",
    help: "Payment channels not yet settled, by state (open, or closed and waiting to settle)",
    source: "market",
    labels: { state: ["open", "closed"] },
  },
  {
    name: "gridchain_value_locked_credits",
    type: "gauge",
    help: "GridCredit held by the contracts: producers' bonds (market) and channel deposits",
    source: "market",
    labels: { kind: ["bonds", "channel_deposits"] },
  },
  {
    name: "gridchain_exporter_last_block",
    type: "gauge",
    help: "Newest block whose market events the exporter has counted",
    source: "market",
    labels: {},
  },
  {
    name: "gridchain_exporter_poll_errors_total",
    type: "counter",
    help: "Polls of the chain that failed (RPC unreachable, bad answer)",
    source: "market",
    labels: {},
  },
  // --- Besu JSON-RPC (exporter --besu): consensus facts Besu has no metric for
  {
    name: "gridchain_besu_peers",
    type: "gauge",
    help: "Peers of the node the exporter reads (net_peerCount)",
    source: "besu",
    labels: {},
  },
  {
    name: "gridchain_validators",
    type: "gauge",
    help: "Validators at the newest block (qbft_getValidatorsByBlockNumber, clique_getSigners)",
    source: "besu",
    labels: {},
  },
  {
    name: "gridchain_validator_proposed_blocks",
    type: "gauge",
    help: "Blocks each validator proposed in the signer-metrics window (qbft_/clique_getSignerMetrics)",
    source: "besu",
    labels: { validator: "validator" },
  },
  {
    name: "gridchain_validator_blocks_since_proposal",
    type: "gauge",
    help: "Blocks since each validator last proposed (the window length when it never did)",
    source: "besu",
    labels: { validator: "validator" },
  },
  // --- members' governance (ops/metrics/governance.ts): read from the contracts each poll
  {
    name: "gridchain_governance_members",
    type: "gauge",
    help: "Member organisations with a vote (ConsortiumGovernance.memberCount)",
    source: "market",
    labels: {},
  },
  {
    name: "gridchain_governance_contract_validators",
    type: "gauge",
    help: "Validators the QBFT validator contract lists (getValidators(), what Besu reads)",
    source: "market",
    labels: {},
  },
  {
    name: "gridchain_governance_proposals",
    type: "gauge",
    help: "Proposals by state; active, queued and executable are pending",
    source: "market",
    labels: { state: PROPOSAL_STATES },
  },
  {
    name: "gridchain_governance_pending_votes",
    type: "gauge",
    help: "Votes cast on pending proposals (active, queued, executable), by choice",
    source: "market",
    labels: { support: ["for", "against"] },
  },
  // --- load test (issue 6): the coordinator exports these
  {
    name: "gridchain_loadtest_transactions_submitted_total",
    type: "counter",
    help: "Transactions sent by the load test, by kind",
    source: "loadtest",
    labels: { kind: TRANSACTION_KINDS },
  },
  {
    name: "gridchain_loadtest_transactions_confirmed_total",
    type: "counter",
    help: "Transactions of the load test with a receipt, by kind and receipt status",
    source: "loadtest",
    labels: { kind: TRANSACTION_KINDS, status: ["success", "reverted"] },
  },
  {
    name: "gridchain_loadtest_confirmation_seconds",
    type: "histogram",
    help: "Seconds from sending a transaction to its receipt",
    source: "loadtest",
    labels: { kind: TRANSACTION_KINDS },
    buckets: CONFIRMATION_BUCKETS,
  },
  {
    name: "gridchain_loadtest_trades_total",
    type: "counter",
    help: "Finished trades by outcome (executed, denied, rejected, failed)",
    source: "loadtest",
    labels: { outcome: TRADE_OUTCOMES },
  },
  {
    name: "gridchain_loadtest_trade_failures_total",
    type: "counter",
    help: "Failed trades by reason",
    source: "loadtest",
    labels: { reason: FAILURE_REASONS },
  },
  {
    name: "gridchain_loadtest_trades_in_flight",
    type: "gauge",
    help: "Trades started and not finished",
    source: "loadtest",
    labels: {},
  },
  {
    name: "gridchain_loadtest_offered_transactions_per_second",
    type: "gauge",
    help: "Transaction rate the scenario asks for",
    source: "loadtest",
    labels: {},
  },
  {
    name: "gridchain_loadtest_achieved_transactions_per_second",
    type: "gauge",
    help: "Confirmed transactions per second over the coordinator's last window",
    source: "loadtest",
    labels: {},
  },
  {
    name: "gridchain_loadtest_channel_payments_total",
    type: "counter",
    help: "Off-chain channel payments by outcome",
    source: "loadtest",
    labels: { outcome: ["ok", "failed"] },
  },
  {
    name: "gridchain_loadtest_channel_payment_seconds",
    type: "histogram",
    help: "Seconds for one channel payment, from signing to the payee's acknowledgement",
    source: "loadtest",
    labels: {},
    buckets: CHANNEL_PAYMENT_BUCKETS,
  },
] as const satisfies readonly MetricDefinition[];

export type MetricName = (typeof METRICS)[number]["name"];

type DefinitionOf<N extends MetricName> = Extract<(typeof METRICS)[number], { name: N }>;
type LabelNames<N extends MetricName> = Extract<keyof DefinitionOf<N>["labels"], string>;
type MetricOf<N extends MetricName> = DefinitionOf<N>["type"] extends "counter"
  ? Counter<LabelNames<N>>
  : DefinitionOf<N>["type"] extends "gauge"
    ? Gauge<LabelNames<N>>
    : Histogram<LabelNames<N>>;

const BY_NAME = new Map<string, MetricDefinition>(METRICS.map((metric) => [metric.name, metric]));

/** The definition of a catalogued metric, or undefined for a name that is not gridchain's. */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/**
 * Every series name a catalogued metric exposes: histograms add _bucket, _sum and _count.
 */
export function exposedNames(): Set<string> {
  const names = new Set<string>();
  for (const metric of METRICS) {
    names.add(metric.name);
    if (metric.type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

/** Registers the catalogued metric `name` in `registry`, typed by its kind and labels. */
export function createMetric<N extends MetricName>(registry: Registry, name: N): MetricOf<N> {
  const definition = BY_NAME.get(name)!;
  const common = {
    name,
    help: definition.help,
    labelNames: Object.keys(definition.labels),
    registers: [registry],
  };
  switch (definition.type) {
    case "counter":
      return new Counter(common) as MetricOf<N>;
    case "gauge":
      return new Gauge(common) as MetricOf<N>;
    case "histogram":
      return new Histogram({ ...common, buckets: [...definition.buckets!] }) as MetricOf<N>;
  }
}
