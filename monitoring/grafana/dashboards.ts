import {
  VariableRefresh,
  DashboardBuilder,
  QueryVariableBuilder,
  RowBuilder,
  type Dashboard,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as HeatmapPanel } from "@grafana/grafana-foundation-sdk/heatmap";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

/** The datasource uid the provisioning gives gridchain's Prometheus. */
export const DATASOURCE = { type: "prometheus", uid: "gridchain-prometheus" } as const;

/** One query of a panel: PromQL and the legend it draws with. */
type Query = { expr: string; legend: string };

type PanelSpec = {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  width?: number;
  kind?: "timeseries" | "stat" | "heatmap";
  min?: number;
  max?: number;
};

function target(query: Query, index: number, heatmap = false) {
  const builder = new DataqueryBuilder()
    .expr(query.expr)
    .legendFormat(query.legend)
    .refId(String.fromCharCode(65 + index));
  return heatmap ? builder.format(PromQueryFormat.Heatmap) : builder;
}

function panel(spec: PanelSpec) {
  const width = spec.width ?? 12;
  if (spec.kind === "heatmap") {
    return new HeatmapPanel()
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .span(width)
      .height(8)
      .targets(spec.queries.map((query, i) => target(query, i, true)));
  }
  const builder = spec.kind === "stat" ? new StatPanel() : new TimeseriesPanel();
  builder
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(width)
    .height(8)
    .targets(spec.queries.map((query, i) => target(query, i)));
  if (spec.min !== undefined) builder.min(spec.min);
  if (spec.max !== undefined) builder.max(spec.max);
  return builder;
}

function dashboard(uid: string, title: string, rows: Array<[string, PanelSpec[]]>) {
  const builder = new DashboardBuilder(title)
    .uid(uid)
    .tags(["gridchain"])
    .refresh("5s")
    .time({ from: "now-15m", to: "now" })
    .timezone("utc");
  for (const [row, panels] of rows) {
    builder.withRow(new RowBuilder(row));
    for (const spec of panels) builder.withPanel(panel(spec));
  }
  return builder;
}

/**
 * **gridchain market / load**: what a load test achieves (rates, outcomes, confirmation times,
 * failures, channel payments), what the market holds (exporter), and the chain under it.
 */
export function marketDashboard(): Dashboard {
  return dashboard("gridchain-market", "gridchain market / load", [
    [
      "Load test",
      [
        {
          title: "Offered vs confirmed rate",
          description:
            "Transactions per second the scenario asks for, sends and gets receipts for. Confirmed below offered means the chain is the bottleneck.",
          unit: "reqps",
          queries: [
            { expr: "sum(gridchain_loadtest_offered_transactions_per_second)", legend: "offered" },
            {
              expr: "sum(rate(gridchain_loadtest_transactions_submitted_total[1m]))",
              legend: "submitted",
            },
            {
              expr: "sum(rate(gridchain_loadtest_transactions_confirmed_total[1m]))",
              legend: "confirmed",
            },
          ],
        },
        {
          title: "Trades by outcome",
          description:
            "Finished trades per second: executed, denied (the review said no), rejected (the seller said no), failed.",
          unit: "reqps",
          queries: [
            {
              expr: "sum by (outcome) (rate(gridchain_loadtest_trades_total[1m]))",
              legend: "{{outcome}}",
            },
          ],
        },
        {
          title: "Success ratio",
          description: "executed / (executed + failed) over the last minute; the target is 99.9%.",
          unit: "percentunit",
          kind: "stat",
          width: 6,
          min: 0,
          max: 1,
          queries: [{ expr: "gridchain:trade_success_ratio:rate1m", legend: "success" }],
        },
        {
          title: "Trades in flight",
          description: "Trades started and not finished.",
          unit: "short",
          kind: "stat",
          width: 6,
          queries: [{ expr: "sum(gridchain_loadtest_trades_in_flight)", legend: "in flight" }],
        },
        {
          title: "Confirmation time p50 / p95 / p99",
          description: "Seconds from sending a transaction to its receipt, all kinds.",
          unit: "s",
          queries: [
            { expr: "gridchain:confirmation_seconds:p50_1m", legend: "p50" },
            { expr: "gridchain:confirmation_seconds:p95_1m", legend: "p95" },
            { expr: "gridchain:confirmation_seconds:p99_1m", legend: "p99" },
          ],
        },
        {
          title: "Confirmation time heatmap",
          description: "Receipts per confirmation-time bucket and minute.",
          unit: "s",
          kind: "heatmap",
          queries: [
            {
              expr: "sum by (le) (increase(gridchain_loadtest_confirmation_seconds_bucket[1m]))",
              legend: "{{le}}",
            },
          ],
        },
        {
          title: "Failures by reason",
          description: "Failed trades per second by reason (revert, timeout, nonce, rpc, channel).",
          unit: "reqps",
          queries: [
            {
              expr: "sum by (reason) (rate(gridchain_loadtest_trade_failures_total[1m]))",
              legend: "{{reason}}",
            },
          ],
        },
        {
          title: "Channel payments",
          description: "Off-chain payments per second by outcome, and their p95 latency.",
          unit: "reqps",
          queries: [
            {
              expr: "sum by (outcome) (rate(gridchain_loadtest_channel_payments_total[1m]))",
              legend: "{{outcome}}",
            },
            {
              expr: "histogram_quantile(0.95, sum by (le) (rate(gridchain_loadtest_channel_payment_seconds_bucket[1m])))",
              legend: "p95 latency (s)",
            },
          ],
        },
      ],
    ],
    [
      "Market",
      [
        {
          title: "Orders by state",
          description: "Orders in each state of the market contract, counted from its events.",
          unit: "short",
          queries: [{ expr: "sum by (state) (gridchain_market_orders)", legend: "{{state}}" }],
        },
        {
          title: "Offers",
          description: "Open offers (not cancelled, sold out or expired) and offers published.",
          unit: "short",
          queries: [
            { expr: "sum(gridchain_market_offers_open)", legend: "open" },
            { expr: "sum(gridchain_market_offers_published_total)", legend: "published" },
          ],
        },
        {
          title: "Reviews by outcome",
          description:
            "Reviews in the last 5 minutes: approved, denied, referred to the grid operator.",
          unit: "short",
          queries: [
            {
              expr: "sum by (outcome) (increase(gridchain_market_reviews_total[5m]))",
              legend: "{{outcome}}",
            },
          ],
        },
        {
          title: "Denials by reason",
          description: "Denied orders in the last 5 minutes by the review's reason code.",
          unit: "short",
          queries: [
            {
              expr: "sum by (reason) (increase(gridchain_market_denials_total[5m]))",
              legend: "{{reason}}",
            },
          ],
        },
        {
          title: "Payment channels",
          description: "Channels open, and closed but not yet settled.",
          unit: "short",
          queries: [{ expr: "sum by (state) (gridchain_channels)", legend: "{{state}}" }],
        },
        {
          title: "Value locked",
          description: "GridCredit held by the contracts: producers' bonds and channel deposits.",
          unit: "short",
          queries: [{ expr: "sum by (kind) (gridchain_value_locked_credits)", legend: "{{kind}}" }],
        },
      ],
    ],
    [
      "Governance",
      [
        {
          title: "Members and validators",
          description:
            "Member organisations with a vote, and the validators the QBFT validator contract lists (what Besu reads every block).",
          unit: "short",
          queries: [
            { expr: "max(gridchain_governance_members)", legend: "members" },
            { expr: "max(gridchain_governance_contract_validators)", legend: "validators" },
          ],
        },
        {
          title: "Proposals by state",
          description:
            "Active, queued and executable proposals are pending a vote or an execution.",
          unit: "short",
          queries: [
            { expr: "sum by (state) (gridchain_governance_proposals)", legend: "{{state}}" },
          ],
        },
        {
          title: "Votes on pending proposals",
          description: "Votes cast on proposals not yet decided or executed, for and against.",
          unit: "short",
          queries: [
            {
              expr: "sum by (support) (gridchain_governance_pending_votes)",
              legend: "{{support}}",
            },
          ],
        },
      ],
    ],
    [
      "Chain",
      [
        {
          title: "Head height",
          description: "Newest block the exporter has seen.",
          unit: "short",
          width: 8,
          queries: [{ expr: "max(gridchain_chain_head_height)", legend: "height" }],
        },
        {
          title: "Block interval",
          description: "Mean seconds between blocks over the last minute (block timestamps).",
          unit: "s",
          width: 8,
          queries: [{ expr: "gridchain:block_interval_seconds:mean1m", legend: "interval" }],
        },
        {
          title: "Chain throughput",
          description: "Transactions per second included in blocks, and pending in the pool.",
          unit: "short",
          width: 8,
          queries: [
            { expr: "gridchain:chain_transactions_per_second:rate1m", legend: "tx/s in blocks" },
            { expr: "max(gridchain_pending_transactions)", legend: "pending" },
          ],
        },
      ],
    ],
  ]).build();
}

const NODE = '{job=~"$node"}';

/**
 * **Besu network**: one line per node, from Besu's own /metrics (names checked against the pinned
 * Besu's metric list), plus validator liveness from the exporter (Besu has no QBFT metric).
 */
export function besuDashboard(): Dashboard {
  return dashboard("gridchain-besu", "Besu network", [
    [
      "Chain",
      [
        {
          title: "Height",
          description: "Chain height of each node.",
          unit: "short",
          queries: [{ expr: `ethereum_blockchain_height${NODE}`, legend: "{{job}}" }],
        },
        {
          title: "Blocks behind",
          description: "Best block known from peers minus the node's own height: 0 when in sync.",
          unit: "short",
          queries: [
            {
              expr: `ethereum_best_known_block_number${NODE} - ethereum_blockchain_height${NODE}`,
              legend: "{{job}}",
            },
          ],
        },
        {
          title: "Block time",
          description: "Seconds per block over the last minute, and age of each node's head.",
          unit: "s",
          queries: [
            { expr: `1 / rate(ethereum_blockchain_height${NODE}[1m])`, legend: "{{job}}" },
            {
              expr: `time() - besu_blockchain_chain_head_timestamp${NODE}`,
              legend: "{{job}} head age",
            },
          ],
        },
        {
          title: "Transactions and gas in the head block",
          description:
            "Transactions in each node's head block and the share of its gas limit used.",
          unit: "short",
          queries: [
            {
              expr: `besu_blockchain_chain_head_transaction_count${NODE}`,
              legend: "{{job}} transactions",
            },
            {
              expr: `besu_blockchain_chain_head_gas_used${NODE} / besu_blockchain_chain_head_gas_limit${NODE}`,
              legend: "{{job}} gas used / limit",
            },
          ],
        },
      ],
    ],
    [
      "Network and pool",
      [
        {
          title: "Peers",
          description: "Connected peers per node, against the peer limit.",
          unit: "short",
          queries: [
            { expr: `ethereum_peer_count${NODE}`, legend: "{{job}}" },
            { expr: `max(ethereum_peer_limit${NODE})`, legend: "limit" },
          ],
        },
        {
          title: "Transaction pool",
          description: "Transactions waiting in each node's pool.",
          unit: "short",
          queries: [{ expr: `besu_transaction_pool_transactions${NODE}`, legend: "{{job}}" }],
        },
      ],
    ],
    [
      "Validators",
      [
        {
          title: "Blocks proposed (last 100 blocks)",
          description:
            "Per validator, from qbft_getSignerMetrics through the exporter. Round-robin QBFT gives each validator an equal share; 0 means it is not proposing.",
          unit: "short",
          queries: [
            {
              expr: "max by (validator) (gridchain_validator_proposed_blocks)",
              legend: "{{validator}}",
            },
          ],
        },
        {
          title: "Blocks since last proposal",
          description: "Per validator; above three times the validator count raises an alert.",
          unit: "short",
          queries: [
            {
              expr: "max by (validator) (gridchain_validator_blocks_since_proposal)",
              legend: "{{validator}}",
            },
            { expr: "3 * max(gridchain_validators)", legend: "alert threshold" },
          ],
        },
      ],
    ],
    [
      "Resources",
      [
        {
          title: "CPU",
          description: "CPU seconds per second used by each node's process.",
          unit: "percentunit",
          queries: [{ expr: `rate(process_cpu_seconds_total${NODE}[1m])`, legend: "{{job}}" }],
        },
        {
          title: "Memory",
          description: "Resident memory of each node's process and its JVM heap in use.",
          unit: "bytes",
          queries: [
            { expr: `process_resident_memory_bytes${NODE}`, legend: "{{job}} resident" },
            {
              expr: `sum by (job) (jvm_memory_used_bytes{job=~"$node", area="heap"})`,
              legend: "{{job}} heap",
            },
          ],
        },
      ],
    ],
  ])
    .withVariable(
      new QueryVariableBuilder("node")
        .label("node")
        .datasource(DATASOURCE)
        .query("label_values(ethereum_blockchain_height, job)")
        .definition("label_values(ethereum_blockchain_height, job)")
        .multi(true)
        .includeAll(true)
        .allValue(".*")
        .refresh(VariableRefresh.OnTimeRangeChanged),
    )
    .build();
}

/** Dashboard JSON by file name: what the render script commits and the generator provisions. */
export function renderDashboards(): Map<string, string> {
  return new Map([
    ["gridchain-market.json", `${JSON.stringify(marketDashboard(), null, 2)}\n`],
    ["besu-network.json", `${JSON.stringify(besuDashboard(), null, 2)}\n`],
  ]);
}

/** Every PromQL expression of a dashboard JSON, with the panel title it belongs to. */
export function dashboardExpressions(dashboard: Dashboard): Array<{ panel: string; expr: string }> {
  const found: Array<{ panel: string; expr: string }> = [];
  for (const entry of dashboard.panels ?? []) {
    const p = entry as { title?: string; targets?: Array<{ expr?: string }> };
    for (const t of p.targets ?? []) {
      if (t.expr !== undefined) found.push({ panel: p.title ?? "", expr: t.expr });
    }
  }
  return found;
}
