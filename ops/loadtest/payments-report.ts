import type { JournalRecord, TxKind } from "./protocol.js";
import type { PaymentsReport, TopologyCost } from "./report-model.js";

type Topology = PaymentsReport["topology"];
type TxRecord = Extract<JournalRecord, { t: "tx" }>;

/** On-chain transactions that pay: the channels' opens, approvals, deposits and exits, or transfers. */
const PAYMENT_KINDS: ReadonlySet<TxKind> = new Set([
  "channel_open",
  "channel_approve",
  "channel_deposit",
  "channel_close",
  "channel_settle",
  "transfer",
]);

/**
 * Gas of one step, measured by `npm run bench:channels` (README, "Payment channels"): used for a
 * topology the test did not run, when the test measured no transaction of that kind itself.
 */
export const BENCH_GAS: Readonly<Record<"open" | "approve" | "deposit" | "transfer", number>> = {
  open: 154_491,
  approve: 51_290,
  deposit: 104_685,
  transfer: 39_351,
};

/**
 * The payments of a test from its journal: the topology, the channels opened and the gas of every
 * on-chain payment step, the payments made and mediated per second, the hub's plan and books, and
 * what the same executed trades would have cost in each topology. Null for a journal without a
 * test record.
 */
export function paymentsReport(
  records: readonly JournalRecord[],
  runSeconds: number | null,
): PaymentsReport | null {
  const test = records.find((record) => record.t === "test");
  if (test === undefined || test.t !== "test") return null;
  const topology: Topology = test.topology ?? "direct";
  const txs = records.filter(
    (record): record is TxRecord => record.t === "tx" && PAYMENT_KINDS.has(record.kind),
  );
  const mined = txs.filter((tx) => tx.status === "success");
  const gas = (kind?: TxKind) =>
    mined
      .filter((tx) => kind === undefined || tx.kind === kind)
      .reduce((sum, tx) => sum + BigInt(tx.gasUsed ?? "0"), 0n);
  const count = (kind: TxKind) => mined.filter((tx) => tx.kind === kind).length;
  const ends = records.filter((record) => record.t === "end");
  const executed = ends.filter((end) => end.t === "end" && end.outcome === "executed");
  const payments = ends.reduce((sum, end) => sum + (end.t === "end" ? end.payments : 0), 0);
  const starts = new Map<number, string>();
  for (const record of records) if (record.t === "trade") starts.set(record.trade, record.buyer);
  const pairs = new Set<string>();
  for (const end of executed) {
    if (end.t === "end" && end.seller !== undefined)
      pairs.add(`${starts.get(end.trade)}>${end.seller}`);
  }
  const plan = records.find((record) => record.t === "payments");
  const end = records.find((record) => record.t === "hub-end");
  const mean = (kind: TxKind, fallback: number) => {
    const n = count(kind);
    return n === 0 ? fallback : Number(gas(kind) / BigInt(n));
  };
  const unit = {
    open: mean("channel_open", BENCH_GAS.open),
    approve: mean("channel_approve", BENCH_GAS.approve),
    deposit: mean("channel_deposit", BENCH_GAS.deposit),
    transfer: mean("transfer", BENCH_GAS.transfer),
  };
  const participants = test.nodes;
  const producers = test.producers;
  const consumers = test.consumers;
  const trades = executed.length;
  const estimate = (which: Topology): TopologyCost => {
    // hub: every participant's channel, the consumers' approvals and deposits, the hub's one
    // approval and a deposit toward each producer. direct: a channel per traded pair, each
    // opened, approved and funded by its consumer. onchain: a transfer per executed trade.
    if (which === "hub") {
      const transactions = participants + 2 * consumers + 1 + producers;
      const gasUsed =
        participants * unit.open +
        (consumers + 1) * unit.approve +
        (consumers + producers) * unit.deposit;
      return {
        topology: which,
        channels: participants,
        transactions,
        gas: String(gasUsed),
        measured: false,
      };
    }
    if (which === "direct") {
      const channels = pairs.size;
      const gasUsed = channels * (unit.open + unit.approve + unit.deposit);
      return {
        topology: which,
        channels,
        transactions: 3 * channels,
        gas: String(gasUsed),
        measured: false,
      };
    }
    return {
      topology: which,
      channels: 0,
      transactions: trades,
      gas: String(trades * unit.transfer),
      measured: false,
    };
  };
  const comparison = (["hub", "direct", "onchain"] as const).map((which) =>
    which === topology
      ? {
          topology: which,
          channels: count("channel_open"),
          transactions: mined.length,
          gas: gas().toString(),
          measured: true,
        }
      : estimate(which),
  );
  const hub =
    plan?.t === "payments" && plan.topology === "hub"
      ? {
          address: plan.hub ?? null,
          feePerKwh: plan.feePerKwh ?? null,
          plannedTrades: plan.plannedTrades ?? null,
          plannedLiquidity: plan.plannedLiquidity ?? null,
          deposited: plan.deposited ?? null,
          channels: plan.channels ?? null,
          mediated: end?.t === "hub-end" ? end.mediated : null,
          released: end?.t === "hub-end" ? end.released : null,
          lockedIn: end?.t === "hub-end" ? end.lockedIn : null,
          lockedOut: end?.t === "hub-end" ? end.lockedOut : null,
          earned: end?.t === "hub-end" ? end.net : null,
        }
      : null;
  return {
    topology,
    participants,
    channelsOpened: count("channel_open"),
    transactions: mined.length,
    gas: gas().toString(),
    gasByKind: Object.fromEntries(
      [...PAYMENT_KINDS]
        .filter((kind) => count(kind) > 0)
        .map((kind) => [kind, gas(kind).toString()]),
    ),
    payments,
    tradedPairs: pairs.size,
    mediatedPerSecond:
      topology !== "hub" || runSeconds === null || runSeconds <= 0 ? null : payments / runSeconds,
    hub,
    comparison,
  };
}
