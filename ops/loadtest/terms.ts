import type { TradeTerms } from "./protocol.js";
import { stressRuns, type RunPlan, type Scenario } from "./scenario.js";

/** The runs the test makes: the scenario's own, or the steps of its stress ramp. */
export function plannedRuns(scenario: Scenario): RunPlan[] {
  return scenario.stress === undefined ? scenario.runs : stressRuns(scenario.stress);
}

/** Trades the runs start: their counts, or their rate times their duration. */
export function plannedTradeCount(runs: RunPlan[], load: Scenario["load"]): number {
  return runs.reduce(
    (sum, run) =>
      sum +
      (run.trades ??
        Math.ceil((run.tradesPerSecond ?? load.tradesPerSecond) * run.durationSeconds!)),
    0,
  );
}

/** The fixed terms of every trade, and what each agent must hold for the whole test. */
export function tradeTerms(scenario: Scenario, runs: RunPlan[], producers: number): TradeTerms {
  const { trade, timeouts, load, payments } = scenario;
  const price = trade.pricePerKwh;
  const penalty = trade.defaultPerKwh;
  const wh = BigInt(trade.wh);
  const totalTrades = plannedTradeCount(runs, load);
  const consumers = Math.max(1, scenario.agents - producers);
  const perConsumer = BigInt(Math.ceil((totalTrades / consumers) * 2) + 5);
  const perProducer = BigInt(Math.ceil((totalTrades / producers) * 2) + 5);
  return {
    wh: wh.toString(),
    pricePerKwh: price.toString(),
    defaultPerKwh: penalty.toString(),
    paymentsPerTrade: trade.paymentsPerTrade,
    path: trade.path,
    rejectShare: trade.rejectShare,
    topology: payments.topology,
    pairingSeed: payments.pairingSeed,
    hubFeePerKwh: payments.hubFeePerKwh.toString(),
    channelDeposit: ((perConsumer * wh * price) / 1000n).toString(),
    bond: ((perProducer * wh * penalty) / 1000n).toString(),
    buyerBond: "0",
    confirmationTimeoutSeconds: timeouts.confirmationSeconds,
    tradeTimeoutSeconds: timeouts.tradeSeconds,
  };
}
