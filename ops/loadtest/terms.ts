import type { TradeTerms } from "./protocol.js";
import { stressRuns, type RunPlan, type Scenario } from "./scenario.js";

/** The runs the test makes: the scenario's own, or the steps of its stress ramp. */
export function plannedRuns(scenario: Scenario): RunPlan[] {
  return scenario.stress === undefined ? scenario.runs : stressRuns(scenario.stress);
}

/** The fixed terms of every trade, and what each agent must hold for the whole test. */
export function tradeTerms(scenario: Scenario, runs: RunPlan[], producers: number): TradeTerms {
  const { trade, timeouts, load } = scenario;
  const price = trade.pricePerKwh;
  const penalty = trade.defaultPerKwh;
  const wh = BigInt(trade.wh);
  const totalTrades = runs.reduce(
    (sum, run) =>
      sum +
      (run.trades ??
        Math.ceil((run.tradesPerSecond ?? load.tradesPerSecond) * run.durationSeconds!)),
    0,
  );
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
    channelDeposit: ((perConsumer * wh * price) / 1000n).toString(),
    bond: ((perProducer * wh * penalty) / 1000n).toString(),
    confirmationTimeoutSeconds: timeouts.confirmationSeconds,
    tradeTimeoutSeconds: timeouts.tradeSeconds,
  };
}
