import { dump } from "js-yaml";

/** Where the load test serves /metrics (issue 6); the exporter's default is 9464. */
export const EXPORTER_PORT = 9464;
export const LOADTEST_PORT = 9465;

/** A Prometheus rule: a recording rule (`record`) or an alert (`alert`). */
type Rule =
  | { record: string; expr: string }
  | {
      alert: string;
      expr: string;
      for: string;
      labels: { severity: "warning" | "critical" };
      annotations: { summary: string; description: string };
    };

export type RuleFile = { groups: { name: string; interval?: string; rules: Rule[] }[] };

/** What the rules depend on: the consortium's block period and the lowest healthy peer count. */
export type RuleParameters = {
  blockPeriodSeconds: number;
  minPeers: number;
  /**
   * Seconds between blocks when no transaction comes: QBFT's emptyBlockPeriodSeconds (the block
   * period when unset); `null` when an idle chain makes no block at all (Clique with
   * createEmptyBlocks false), where only a head that stands still with transactions waiting stalls.
   */
  idleBlockSeconds?: number | null;
};

const p = (q: number) =>
  `histogram_quantile(${q}, sum by (le) (rate(gridchain_loadtest_confirmation_seconds_bucket[1m])))`;

/**
 * Recording rules: the numbers the dashboards and alerts share. Load-test rules stay empty until a
 * load test runs; chain rules have data as soon as the exporter is scraped.
 */
export function recordingRules(): RuleFile {
  return {
    groups: [
      {
        name: "gridchain-loadtest",
        rules: [
          {
            record: "gridchain:trade_success_ratio:rate1m",
            expr:
              'sum(rate(gridchain_loadtest_trades_total{outcome="executed"}[1m]))' +
              ' / sum(rate(gridchain_loadtest_trades_total{outcome=~"executed|failed"}[1m]))',
          },
          { record: "gridchain:confirmation_seconds:p50_1m", expr: p(0.5) },
          { record: "gridchain:confirmation_seconds:p95_1m", expr: p(0.95) },
          { record: "gridchain:confirmation_seconds:p99_1m", expr: p(0.99) },
          {
            record: "gridchain:trades_per_second:rate1m",
            expr: 'sum(rate(gridchain_loadtest_trades_total{outcome="executed"}[1m]))',
          },
        ],
      },
      {
        name: "gridchain-chain",
        rules: [
          {
            record: "gridchain:block_interval_seconds:mean1m",
            expr: "rate(gridchain_block_interval_seconds_sum[1m]) / rate(gridchain_block_interval_seconds_count[1m])",
          },
          {
            record: "gridchain:chain_transactions_per_second:rate1m",
            expr: "rate(gridchain_block_transactions_total[1m])",
          },
        ],
      },
    ],
  };
}

/** Alert rules, rendered for one network's block period. */
export function alertRules({
  blockPeriodSeconds,
  minPeers,
  idleBlockSeconds = blockPeriodSeconds,
}: RuleParameters): RuleFile {
  // A network that misses several of its block intervals in a row has lost its quorum or its
  // proposer; an idle QBFT chain with an empty-block period waits that long between blocks by design.
  const interval = idleBlockSeconds ?? blockPeriodSeconds;
  const stallSeconds = Math.max(30, 10 * blockPeriodSeconds, 3 * interval);
  const headStill = `changes(gridchain_chain_head_height[${stallSeconds}s]) == 0 or changes(ethereum_blockchain_height[${stallSeconds}s]) == 0`;
  const stallExpr =
    idleBlockSeconds === null
      ? `(${headStill}) and on() (max(besu_transaction_pool_number_of_transactions) > 0)`
      : headStill;
  return {
    groups: [
      {
        name: "gridchain-alerts",
        rules: [
          {
            alert: "GridchainChainStalled",
            expr: stallExpr,
            for: "30s",
            labels: { severity: "critical" },
            annotations: {
              summary: "No new block",
              description: `The head has not moved for ${stallSeconds} s (block period ${blockPeriodSeconds} s${idleBlockSeconds === null ? ", no empty blocks: transactions are waiting" : idleBlockSeconds !== blockPeriodSeconds ? `, ${idleBlockSeconds} s when idle` : ""}).`,
            },
          },
          {
            alert: "GridchainValidatorNotProposing",
            // Round-robin proposers: each validator proposes once per validator-count blocks.
            expr: "gridchain_validator_blocks_since_proposal > on() group_left() (3 * gridchain_validators)",
            for: "1m",
            labels: { severity: "warning" },
            annotations: {
              summary: "Validator {{ $labels.validator }} is not proposing",
              description:
                "{{ $labels.validator }} last proposed {{ $value }} blocks ago, more than three rounds of the validator set.",
            },
          },
          {
            alert: "GridchainTradeSuccessLow",
            expr: "gridchain:trade_success_ratio:rate1m < 0.999",
            for: "1m",
            labels: { severity: "critical" },
            annotations: {
              summary: "Trade success ratio below 99.9%",
              description: "executed / (executed + failed) is {{ $value | humanizePercentage }}.",
            },
          },
          {
            alert: "GridchainConfirmationSlow",
            expr: `gridchain:confirmation_seconds:p95_1m > ${2 * blockPeriodSeconds}`,
            for: "1m",
            labels: { severity: "warning" },
            annotations: {
              summary: "p95 confirmation time above two block periods",
              description: `p95 is {{ $value | humanizeDuration }}; two block periods are ${2 * blockPeriodSeconds} s.`,
            },
          },
          {
            alert: "GridchainPeersLow",
            expr: `ethereum_peer_count < ${minPeers} or gridchain_besu_peers < ${minPeers}`,
            for: "1m",
            labels: { severity: "warning" },
            annotations: {
              summary: "{{ $labels.job }} has few peers",
              description: `{{ $labels.job }} sees {{ $value }} peers; the network needs at least ${minPeers}.`,
            },
          },
        ],
      },
    ],
  };
}

type ScrapeJob = {
  job_name: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
};

export type PrometheusConfigInput = {
  scrapeInterval: string;
  /** Globs of rule files, as Prometheus resolves them (relative to the config file or absolute). */
  ruleFiles: string[];
  jobs: ScrapeJob[];
};

/** prometheus.yml text: global intervals, rule files, scrape jobs. */
export function renderPrometheusConfig(input: PrometheusConfigInput): string {
  return yaml({
    global: { scrape_interval: input.scrapeInterval, evaluation_interval: input.scrapeInterval },
    rule_files: input.ruleFiles,
    scrape_configs: input.jobs,
  });
}

/** The two gridchain jobs: the exporter and the load test, at `host`. */
export function gridchainJobs(
  host: string,
  network: string,
  ports = { exporter: EXPORTER_PORT, loadtest: LOADTEST_PORT },
): ScrapeJob[] {
  return [
    {
      job_name: "gridchain-exporter",
      static_configs: [{ targets: [`${host}:${ports.exporter}`], labels: { network } }],
    },
    {
      job_name: "gridchain-loadtest",
      static_configs: [{ targets: [`${host}:${ports.loadtest}`], labels: { network } }],
    },
  ];
}

export function yaml(value: unknown): string {
  return dump(value, { lineWidth: -1, noRefs: true });
}
